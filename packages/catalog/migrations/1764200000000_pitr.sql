-- Up Migration

-- Point-in-time recovery of PostgreSQL sources: physical base backups are backups of type
-- "base" holding one object of kind "base" (the cluster as a tar stream).
ALTER TABLE backups DROP CONSTRAINT backups_type_check;
ALTER TABLE backups ADD CONSTRAINT backups_type_check CHECK (type IN ('full', 'database', 'table', 'incremental', 'base'));
ALTER TABLE backup_objects DROP CONSTRAINT backup_objects_kind_check;
ALTER TABLE backup_objects ADD CONSTRAINT backup_objects_kind_check CHECK (kind IN ('data', 'schema-pre', 'schema-post', 'ddl', 'base'));
ALTER TABLE schedules DROP CONSTRAINT schedules_type_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_type_check CHECK (type IN ('full', 'database', 'table', 'incremental', 'base'));

-- Every stored WAL segment of a source, complete or the one being written (partial: its
-- object is replaced by longer versions of itself until the segment is complete). Each
-- object also has a JSON sidecar in storage, so the storage alone describes the archive.
CREATE TABLE wal_segments (
  source        text NOT NULL,
  timeline      integer NOT NULL,
  seg_no        bigint NOT NULL,
  name          text NOT NULL,
  key           text NOT NULL,
  partial       boolean NOT NULL,
  -- LSN (as a decimal number) just past the last stored byte
  end_lsn       numeric(20) NOT NULL,
  raw_bytes     bigint NOT NULL,
  bytes         bigint NOT NULL,
  sha256        text NOT NULL,
  -- of the WAL bytes themselves: a segment stored again must hold the same WAL
  raw_sha256    text NOT NULL,
  compression   jsonb NOT NULL,
  encryption    jsonb,
  -- every transaction committed before this time is in this segment or an earlier one
  covered_at    timestamptz,
  stored_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, timeline, seg_no)
);

-- Timeline history files (a promoted server starts a new timeline).
CREATE TABLE wal_histories (
  source     text NOT NULL,
  timeline   integer NOT NULL,
  key        text NOT NULL,
  content    text NOT NULL,
  stored_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, timeline)
);

-- The state of each source's WAL streamer, written by whichever worker holds it.
CREATE TABLE wal_streams (
  source        text PRIMARY KEY,
  state         text NOT NULL CHECK (state IN ('starting', 'streaming', 'error', 'stopped')),
  holder        text,
  slot          text NOT NULL,
  timeline      integer,
  stored_lsn    numeric(20),
  covered_lsn   numeric(20),
  covered_at    timestamptz,
  last_error    text,
  started_at    timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Loud, recorded events of the archive: gaps (WAL that was never stored), a recreated
-- slot, a timeline switch.
CREATE TABLE wal_events (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('gap', 'slot-created', 'timeline')),
  timeline    integer,
  from_lsn    numeric(20),
  to_lsn      numeric(20),
  message     text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wal_events_source ON wal_events (source, at);

-- Down Migration
DROP TABLE wal_events;
DROP TABLE wal_streams;
DROP TABLE wal_histories;
DROP TABLE wal_segments;
ALTER TABLE schedules DROP CONSTRAINT schedules_type_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_type_check CHECK (type IN ('full', 'database', 'table', 'incremental'));
ALTER TABLE backup_objects DROP CONSTRAINT backup_objects_kind_check;
ALTER TABLE backup_objects ADD CONSTRAINT backup_objects_kind_check CHECK (kind IN ('data', 'schema-pre', 'schema-post', 'ddl'));
ALTER TABLE backups DROP CONSTRAINT backups_type_check;
ALTER TABLE backups ADD CONSTRAINT backups_type_check CHECK (type IN ('full', 'database', 'table', 'incremental'));

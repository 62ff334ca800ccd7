-- Up Migration

-- One row per backup. Objects are listed in backup_objects; the manifest in storage is the
-- durable description, this table is the index the API reads (and can be rebuilt from it).
CREATE TABLE backups (
  id              text PRIMARY KEY,
  source          text NOT NULL,
  source_kind     text NOT NULL CHECK (source_kind IN ('postgres', 'tdengine')),
  type            text NOT NULL CHECK (type IN ('full', 'database', 'table', 'incremental')),
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  scope           jsonb NOT NULL DEFAULT '{}',
  compression     jsonb NOT NULL,
  encryption      jsonb,
  storage_prefix  text NOT NULL,
  manifest_key    text,
  snapshots       jsonb,
  as_of           timestamptz,
  server_version  text,
  base_backup_id  text,
  parent_backup_id text,
  requested_by    text,
  schedule_id     text,
  pinned          boolean NOT NULL DEFAULT false,
  rows            bigint NOT NULL DEFAULT 0,
  bytes           bigint NOT NULL DEFAULT 0,
  raw_bytes       bigint NOT NULL DEFAULT 0,
  error           text,
  metadata        jsonb NOT NULL DEFAULT '{}',
  verification    jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  deleting_at     timestamptz
);
CREATE INDEX backups_source_created ON backups (source, id DESC);
CREATE INDEX backups_status ON backups (status);

CREATE TABLE backup_objects (
  backup_id     text NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
  key           text NOT NULL,
  seq           integer NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('data', 'schema-pre', 'schema-post', 'ddl')),
  database      text NOT NULL,
  schema_name   text,
  table_name    text,
  display_name  text,
  columns       jsonb,
  chunk         jsonb,
  format        text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  rows          bigint,
  raw_bytes     bigint,
  bytes         bigint,
  sha256        text,
  compression   jsonb NOT NULL,
  encrypted     boolean NOT NULL DEFAULT false,
  attempts      integer NOT NULL DEFAULT 0,
  error         text,
  started_at    timestamptz,
  finished_at   timestamptz,
  PRIMARY KEY (backup_id, key)
);

CREATE TABLE restores (
  id               text PRIMARY KEY,
  backup_id        text NOT NULL,
  source           text NOT NULL,
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  dry_run          boolean NOT NULL DEFAULT false,
  mode             text NOT NULL CHECK (mode IN ('fail-if-exists', 'replace')),
  target_database  text,
  request          jsonb NOT NULL,
  plan             jsonb,
  replaced         jsonb,
  requested_by     text,
  rows             bigint NOT NULL DEFAULT 0,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX restores_backup ON restores (backup_id);

CREATE TABLE restore_tables (
  restore_id     text NOT NULL REFERENCES restores (id) ON DELETE CASCADE,
  object_key     text NOT NULL,
  seq            integer NOT NULL,
  name           text NOT NULL,
  database       text NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
  expected_rows  bigint NOT NULL,
  rows           bigint,
  error          text,
  started_at     timestamptz,
  finished_at    timestamptz,
  PRIMARY KEY (restore_id, object_key)
);

CREATE TABLE audit_log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  target   text,
  address  text,
  outcome  text NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE restore_tables;
DROP TABLE restores;
DROP TABLE backup_objects;
DROP TABLE backups;

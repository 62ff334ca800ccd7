-- Up Migration

-- A TDengine object holds a batch of tables (child tables of one super table); the rows of
-- each are recorded here, so restores and verification can check table by table.
ALTER TABLE backup_objects ADD COLUMN members jsonb;

-- Each attempt of an export writes its own key, and the attempt that records success names
-- it here: a stale attempt (its lock lost while it still ran) can then never overwrite the
-- object a later attempt recorded.
ALTER TABLE backup_objects ADD COLUMN stored_key text;

-- Incremental chains and point-in-time restores look up a source's good backups by cut.
CREATE INDEX backups_source_as_of ON backups (source, as_of) WHERE status = 'succeeded';

-- Down Migration
DROP INDEX backups_source_as_of;
ALTER TABLE backup_objects DROP COLUMN stored_key;
ALTER TABLE backup_objects DROP COLUMN members;

-- Up Migration

-- Verification and restore drills run on schedules too; they name a source but no type.
ALTER TABLE schedules DROP CONSTRAINT schedules_kind_check;
ALTER TABLE schedules DROP CONSTRAINT schedules_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_kind_check CHECK (kind IN ('backup', 'cleanup', 'verify', 'drill'));
ALTER TABLE schedules ADD CONSTRAINT schedules_source_check CHECK (kind = 'cleanup' OR source IS NOT NULL);
ALTER TABLE schedules ADD CONSTRAINT schedules_backup_type_check CHECK (kind <> 'backup' OR type IS NOT NULL);

-- Down Migration
ALTER TABLE schedules DROP CONSTRAINT schedules_backup_type_check;
ALTER TABLE schedules DROP CONSTRAINT schedules_source_check;
ALTER TABLE schedules DROP CONSTRAINT schedules_kind_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_kind_check CHECK (kind IN ('backup', 'cleanup'));
ALTER TABLE schedules ADD CONSTRAINT schedules_check CHECK (kind = 'cleanup' OR (source IS NOT NULL AND type IS NOT NULL));

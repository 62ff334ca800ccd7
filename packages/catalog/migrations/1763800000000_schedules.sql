-- Up Migration

-- Schedules are the source of truth; the BullMQ job schedulers in Redis are derived from
-- them (re-synchronised at API start-up and after every change).
CREATE TABLE schedules (
  id            text PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  -- 'backup' runs a backup of source/type/scope; 'cleanup' applies retention everywhere.
  kind          text NOT NULL CHECK (kind IN ('backup', 'cleanup')),
  source        text,
  type          text CHECK (type IN ('full', 'database', 'table', 'incremental')),
  scope         jsonb NOT NULL DEFAULT '{}',
  cron          text NOT NULL,
  timezone      text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  retention     jsonb NOT NULL DEFAULT '{}',
  compression   jsonb,
  encrypt       boolean,
  -- Webhook targets: [{ url, secret? }]. Secrets are never returned by the API.
  notify        jsonb NOT NULL DEFAULT '[]',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  last_run_at   timestamptz,
  last_run_id   text,
  -- The scheduled fire time a missed-run notification was last sent for (sent once per miss).
  missed_notified_for timestamptz,
  CHECK (kind = 'cleanup' OR (source IS NOT NULL AND type IS NOT NULL))
);

CREATE INDEX backups_schedule ON backups (schedule_id, id DESC);

-- A scheduled run creates at most one backup, however often its job is retried.
ALTER TABLE backups ADD COLUMN run_key text UNIQUE;

-- Down Migration
ALTER TABLE backups DROP COLUMN run_key;
DROP INDEX backups_schedule;
DROP TABLE schedules;

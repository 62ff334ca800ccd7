import type { BackupType } from './backups.ts';
import type { Db } from './db.ts';

export interface RetentionPolicy {
  keepLast?: number;
  maxAgeDays?: number;
  maxCount?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

export interface WebhookTarget {
  url: string;
  secret?: string;
}

export interface ScheduleRecord {
  id: string;
  name: string;
  kind: 'backup' | 'cleanup' | 'verify' | 'drill';
  source: string | null;
  type: BackupType | null;
  scope: { databases?: string[]; tables?: string[] };
  cron: string;
  timezone: string;
  enabled: boolean;
  retention: RetentionPolicy;
  compression: { codec: 'zstd' | 'gzip' | 'none'; level?: number } | null;
  encrypt: boolean | null;
  notify: WebhookTarget[];
  createdAt: Date;
  updatedAt: Date;
  lastRunAt: Date | null;
  lastRunId: string | null;
  missedNotifiedFor: Date | null;
}

type Row = Record<string, unknown>;

function toSchedule(r: Row): ScheduleRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    kind: r.kind as ScheduleRecord['kind'],
    source: (r.source as string | null) ?? null,
    type: (r.type as BackupType | null) ?? null,
    scope: r.scope as ScheduleRecord['scope'],
    cron: r.cron as string,
    timezone: r.timezone as string,
    enabled: r.enabled as boolean,
    retention: r.retention as RetentionPolicy,
    compression: (r.compression as ScheduleRecord['compression']) ?? null,
    encrypt: (r.encrypt as boolean | null) ?? null,
    notify: r.notify as WebhookTarget[],
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    lastRunAt: (r.last_run_at as Date | null) ?? null,
    lastRunId: (r.last_run_id as string | null) ?? null,
    missedNotifiedFor: (r.missed_notified_for as Date | null) ?? null,
  };
}

export type ScheduleFields = Pick<
  ScheduleRecord,
  'name' | 'kind' | 'source' | 'type' | 'scope' | 'cron' | 'timezone' | 'enabled' | 'retention' | 'compression' | 'encrypt' | 'notify'
>;

const COLUMNS = [
  'name',
  'kind',
  'source',
  'type',
  'scope',
  'cron',
  'timezone',
  'enabled',
  'retention',
  'compression',
  'encrypt',
  'notify',
] as const;
const JSON_COLUMNS = new Set(['scope', 'retention', 'compression', 'notify']);

function values(f: ScheduleFields): unknown[] {
  return COLUMNS.map((c) => {
    const v = f[c];
    return JSON_COLUMNS.has(c) && v !== null ? JSON.stringify(v) : v;
  });
}

export async function insertSchedule(db: Db, id: string, f: ScheduleFields): Promise<ScheduleRecord> {
  const { rows } = await db.query(
    `INSERT INTO schedules (id, ${COLUMNS.join(', ')}) VALUES ($1, ${COLUMNS.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING *`,
    [id, ...values(f)],
  );
  return toSchedule(rows[0] as Row);
}

export async function updateSchedule(db: Db, id: string, f: ScheduleFields): Promise<ScheduleRecord | undefined> {
  const { rows } = await db.query(
    `UPDATE schedules SET ${COLUMNS.map((c, i) => `${c} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1 RETURNING *`,
    [id, ...values(f)],
  );
  return rows[0] ? toSchedule(rows[0] as Row) : undefined;
}

export async function getSchedule(db: Db, id: string): Promise<ScheduleRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM schedules WHERE id = $1', [id]);
  return rows[0] ? toSchedule(rows[0] as Row) : undefined;
}

export async function getScheduleByName(db: Db, name: string): Promise<ScheduleRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM schedules WHERE name = $1', [name]);
  return rows[0] ? toSchedule(rows[0] as Row) : undefined;
}

export async function listSchedules(db: Db): Promise<ScheduleRecord[]> {
  const { rows } = await db.query('SELECT * FROM schedules ORDER BY name');
  return rows.map((r) => toSchedule(r as Row));
}

export async function deleteSchedule(db: Db, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM schedules WHERE id = $1', [id]);
  return r.rowCount === 1;
}

export async function recordScheduleRun(db: Db, id: string, runId: string, at: Date): Promise<void> {
  await db.query('UPDATE schedules SET last_run_at = $2, last_run_id = $3 WHERE id = $1', [id, at, runId]);
}

/** Records that a miss was notified; false if it already was (another process got there first). */
export async function claimMissedNotification(db: Db, id: string, fireTime: Date): Promise<boolean> {
  const r = await db.query(
    `UPDATE schedules SET missed_notified_for = $2 WHERE id = $1 AND (missed_notified_for IS NULL OR missed_notified_for < $2)`,
    [id, fireTime],
  );
  return r.rowCount === 1;
}

import type { Db } from './db.ts';

export type RestoreStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type RestoreTableStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type RestoreMode = 'fail-if-exists' | 'replace';

export interface RestoreRecord {
  id: string;
  backupId: string;
  source: string;
  status: RestoreStatus;
  dryRun: boolean;
  mode: RestoreMode;
  targetDatabase: string | null;
  request: Record<string, unknown>;
  plan: Record<string, unknown> | null;
  replaced: Record<string, unknown> | null;
  requestedBy: string | null;
  rows: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface RestoreTableRecord {
  restoreId: string;
  objectKey: string;
  seq: number;
  name: string;
  database: string;
  status: RestoreTableStatus;
  expectedRows: number;
  rows: number | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

type Row = Record<string, unknown>;

function toRestore(r: Row): RestoreRecord {
  return {
    id: r.id as string,
    backupId: r.backup_id as string,
    source: r.source as string,
    status: r.status as RestoreStatus,
    dryRun: r.dry_run as boolean,
    mode: r.mode as RestoreMode,
    targetDatabase: (r.target_database as string | null) ?? null,
    request: r.request as Record<string, unknown>,
    plan: (r.plan as Record<string, unknown> | null) ?? null,
    replaced: (r.replaced as Record<string, unknown> | null) ?? null,
    requestedBy: (r.requested_by as string | null) ?? null,
    rows: r.rows as number,
    error: (r.error as string | null) ?? null,
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

function toTable(r: Row): RestoreTableRecord {
  return {
    restoreId: r.restore_id as string,
    objectKey: r.object_key as string,
    seq: r.seq as number,
    name: r.name as string,
    database: r.database as string,
    status: r.status as RestoreTableStatus,
    expectedRows: r.expected_rows as number,
    rows: (r.rows as number | null) ?? null,
    error: (r.error as string | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

export type NewRestore = Pick<
  RestoreRecord,
  'id' | 'backupId' | 'source' | 'dryRun' | 'mode' | 'targetDatabase' | 'request' | 'requestedBy'
>;

export async function insertRestore(db: Db, r: NewRestore): Promise<RestoreRecord> {
  const { rows } = await db.query(
    `INSERT INTO restores (id, backup_id, source, status, dry_run, mode, target_database, request, requested_by)
     VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8) RETURNING *`,
    [r.id, r.backupId, r.source, r.dryRun, r.mode, r.targetDatabase, JSON.stringify(r.request), r.requestedBy],
  );
  return toRestore(rows[0] as Row);
}

export async function getRestore(db: Db, id: string): Promise<RestoreRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM restores WHERE id = $1', [id]);
  return rows[0] ? toRestore(rows[0] as Row) : undefined;
}

export async function listRestores(
  db: Db,
  f: { backupId?: string; status?: RestoreStatus; limit: number; cursor?: string },
): Promise<{ items: RestoreRecord[]; nextCursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.backupId) where.push(`backup_id = $${args.push(f.backupId)}`);
  if (f.status) where.push(`status = $${args.push(f.status)}`);
  if (f.cursor) where.push(`id < $${args.push(f.cursor)}`);
  const { rows } = await db.query(
    `SELECT * FROM restores ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.push(f.limit + 1)}`,
    args,
  );
  const items = rows.slice(0, f.limit).map((r) => toRestore(r as Row));
  return { items, nextCursor: rows.length > f.limit ? (items[items.length - 1]?.id ?? null) : null };
}

export async function markRestoreRunning(db: Db, id: string): Promise<boolean> {
  const r = await db.query(`UPDATE restores SET status = 'running', started_at = now() WHERE id = $1 AND status = 'queued'`, [id]);
  return r.rowCount === 1;
}

export async function recordRestorePlan(
  db: Db,
  id: string,
  plan: Record<string, unknown>,
  replaced: Record<string, unknown> | null,
): Promise<void> {
  await db.query('UPDATE restores SET plan = $2, replaced = $3 WHERE id = $1', [
    id,
    JSON.stringify(plan),
    replaced ? JSON.stringify(replaced) : null,
  ]);
}

export async function markRestoreSucceeded(db: Db, id: string, rows: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE restores SET status = 'succeeded', finished_at = now(), rows = $2, error = NULL WHERE id = $1 AND status = 'running'`,
    [id, rows],
  );
  return r.rowCount === 1;
}

export async function markRestoreEnded(db: Db, id: string, status: 'failed' | 'cancelled', error: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE restores SET status = $2, finished_at = now(), error = $3,
            rows = (SELECT coalesce(sum(rows), 0) FROM restore_tables WHERE restore_id = $1 AND status = 'succeeded')
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, status, error],
  );
  return r.rowCount === 1;
}

export type NewRestoreTable = Pick<RestoreTableRecord, 'objectKey' | 'seq' | 'name' | 'database' | 'expectedRows'>;

export async function insertRestoreTables(db: Db, restoreId: string, tables: readonly NewRestoreTable[]): Promise<void> {
  if (tables.length === 0) return;
  await db.query(
    `INSERT INTO restore_tables (restore_id, object_key, seq, name, database, status, expected_rows)
     SELECT $1, t->>'objectKey', (t->>'seq')::int, t->>'name', t->>'database', 'pending', (t->>'expectedRows')::bigint
     FROM jsonb_array_elements($2::jsonb) AS t
     ON CONFLICT (restore_id, object_key) DO NOTHING`,
    [restoreId, JSON.stringify(tables)],
  );
}

export async function setRestoreTableStatus(
  db: Db,
  restoreId: string,
  objectKey: string,
  status: RestoreTableStatus,
  v: { rows?: number; error?: string } = {},
): Promise<void> {
  await db.query(
    `UPDATE restore_tables SET status = $3, rows = coalesce($4, rows), error = $5,
            started_at = CASE WHEN $3 = 'running' THEN now() ELSE started_at END,
            finished_at = CASE WHEN $3 IN ('succeeded', 'failed', 'skipped') THEN now() ELSE finished_at END
     WHERE restore_id = $1 AND object_key = $2`,
    [restoreId, objectKey, status, v.rows ?? null, v.error ?? null],
  );
}

export async function listRestoreTables(db: Db, restoreId: string): Promise<RestoreTableRecord[]> {
  const { rows } = await db.query('SELECT * FROM restore_tables WHERE restore_id = $1 ORDER BY seq', [restoreId]);
  return rows.map((r) => toTable(r as Row));
}

/**
 * Records a drill's outcome in the restore's plan; a failed check turns the (already
 * succeeded) restore into a failed one, with the differences as its error.
 */
export async function recordDrillResult(db: Db, id: string, drill: Record<string, unknown>, error: string | null): Promise<void> {
  await db.query(
    `UPDATE restores SET plan = coalesce(plan, '{}'::jsonb) || jsonb_build_object('drill', $2::jsonb),
            status = CASE WHEN $3::text IS NULL THEN status ELSE 'failed' END, error = coalesce($3, error)
     WHERE id = $1`,
    [id, JSON.stringify(drill), error],
  );
}

/** Marks a finalize step done (e.g. `post-data:<db>`), so a retried finalize skips it. */
export async function markRestoreStep(db: Db, id: string, step: string): Promise<void> {
  await db.query(
    `UPDATE restores SET plan = jsonb_set(coalesce(plan, '{}'::jsonb), '{done}', coalesce(plan->'done', '[]'::jsonb) || to_jsonb($2::text)) WHERE id = $1`,
    [id, step],
  );
}

/**
 * Points a restore at the backup it loads from. A restore to a moment starts from a base
 * backup and then loads the backup it read out of the recovered cluster (the base backup
 * stays in its plan).
 */
export async function setRestoreBackup(db: Db, id: string, backupId: string): Promise<void> {
  await db.query('UPDATE restores SET backup_id = $2 WHERE id = $1', [id, backupId]);
}

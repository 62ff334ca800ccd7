import type { Db, Page } from './db.ts';

export type BackupStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type { BackupType } from '@bk/core';
import type { BackupType } from '@bk/core';
export type ObjectStatus = 'pending' | 'running' | 'succeeded' | 'failed';
export const TERMINAL_BACKUP_STATUSES: readonly BackupStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface BackupRecord {
  id: string;
  source: string;
  sourceKind: 'postgres' | 'tdengine';
  type: BackupType;
  status: BackupStatus;
  scope: { databases?: string[]; tables?: string[] };
  compression: { codec: 'zstd' | 'gzip' | 'none'; level: number; memberBytes?: number };
  encryption: { keyId: string; wrappedDataKey: string } | null;
  storagePrefix: string;
  manifestKey: string | null;
  snapshots: Record<string, string> | null;
  asOf: Date | null;
  serverVersion: string | null;
  baseBackupId: string | null;
  parentBackupId: string | null;
  requestedBy: string | null;
  scheduleId: string | null;
  pinned: boolean;
  rows: number;
  bytes: number;
  rawBytes: number;
  error: string | null;
  metadata: Record<string, unknown>;
  verification: Record<string, unknown> | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Set when a deletion started; cleanup finishes what it finds so marked. */
  deletingAt: Date | null;
}

export interface BackupObjectRecord {
  backupId: string;
  key: string;
  seq: number;
  kind: 'data' | 'schema-pre' | 'schema-post' | 'ddl' | 'base';
  database: string;
  schemaName: string | null;
  tableName: string | null;
  displayName: string | null;
  columns: string[] | null;
  chunk: { index: number; count: number; fromBlock: number; toBlock: number | null } | null;
  format: string;
  status: ObjectStatus;
  rows: number | null;
  rawBytes: number | null;
  bytes: number | null;
  sha256: string | null;
  compression: { codec: 'zstd' | 'gzip' | 'none'; level: number; memberBytes?: number };
  encrypted: boolean;
  attempts: number;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Tables inside a multi-table object (TDengine), with their rows. */
  members: { table: string; rows: number; newRows?: number }[] | null;
  /** Where the succeeded attempt stored the object, when not at `key` (a retry's own key). */
  storedKey: string | null;
}

type Row = Record<string, unknown>;

function toBackup(r: Row): BackupRecord {
  return {
    id: r.id as string,
    source: r.source as string,
    sourceKind: r.source_kind as BackupRecord['sourceKind'],
    type: r.type as BackupType,
    status: r.status as BackupStatus,
    scope: r.scope as BackupRecord['scope'],
    compression: r.compression as BackupRecord['compression'],
    encryption: (r.encryption as BackupRecord['encryption']) ?? null,
    storagePrefix: r.storage_prefix as string,
    manifestKey: (r.manifest_key as string | null) ?? null,
    snapshots: (r.snapshots as Record<string, string> | null) ?? null,
    asOf: (r.as_of as Date | null) ?? null,
    serverVersion: (r.server_version as string | null) ?? null,
    baseBackupId: (r.base_backup_id as string | null) ?? null,
    parentBackupId: (r.parent_backup_id as string | null) ?? null,
    requestedBy: (r.requested_by as string | null) ?? null,
    scheduleId: (r.schedule_id as string | null) ?? null,
    pinned: r.pinned as boolean,
    rows: r.rows as number,
    bytes: r.bytes as number,
    rawBytes: r.raw_bytes as number,
    error: (r.error as string | null) ?? null,
    metadata: r.metadata as Record<string, unknown>,
    verification: (r.verification as Record<string, unknown> | null) ?? null,
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    deletingAt: (r.deleting_at as Date | null) ?? null,
  };
}

function toObject(r: Row): BackupObjectRecord {
  return {
    backupId: r.backup_id as string,
    key: r.key as string,
    seq: r.seq as number,
    kind: r.kind as BackupObjectRecord['kind'],
    database: r.database as string,
    schemaName: (r.schema_name as string | null) ?? null,
    tableName: (r.table_name as string | null) ?? null,
    displayName: (r.display_name as string | null) ?? null,
    columns: (r.columns as string[] | null) ?? null,
    chunk: (r.chunk as BackupObjectRecord['chunk']) ?? null,
    format: r.format as string,
    status: r.status as ObjectStatus,
    rows: (r.rows as number | null) ?? null,
    rawBytes: (r.raw_bytes as number | null) ?? null,
    bytes: (r.bytes as number | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    compression: r.compression as BackupObjectRecord['compression'],
    encrypted: r.encrypted as boolean,
    attempts: r.attempts as number,
    error: (r.error as string | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    members: (r.members as BackupObjectRecord['members']) ?? null,
    storedKey: (r.stored_key as string | null) ?? null,
  };
}

export type NewBackup = Pick<
  BackupRecord,
  'id' | 'source' | 'sourceKind' | 'type' | 'scope' | 'compression' | 'encryption' | 'storagePrefix' | 'requestedBy' | 'scheduleId'
> &
  Partial<Pick<BackupRecord, 'baseBackupId' | 'parentBackupId' | 'asOf'>> & {
    /** Idempotency key of a scheduled run: a second insert with it returns the first backup. */
    runKey?: string;
  };

export async function insertBackup(db: Db, b: NewBackup): Promise<BackupRecord> {
  if (b.runKey) {
    const { rows } = await db.query('SELECT * FROM backups WHERE run_key = $1', [b.runKey]);
    if (rows[0]) return toBackup(rows[0] as Row);
  }
  const { rows } = await db.query(
    `INSERT INTO backups (id, source, source_kind, type, status, scope, compression, encryption, storage_prefix,
                          requested_by, schedule_id, base_backup_id, parent_backup_id, run_key, as_of)
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *`,
    [
      b.id,
      b.source,
      b.sourceKind,
      b.type,
      JSON.stringify(b.scope),
      JSON.stringify(b.compression),
      b.encryption ? JSON.stringify(b.encryption) : null,
      b.storagePrefix,
      b.requestedBy,
      b.scheduleId,
      b.baseBackupId ?? null,
      b.parentBackupId ?? null,
      b.runKey ?? null,
      b.asOf ?? null,
    ],
  );
  return toBackup(rows[0] as Row);
}

export async function getBackup(db: Db, id: string): Promise<BackupRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM backups WHERE id = $1', [id]);
  return rows[0] ? toBackup(rows[0] as Row) : undefined;
}

export interface BackupFilter {
  source?: string;
  type?: BackupType;
  status?: BackupStatus;
  limit: number;
  /** Opaque cursor: the last id of the previous page (ids sort by creation time). */
  cursor?: string;
}

export async function listBackups(db: Db, f: BackupFilter): Promise<Page<BackupRecord>> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.source) add('source = ?', f.source);
  if (f.type) add('type = ?', f.type);
  if (f.status) add('status = ?', f.status);
  if (f.cursor) add('id < ?', f.cursor);
  args.push(f.limit + 1);
  const { rows } = await db.query(
    `SELECT * FROM backups ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`,
    args,
  );
  const items = rows.slice(0, f.limit).map((r) => toBackup(r as Row));
  return { items, nextCursor: rows.length > f.limit ? (items[items.length - 1]?.id ?? null) : null };
}

/** queued -> running; false if the backup is no longer queued (cancelled, or a rerun). */
export async function markBackupRunning(db: Db, id: string): Promise<boolean> {
  const r = await db.query(`UPDATE backups SET status = 'running', started_at = now() WHERE id = $1 AND status = 'queued'`, [id]);
  return r.rowCount === 1;
}

export async function recordBackupSnapshot(
  db: Db,
  id: string,
  v: { snapshots?: Record<string, string>; asOf?: Date; serverVersion: string; metadata: Record<string, unknown> },
): Promise<void> {
  await db.query(`UPDATE backups SET snapshots = $2, as_of = $3, server_version = $4, metadata = metadata || $5::jsonb WHERE id = $1`, [
    id,
    v.snapshots ? JSON.stringify(v.snapshots) : null,
    v.asOf ?? null,
    v.serverVersion,
    JSON.stringify(v.metadata),
  ]);
}

/** Marks success only from `running`: a backup cancelled meanwhile stays cancelled. */
export async function markBackupSucceeded(
  db: Db,
  id: string,
  v: { manifestKey: string; rows: number; bytes: number; rawBytes: number },
): Promise<boolean> {
  const r = await db.query(
    `UPDATE backups SET status = 'succeeded', finished_at = now(), manifest_key = $2, rows = $3, bytes = $4, raw_bytes = $5, error = NULL
     WHERE id = $1 AND status = 'running'`,
    [id, v.manifestKey, v.rows, v.bytes, v.rawBytes],
  );
  return r.rowCount === 1;
}

/** Moves a backup that is not yet final to `failed` or `cancelled`; the first reason wins. */
export async function markBackupEnded(db: Db, id: string, status: 'failed' | 'cancelled', error: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE backups SET status = $2, finished_at = now(), error = $3 WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, status, error],
  );
  return r.rowCount === 1;
}

export type NewBackupObject = Pick<
  BackupObjectRecord,
  | 'key'
  | 'seq'
  | 'kind'
  | 'database'
  | 'schemaName'
  | 'tableName'
  | 'displayName'
  | 'columns'
  | 'chunk'
  | 'format'
  | 'compression'
  | 'encrypted'
>;

/** Registers planned objects; idempotent (a re-planned object keeps its row). */
export async function insertBackupObjects(db: Db, backupId: string, objects: readonly NewBackupObject[]): Promise<void> {
  if (objects.length === 0) return;
  await db.query(
    `INSERT INTO backup_objects (backup_id, key, seq, kind, database, schema_name, table_name, display_name, columns, chunk,
                                 format, status, compression, encrypted)
     SELECT $1, o->>'key', (o->>'seq')::int, o->>'kind', o->>'database', o->>'schemaName', o->>'tableName', o->>'displayName',
            o->'columns', o->'chunk', o->>'format', 'pending', o->'compression', (o->>'encrypted')::boolean
     FROM jsonb_array_elements($2::jsonb) AS o
     ON CONFLICT (backup_id, key) DO NOTHING`,
    [backupId, JSON.stringify(objects)],
  );
}

export async function markObjectRunning(db: Db, backupId: string, key: string): Promise<void> {
  await db.query(
    `UPDATE backup_objects SET status = 'running', attempts = attempts + 1, started_at = now(), error = NULL
     WHERE backup_id = $1 AND key = $2`,
    [backupId, key],
  );
}

/** Records an object stored; only while its backup runs (a stale attempt after the end changes nothing). */
export async function markObjectSucceeded(
  db: Db,
  backupId: string,
  key: string,
  s: {
    rows: number;
    rawBytes: number;
    bytes: number;
    sha256: string;
    members?: { table: string; rows: number; newRows?: number }[];
    storedKey?: string;
    /** As the object was written (gzip by libdeflate adds memberBytes); the planned one stays otherwise. */
    compression?: { codec: 'zstd' | 'gzip' | 'none'; level: number; memberBytes?: number };
  },
): Promise<void> {
  await db.query(
    `UPDATE backup_objects SET status = 'succeeded', rows = $3, raw_bytes = $4, bytes = $5, sha256 = $6, members = $7,
            stored_key = $8, compression = COALESCE($9::jsonb, compression), finished_at = now(), error = NULL
     WHERE backup_id = $1 AND key = $2 AND EXISTS (SELECT 1 FROM backups WHERE id = $1 AND status = 'running')`,
    [
      backupId,
      key,
      s.rows,
      s.rawBytes,
      s.bytes,
      s.sha256,
      s.members ? JSON.stringify(s.members) : null,
      s.storedKey && s.storedKey !== key ? s.storedKey : null,
      s.compression ? JSON.stringify(s.compression) : null,
    ],
  );
}

export async function markObjectFailed(db: Db, backupId: string, key: string, error: string): Promise<void> {
  await db.query(`UPDATE backup_objects SET status = 'failed', error = $3, finished_at = now() WHERE backup_id = $1 AND key = $2`, [
    backupId,
    key,
    error,
  ]);
}

export async function listBackupObjects(db: Db, backupId: string): Promise<BackupObjectRecord[]> {
  const { rows } = await db.query('SELECT * FROM backup_objects WHERE backup_id = $1 ORDER BY seq', [backupId]);
  return rows.map((r) => toObject(r as Row));
}

export async function deleteBackupRecord(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM backups WHERE id = $1', [id]);
}

/**
 * Marks a backup as being deleted, unless something reads it: a queued or running restore
 * of it (directly, as a member of its chain, or as the base backup of a point in time) or a
 * running verification. The check and the mark are one statement, so a deletion never
 * starts under a reader that was already recorded; restores in turn refuse a backup marked
 * deleting. A deletion already under way (marked earlier) goes on. Returns whether it is
 * marked now.
 */
export async function markBackupDeleting(db: Db, id: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE backups b SET deleting_at = coalesce(deleting_at, now())
      WHERE id = $1 AND status NOT IN ('queued', 'running')
        AND (deleting_at IS NOT NULL OR (
          coalesce(verification->>'status', '') <> 'running'
          AND NOT EXISTS (
            SELECT 1 FROM restores r
             WHERE r.status IN ('queued', 'running')
               AND (r.backup_id = b.id OR coalesce(r.request->'chain', '[]'::jsonb) ? b.id
                    OR r.request->'pointInTime'->>'baseBackupId' = b.id))))`,
    [id],
  );
  return r.rowCount === 1;
}

/** Every backup of a source (or of all sources), for retention. */
export async function listBackupsForRetention(db: Db, source?: string): Promise<BackupRecord[]> {
  const { rows } = await db.query(
    `SELECT * FROM backups ${source ? 'WHERE source = $1' : ''} ORDER BY source, id DESC`,
    source ? [source] : [],
  );
  return rows.map((r) => toBackup(r as Row));
}

/** The succeeded backups of a source that have a cut (TDengine), oldest cut first. */
export async function listBackupsWithCut(db: Db, source: string): Promise<BackupRecord[]> {
  const { rows } = await db.query(
    `SELECT * FROM backups WHERE source = $1 AND status = 'succeeded' AND as_of IS NOT NULL AND deleting_at IS NULL
     ORDER BY as_of, id`,
    [source],
  );
  return rows.map((r) => toBackup(r as Row));
}

/** Succeeded incrementals that build on a backup (as their parent or their base). */
export async function listDependents(db: Db, id: string): Promise<BackupRecord[]> {
  const { rows } = await db.query(
    `SELECT * FROM backups WHERE (parent_backup_id = $1 OR base_backup_id = $1) AND status = 'succeeded' AND deleting_at IS NULL ORDER BY id`,
    [id],
  );
  return rows.map((r) => toBackup(r as Row));
}

export async function setBackupPinned(db: Db, id: string, pinned: boolean): Promise<boolean> {
  const r = await db.query('UPDATE backups SET pinned = $2 WHERE id = $1', [id, pinned]);
  return r.rowCount === 1;
}

/** Records the outcome (or start) of a verification: `{ status, checkedAt, problems, ... }`. */
export async function setVerification(db: Db, id: string, verification: Record<string, unknown>): Promise<void> {
  await db.query('UPDATE backups SET verification = $2 WHERE id = $1', [id, JSON.stringify(verification)]);
}

/** Adds keys to a backup's metadata (what a kind records beside the common columns). */
export async function mergeBackupMetadata(db: Db, id: string, patch: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE backups SET metadata = metadata || $2::jsonb WHERE id = $1`, [id, JSON.stringify(patch)]);
}

import {
  type BackupRecord,
  audit,
  deleteBackupRecord,
  listBackupsForRetention,
  listSchedules,
  listWalSegments,
  markBackupDeleting,
} from '@bk/catalog';
import { BACKUPS_ROOT, ConflictError, type Retention } from '@bk/core';
import type { Platform } from './platform.ts';
import { type WalCleanupItem, decidePitrRetention, deleteOldWal } from './pitr-retention.ts';
import { type RetentionDecision, decideRetention } from './retention.ts';

export interface CleanupItem extends RetentionDecision {
  source: string;
  type: string;
  status: string;
  takenAt: string;
  bytes: number;
}

export interface CleanupPlan {
  items: CleanupItem[];
  /** Point-in-time sources: the WAL older than every kept base backup. */
  wal: WalCleanupItem[];
  deletions: number;
  bytesFreed: number;
}

/** What retention decides for every backup of one source or of all, and why. */
export async function planCleanup(platform: Platform, opts: { source?: string | undefined; now?: Date } = {}): Promise<CleanupPlan> {
  const now = opts.now ?? new Date();
  const backups = await listBackupsForRetention(platform.db, opts.source);
  const schedules = await listSchedules(platform.db);
  const items: CleanupItem[] = [];
  const wal: WalCleanupItem[] = [];
  const bySource = new Map<string, BackupRecord[]>();
  for (const b of backups) bySource.set(b.source, [...(bySource.get(b.source) ?? []), b]);
  for (const [source, list] of bySource) {
    const policies = new Map<string | null, Retention | undefined>(
      schedules.filter((s) => s.source === source).map((s) => [s.id, s.retention]),
    );
    policies.set(null, platform.sources.find(source)?.retention);
    const decisions = decideRetention({
      backups: list.map((b) => ({
        id: b.id,
        source: b.source,
        status: b.status,
        takenAt: b.startedAt ?? b.createdAt,
        pinned: b.pinned,
        scheduleId: b.scheduleId,
        baseBackupId: b.baseBackupId,
        parentBackupId: b.parentBackupId,
        deletingAt: b.deletingAt,
      })),
      policies,
      now,
      failedRetentionDays: platform.config.cleanup.failedBackupRetentionDays,
    });
    const pitr = decidePitrRetention(
      source,
      platform.sources.find(source),
      list,
      decisions,
      await listWalSegments(platform.db, source),
      now,
    );
    if (pitr) wal.push(pitr);
    const byId = new Map(list.map((b) => [b.id, b]));
    for (const d of decisions) {
      const b = byId.get(d.id) as BackupRecord;
      items.push({ ...d, source, type: b.type, status: b.status, takenAt: (b.startedAt ?? b.createdAt).toISOString(), bytes: b.bytes });
    }
  }
  const del = items.filter((i) => i.action === 'delete');
  return {
    items,
    wal,
    deletions: del.length,
    bytesFreed: del.reduce((a, i) => a + i.bytes, 0) + wal.reduce((a, w) => a + w.bytes, 0),
  };
}

/**
 * Deletes one backup: marks it deleting, deletes its manifest first (so a half-deleted
 * backup never looks complete), then every other object under its prefix and any upload
 * left incomplete there, and the catalog record last. A crash in between leaves the record
 * marked deleting, which the next cleanup finishes. Returns the number of objects deleted.
 */
export async function deleteBackupFully(platform: Platform, b: Pick<BackupRecord, 'id' | 'storagePrefix'>): Promise<number> {
  if (!(await markBackupDeleting(platform.db, b.id)))
    throw new ConflictError(
      `backup ${b.id} is being read by a restore or a verification (or is still running); it is deleted once that ends`,
      'backup_in_use',
    );
  const keys: string[] = [];
  for await (const o of platform.store.list(b.storagePrefix)) keys.push(o.key);
  const manifest = keys.filter((k) => k.endsWith('/manifest.json'));
  await platform.store.deleteMany(manifest);
  await platform.store.deleteMany(keys.filter((k) => !manifest.includes(k)));
  await platform.store.abortIncompleteUploads(b.storagePrefix);
  await deleteBackupRecord(platform.db, b.id);
  return keys.length;
}

export interface CleanupResult extends CleanupPlan {
  deleted: string[];
  objectsDeleted: number;
  walSegmentsDeleted: number;
  abortedUploads: number;
  errors: { id: string; error: string }[];
}

/** Applies the plan: deletes what retention decided, then aborts abandoned uploads. */
export async function runCleanup(platform: Platform, opts: { source?: string | undefined; actor: string }): Promise<CleanupResult> {
  // One cleanup at a time across the fleet: a second one waits for the first to finish (a
  // session advisory lock on one catalog connection, released however this ends).
  const client = await platform.db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [CLEANUP_LOCK]);
    try {
      return await cleanupUnderLock(platform, opts);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [CLEANUP_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The advisory lock key of cleanup runs ("bkcl"). */
const CLEANUP_LOCK = 0x626b636c;

async function cleanupUnderLock(platform: Platform, opts: { source?: string | undefined; actor: string }): Promise<CleanupResult> {
  const plan = await planCleanup(platform, { source: opts.source });
  const result: CleanupResult = { ...plan, deleted: [], objectsDeleted: 0, walSegmentsDeleted: 0, abortedUploads: 0, errors: [] };
  const backups = new Map((await listBackupsForRetention(platform.db, opts.source)).map((b) => [b.id, b]));
  for (const item of plan.items) {
    if (item.action !== 'delete') continue;
    const b = backups.get(item.id);
    if (!b) continue;
    try {
      result.objectsDeleted += await deleteBackupFully(platform, b);
      result.deleted.push(b.id);
      await audit(platform.db, {
        actor: opts.actor,
        action: 'backup.delete',
        target: b.id,
        outcome: 'ok',
        details: { by: 'cleanup', reasons: item.reasons },
      });
    } catch (e) {
      result.errors.push({ id: b.id, error: (e as Error).message });
    }
  }
  // WAL after the backups: a base backup deleted above no longer holds its WAL back. A
  // source where a deletion was refused (a restore reads that base backup) keeps its WAL.
  const refused = new Set(result.errors.map((e) => backups.get(e.id)?.source));
  for (const item of plan.wal) {
    if (refused.has(item.source)) continue;
    try {
      result.walSegmentsDeleted += await deleteOldWal(platform, item);
    } catch (e) {
      result.errors.push({ id: `wal:${item.source}`, error: (e as Error).message });
    }
  }
  const olderThan = new Date(Date.now() - platform.config.cleanup.abandonedUploadHours * 3_600_000);
  result.abortedUploads = await platform.store.abortIncompleteUploads(BACKUPS_ROOT, olderThan);
  return result;
}

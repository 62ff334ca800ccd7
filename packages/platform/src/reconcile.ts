import { Job } from 'bullmq';
import { jobIds } from '@bk/core';
import { endBackup, endRestore } from './outcomes.ts';
import type { Platform } from './platform.ts';

/** A record younger than this may be between its insert and its enqueue: left alone. */
const GRACE_MS = 2 * 60_000;

/**
 * Finds backups and restores that wait on jobs Redis no longer has (a flushed or replaced
 * Redis without persistence) and fails them with a message that says so, so retention, the
 * console and operators see them ended instead of queued or running forever. A record is
 * orphaned when neither its coordinator nor its finalize job exists in Redis; coordinators
 * stay in Redis for as long as their record runs (they watch the flow), and finished jobs
 * are kept for days, far longer than the grace period.
 */
export async function reconcileRecords(platform: Pick<Platform, 'db' | 'queues' | 'config' | 'log'>): Promise<{ failed: string[] }> {
  const failed: string[] = [];
  const { rows } = await platform.db.query<{ kind: 'backup' | 'restore'; id: string }>(
    `SELECT 'backup' AS kind, id FROM backups WHERE status IN ('queued', 'running') AND created_at < now() - $1 * interval '1 millisecond'
     UNION ALL
     SELECT 'restore', id FROM restores WHERE status IN ('queued', 'running') AND created_at < now() - $1 * interval '1 millisecond'`,
    [GRACE_MS],
  );
  const { coordinate, finalize } = platform.queues.queues;
  for (const r of rows) {
    const [coordinator, finalizer] =
      r.kind === 'backup'
        ? [jobIds.backupCoordinate(r.id), jobIds.backupFinalize(r.id)]
        : [jobIds.restoreCoordinate(r.id), jobIds.restoreFinalize(r.id)];
    const alive = (await Job.fromId(coordinate, coordinator)) ?? (await Job.fromId(finalize, finalizer));
    if (alive) continue;
    const msg = `its jobs are gone from Redis (Redis flushed or replaced without persistence); the ${r.kind} cannot finish. Start it again.`;
    const ended = r.kind === 'backup' ? await endBackup(platform, r.id, 'failed', msg) : await endRestore(platform, r.id, 'failed', msg);
    if (ended) failed.push(r.id);
  }
  if (failed.length) platform.log.error({ failed }, 'failed records whose jobs vanished from Redis');
  return { failed };
}

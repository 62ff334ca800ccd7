import {
  audit,
  getBackup,
  getRestore,
  markBackupEnded,
  markBackupSucceeded,
  markRestoreEnded,
  markRestoreSucceeded,
  recordRestorePlan,
} from '@bk/catalog';
import { UnavailableError, enqueue, errorMessage, jobIds } from '@bk/core';
import type { Platform } from './platform.ts';
import { emitEvent } from './notify.ts';

/** What ending a record needs: the catalog, and the queues for its notification. */
type EndDeps = Pick<Platform, 'db' | 'queues' | 'config' | 'log'>;

/**
 * The one place a backup or restore reaches its final state: the catalog transition, the
 * audit entry and the notification happen together, and only for the call that actually
 * made the transition (a second "failed" for the same backup records nothing).
 */
export async function endBackup(platform: EndDeps, id: string, status: 'failed' | 'cancelled', error: string): Promise<boolean> {
  if (!(await markBackupEnded(platform.db, id, status, error))) return false;
  const b = await getBackup(platform.db, id);
  await audit(platform.db, { actor: 'system', action: `backup.${status}`, target: id, outcome: status, details: { error } });
  await emitEvent(platform, `backup.${status}`, id, { backupId: id, source: b?.source, type: b?.type, error }, b?.scheduleId);
  return true;
}

export async function succeedBackup(
  platform: Platform,
  id: string,
  v: { manifestKey: string; rows: number; bytes: number; rawBytes: number },
): Promise<boolean> {
  if (!(await markBackupSucceeded(platform.db, id, v))) return false;
  const b = await getBackup(platform.db, id);
  await audit(platform.db, {
    actor: 'system',
    action: 'backup.succeeded',
    target: id,
    outcome: 'succeeded',
    details: { rows: v.rows, bytes: v.bytes },
  });
  await emitEvent(
    platform,
    'backup.succeeded',
    id,
    { backupId: id, source: b?.source, type: b?.type, rows: v.rows, bytes: v.bytes, manifestKey: v.manifestKey },
    b?.scheduleId,
  );
  return true;
}

export async function endRestore(platform: EndDeps, id: string, status: 'failed' | 'cancelled', error: string): Promise<boolean> {
  if (!(await markRestoreEnded(platform.db, id, status, error))) return false;
  const r = await getRestore(platform.db, id);
  await audit(platform.db, { actor: 'system', action: `restore.${status}`, target: id, outcome: status, details: { error } });
  await emitEvent(platform, `restore.${status}`, id, { restoreId: id, backupId: r?.backupId, error });
  return true;
}

export async function succeedRestore(platform: Platform, id: string, rows: number): Promise<boolean> {
  if (!(await markRestoreSucceeded(platform.db, id, rows))) return false;
  const r = await getRestore(platform.db, id);
  const durationMs = r?.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null;
  await audit(platform.db, {
    actor: 'system',
    action: 'restore.succeeded',
    target: id,
    outcome: 'succeeded',
    details: { rows, durationMs },
  });
  await emitEvent(platform, 'restore.succeeded', id, { restoreId: id, backupId: r?.backupId, rows, durationMs, dryRun: r?.dryRun });
  return true;
}

/**
 * The end of a dry-run restore: the plan and every object check are recorded, and the
 * restore succeeds (nothing changed) or fails naming each problem.
 */
export async function endDryRun(
  platform: Platform,
  id: string,
  plan: Record<string, unknown>,
  checked: readonly { key: string; ok: boolean; problem?: string }[],
): Promise<{ dryRun: true; problems: number }> {
  const problems = checked.filter((c) => !c.ok).map((c) => `${c.key}: ${c.problem ?? 'failed'}`);
  await recordRestorePlan(platform.db, id, { ...plan, dryRun: true, checked }, null);
  if (problems.length) await endRestore(platform, id, 'failed', `dry run found ${problems.length} problem(s): ${problems.join('; ')}`);
  else await succeedRestore(platform, id, 0);
  return { dryRun: true, problems: problems.length };
}

/** The coordinator job of each kind of record, and how that record ends when it cannot run. */
const coordinators = {
  backup: {
    enqueue: (p: EndDeps, id: string) => enqueue(p.queues, p.config, 'backup.coordinate', { backupId: id }, jobIds.backupCoordinate(id)),
    end: endBackup,
  },
  restore: {
    enqueue: (p: EndDeps, id: string) => enqueue(p.queues, p.config, 'restore.coordinate', { restoreId: id }, jobIds.restoreCoordinate(id)),
    end: endRestore,
  },
} satisfies Record<'backup' | 'restore', { enqueue(p: EndDeps, id: string): Promise<void>; end: typeof endBackup }>;

/**
 * Enqueues the coordinator of a recorded (`queued`) backup or restore. When Redis refuses the
 * job, the record ends `failed` ("could not enqueue: ...") so nothing stays queued forever,
 * and UnavailableError (503) tells the caller that nothing was started.
 */
export async function enqueueCoordinator(platform: EndDeps, kind: keyof typeof coordinators, id: string): Promise<void> {
  const c = coordinators[kind];
  try {
    await c.enqueue(platform, id);
  } catch (e) {
    await c.end(platform, id, 'failed', `could not enqueue: ${errorMessage(e)}`);
    throw new UnavailableError(`the job queue (Redis) is unavailable; the ${kind} was not started`);
  }
}

import { audit, getRestore, listBackups } from '@bk/catalog';
import { BadRequestError, ConflictError, enqueue, jobIds, newId } from '@bk/core';
import type { Platform } from './platform.ts';
import { planWalRecovery, recoveryWindowOf } from './pitr.ts';
import { enqueueRestore } from './restores.ts';

/** What starting a drill (or a verification) needs. */
type CheckDeps = Pick<Platform, 'db' | 'queues' | 'config' | 'log' | 'sources'>;

/** The scratch database a drill restores into (dropped when the drill ends). */
export function drillDatabase(restoreId: string): string {
  return `bk_drill_${restoreId.replace(/^rs_/, '')}`;
}

/**
 * A restore drill: the newest successful, not corrupted backup of a source is restored
 * into a scratch database, compared with the backup (row counts, and an order-independent
 * hash of every table's rows read back), and dropped. The restore record keeps the
 * measured restore time, which is the RTO that `GET /v1/recovery-objectives` reports.
 * An unreachable Redis ends the record failed and throws UnavailableError.
 */
export async function startDrill(platform: CheckDeps, source: string, actor: string, opts: { targetTime?: string } = {}): Promise<string> {
  const cfg = platform.sources.forRequest(source);
  const pitr = cfg.kind === 'postgres' && cfg.pitr?.enabled === true;
  if (opts.targetTime !== undefined && !pitr)
    throw new BadRequestError(`source ${source} has no point-in-time recovery: a drill restores its newest backup`, 'pitr_not_enabled');
  if (pitr) {
    // A point-in-time source drills what an incident would need: the newest restorable moment
    // (or the one asked for), through base backup, WAL replay and the logical load.
    const newest = (await recoveryWindowOf(platform, source)).windows.at(-1)?.to;
    const targetTime = opts.targetTime ?? newest;
    if (targetTime) return startPointInTimeDrill(platform, source, actor, targetTime);
  }
  const page = await listBackups(platform.db, { source, status: 'succeeded', limit: 50 });
  // A drill restores one backup whole: an incremental would bring its chain, so TDengine
  // drills take the newest full (or database/table) backup; a base backup is restored to a
  // moment (above), never by id.
  const backup = page.items.find(
    (b) => b.type !== 'incremental' && b.type !== 'base' && (b.verification as { status?: string } | null)?.status !== 'corrupted',
  );
  if (!backup) throw new ConflictError(`source ${source} has no successful, uncorrupted backup to drill with`, 'nothing_to_drill');
  const id = newId('rs');
  const targetDatabase = drillDatabase(id);
  await enqueueRestore(platform, {
    id,
    backupId: backup.id,
    source,
    dryRun: false,
    mode: 'fail-if-exists',
    targetDatabase,
    request: { backupId: backup.id, targetDatabase, drill: true },
    requestedBy: actor,
  });
  await audit(platform.db, { actor, action: 'restore.drill', target: id, outcome: 'ok', details: { source, backupId: backup.id } });
  return id;
}

async function startPointInTimeDrill(platform: CheckDeps, source: string, actor: string, targetTime: string): Promise<string> {
  const plan = await planWalRecovery(platform, source, new Date(targetTime));
  const id = newId('rs');
  const targetDatabase = drillDatabase(id);
  const pointInTime = { targetTime: plan.targetTime.toISOString(), baseBackupId: plan.base.id };
  await enqueueRestore(platform, {
    id,
    backupId: plan.base.id,
    source,
    dryRun: false,
    mode: 'fail-if-exists',
    targetDatabase,
    request: { source, targetTime: pointInTime.targetTime, targetDatabase, drill: true, pointInTime },
    requestedBy: actor,
  });
  await audit(platform.db, { actor, action: 'restore.drill', target: id, outcome: 'ok', details: { source, pointInTime } });
  return id;
}

/** Whether a restore is a drill (from its stored request). */
export async function isDrill(platform: Pick<Platform, 'db'>, restoreId: string): Promise<boolean> {
  const r = await getRestore(platform.db, restoreId);
  return Boolean((r?.request as { drill?: boolean } | undefined)?.drill);
}

/**
 * One run of a `verify` or `drill` schedule: verification of the newest successful backup
 * of the source, or a restore drill. Returns the job or restore id.
 */
export async function runCheckSchedule(
  platform: CheckDeps,
  s: { kind: string; source: string | null; name: string },
  actor: string,
): Promise<string> {
  const source = s.source as string;
  if (s.kind === 'drill') return startDrill(platform, source, actor);
  const newest = (await listBackups(platform.db, { source, status: 'succeeded', limit: 1 })).items[0];
  if (!newest) throw new ConflictError(`source ${source} has no successful backup to verify`, 'nothing_to_verify');
  const jobId = jobIds.verify(newest.id);
  await enqueue(platform.queues, platform.config, 'backup.verify', { backupId: newest.id, requestedBy: actor }, jobId);
  return jobId;
}

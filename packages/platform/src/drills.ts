import { audit, getRestore, listBackups } from '@bk/catalog';
import { ConflictError, enqueue, jobIds, newId } from '@bk/core';
import type { Platform } from './platform.ts';
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
export async function startDrill(platform: CheckDeps, source: string, actor: string): Promise<string> {
  platform.sources.forRequest(source);
  const page = await listBackups(platform.db, { source, status: 'succeeded', limit: 50 });
  // A drill restores one backup whole: an incremental would bring its chain, so TDengine
  // drills take the newest full (or database/table) backup.
  const backup = page.items.find((b) => b.type !== 'incremental' && (b.verification as { status?: string } | null)?.status !== 'corrupted');
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

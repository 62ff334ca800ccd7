import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BackupRecord,
  type RestoreRecord,
  type WalSegmentRecord,
  getRestore,
  getWalSegment,
  markRestoreRunning,
  recordRestorePlan,
  setRestoreBackup,
} from '@bk/catalog';
import { PermanentJobError, errorMessage } from '@bk/core';
import {
  type Platform,
  type PointInTimeRequest,
  checkObjects,
  deleteBackupFully,
  endDryRun,
  endRestore,
  loadManifest,
  openObject,
  planWalRecovery,
} from '@bk/platform';
import { parseTarget, recoverCluster, recoveryOwner } from '@bk/postgres';
import type { HandlerContext } from '../../handlers/types.ts';
import { runPgRestore } from '../postgres/restore.ts';
import { dropDrillDatabase } from '../scratch.ts';
import { extractMoment } from './extract.ts';
import { fetchWal } from './wal-fetch.ts';

/**
 * A PostgreSQL restore to a moment: the newest base backup before it is recovered in a
 * private, temporary PostgreSQL of the same major version, with the archived WAL replayed up
 * to the moment (recovery_target_time, then promoted); the chosen databases or tables are
 * read out of it into a logical backup (extract.ts), the temporary cluster is removed, and
 * that backup is restored into the target through the logical path (same modes,
 * confirmation, row-count check). The record's plan says which base backup, which WAL and
 * which exact recovery point were used; progress shows the phase (WAL fetched, WAL replayed).
 *
 * Not retried (a coordinator): a worker lost midway fails the record, which says so.
 */
export async function coordinatePitrRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  if (restore.status !== 'queued') {
    await endRestore(
      platform,
      restore.id,
      'failed',
      'the point-in-time restore stopped midway (worker lost); nothing was loaded that was not checked',
    );
    return { skipped: restore.status };
  }
  await markRestoreRunning(platform.db, restore.id);
  const pit = (restore.request as { pointInTime?: PointInTimeRequest }).pointInTime;
  if (!pit) throw new PermanentJobError(`restore ${restore.id} has no point in time`);
  let extract: BackupRecord | undefined;
  const reload = (s: WalSegmentRecord) => getWalSegment(platform.db, s.source, s.timeline, s.segNo);
  try {
    const plan = await planWalRecovery(platform, restore.source, new Date(pit.targetTime)).catch((e: unknown) => {
      throw new PermanentJobError(`the moment is no longer restorable: ${errorMessage(e)}`);
    });
    const { manifest, dataKey } = await loadManifest(platform, plan.base.id);
    const baseObject = manifest.objects.find((o) => o.kind === 'base');
    if (!baseObject) throw new PermanentJobError(`base backup ${plan.base.id} has no base object in its manifest`);
    const serverMajor = Math.floor(Number(/^(\d+)/.exec(manifest.source.serverVersion)?.[1] ?? '0'));
    const walRange = {
      from: plan.segments[0]?.name ?? null,
      to: plan.segments.at(-1)?.name ?? null,
      segments: plan.segments.length,
      bytes: plan.segments.reduce((a, s) => a + s.bytes, 0),
    };
    const planRecord = {
      pointInTime: {
        targetTime: pit.targetTime,
        baseBackupId: plan.base.id,
        baseConsistentAt: plan.physical.consistentAt,
        timeline: plan.physical.timeline,
        wal: walRange,
      },
      order: ['fetch base backup and WAL', 'recover to the moment', 'read the tables out', 'load into the target', 'row-count check'],
    };

    if (restore.dryRun) {
      // Every byte the recovery would read, checked: the base backup and each WAL segment.
      const checked = await checkObjects(platform, [baseObject], dataKey, ctx.signal);
      const walDir = await mkdtemp(join(platform.config.postgres.recoveryDir ?? tmpdir(), 'bk-pitr-dry-'));
      try {
        await fetchWal(platform, plan.segments, plan.histories, walDir, plan.physical.walSegmentSize, {
          signal: ctx.signal,
          reload,
        });
        checked.push(...plan.segments.map((s) => ({ key: s.key, rows: 0, ok: true })));
      } catch (e) {
        checked.push({ key: 'wal', rows: 0, ok: false, problem: errorMessage(e) });
      } finally {
        await rm(walDir, { recursive: true, force: true });
      }
      return await endDryRun(platform, restore.id, planRecord, checked);
    }

    await recordRestorePlan(platform.db, restore.id, { ...planRecord, phase: 'recovery' }, null);
    let pointInTime: Record<string, unknown> = planRecord.pointInTime;
    const owner = await recoveryOwner();
    const dir = await mkdtemp(join(platform.config.postgres.recoveryDir ?? tmpdir(), 'bk-pitr-'));
    if (owner) await chown(dir, owner.uid, owner.gid);
    try {
      const walDir = join(dir, 'wal');
      await mkdir(walDir, { mode: 0o700 });
      await fetchWal(platform, plan.segments, plan.histories, walDir, plan.physical.walSegmentSize, {
        signal: ctx.signal,
        owner,
        reload,
        onSegment: (done) =>
          void ctx.job.updateProgress({ phase: 'fetching WAL', walFetched: done, walNeeded: plan.segments.length }).catch(() => undefined),
      });
      let replayed = 0;
      const cluster = await recoverCluster({
        dir: join(dir, 'cluster'),
        serverMajor,
        baseTar: (await openObject(platform, baseObject, dataKey, ctx.signal)).stream,
        walDir,
        targetTime: new Date(pit.targetTime),
        knownRoles: [parseTarget(platform.sources.forJob(restore.source).url).user],
        onSegmentRestored: () =>
          void ctx.job
            .updateProgress({ phase: 'replaying WAL', walReplayed: ++replayed, walNeeded: plan.segments.length })
            .catch(() => undefined),
        signal: ctx.signal,
      });
      let recoveredTo: string | null = null;
      try {
        recoveredTo = cluster.lastTransactionAt?.toISOString() ?? null;
        ctx.log.info(
          { restoreId: restore.id, targetTime: pit.targetTime, recoveredTo, replayedToEnd: cluster.replayedToEnd },
          'recovered to the moment',
        );
        extract = await extractMoment(platform, restore, cluster.url, { ...pit, recoveredTo }, ctx);
      } finally {
        await cluster.stop();
      }
      pointInTime = {
        ...planRecord.pointInTime,
        recoveryPoint: recoveredTo,
        replayedToEnd: cluster.replayedToEnd,
        extractBackupId: extract.id,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await setRestoreBackup(platform.db, restore.id, extract.id);
    const loading = await getRestore(platform.db, restore.id);
    if (!loading) throw new PermanentJobError(`restore ${restore.id} not found`);
    // The logical restore records its own plan; the point-in-time part stays in it.
    return await runPgRestore(platform, loading, ctx, { pointInTime });
  } catch (e) {
    await endRestore(platform, restore.id, 'failed', errorMessage(e));
    await dropDrillDatabase(platform, restore);
    throw e;
  } finally {
    // The moment read out is a copy of production data kept only for this restore.
    if (extract) {
      const done = extract;
      await deleteBackupFully(platform, done).catch((e: unknown) =>
        ctx.log.warn({ backupId: done.id, err: errorMessage(e) }, 'could not remove the point-in-time extract; delete it by hand'),
      );
    }
  }
}

import { getBackup, markObjectFailed, markObjectRunning } from '@bk/catalog';
import { PermanentJobError, attemptKey, errorMessage } from '@bk/core';
import { acquireExportSlot, createThrottle, endBackup } from '@bk/platform';
import { DelayedError } from 'bullmq';
import { storePgExport } from '../kinds/postgres/export.ts';
import type { Handler } from './types.ts';

/**
 * Streams one table (or one ctid block range) of the backup's snapshot into storage
 * (kinds/postgres/export.ts), at most maxConcurrentExports of a source at once. Idempotent: a retry rewrites the object whole under the same key, and the catalog row is
 * updated only after the upload completed.
 */
export const exportPgTable: Handler<'export.pg-table'> = async (platform, p, ctx) => {
  const { db } = platform;
  const backup = await getBackup(db, p.backupId);
  if (!backup) throw new PermanentJobError(`backup ${p.backupId} not found in the catalog`);
  if (backup.status !== 'running') throw new PermanentJobError(`backup ${p.backupId} is ${backup.status}; export not run`);
  const source = platform.sources.forJob(p.source);
  // At most maxConcurrentExports of this source at once, across all workers: without a
  // slot the job waits (delayed, not failed, no attempt used) and tries again.
  const slot = await acquireExportSlot(platform, p.source, String(ctx.job.id));
  if (slot === undefined) {
    await ctx.job.moveToDelayed(Date.now() + 500 + Math.floor(Math.random() * 1000), ctx.token);
    throw new DelayedError();
  }
  const label = `${p.database}.${p.table.schema}.${p.table.name}${p.chunk ? ` (part ${p.chunk.index + 1}/${p.chunk.count})` : ''}`;
  try {
    await markObjectRunning(db, p.backupId, p.objectKey);
    const storeKey = attemptKey(p.objectKey, ctx.job.attemptsStarted);
    const stats = await storePgExport(platform, backup, source.url, p, storeKey, {
      throttle: createThrottle(platform, p.source, ctx.signal),
      onProgress: (rawBytes) => {
        ctx.job.updateProgress({ table: label, rawBytes }).catch(() => undefined);
      },
      signal: ctx.signal,
    });
    ctx.log.info({ backupId: p.backupId, table: label, ...stats }, 'table exported');
    return { key: storeKey, rows: stats.rows, bytes: stats.bytes, sha256: stats.sha256 };
  } catch (e) {
    if (ctx.isFinalAttempt(e) && !ctx.signal.aborted) {
      const msg = `${label}: ${errorMessage(e)}`;
      await markObjectFailed(db, p.backupId, p.objectKey, errorMessage(e));
      await endBackup(platform, p.backupId, 'failed', msg);
    }
    throw e;
  } finally {
    await slot?.release();
  }
};

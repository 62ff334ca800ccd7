import { getBackup, markObjectFailed, markObjectRunning, markObjectSucceeded } from '@bk/catalog';
import { PermanentJobError, attemptKey, encodeForStorage, errorMessage } from '@bk/core';
import { acquireExportSlot, createThrottle, dataKeyOf, endBackup, pgUrlForDatabase } from '@bk/platform';
import { pipeline } from 'node:stream';
import { DelayedError } from 'bullmq';
import { exportTable } from '@bk/postgres';
import type { Handler } from './types.ts';

/**
 * Streams one table (or one ctid block range) of the backup's snapshot:
 * COPY TO STDOUT (text or binary format, as planned) -> compress -> encrypt -> hash -> object store.
 * Idempotent: a retry rewrites the object whole under the same key, and the catalog row is
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
    const dataKey = dataKeyOf(platform, backup);
    const { stream, done } = await exportTable({
      url: pgUrlForDatabase(source.url, p.database),
      snapshotId: p.snapshotId,
      table: p.table,
      ...(p.chunk ? { chunk: { fromBlock: p.chunk.fromBlock, toBlock: p.chunk.toBlock } } : {}),
      format: p.copyFormat ?? 'text',
      signal: ctx.signal,
    });
    const throttle = createThrottle(platform, p.source, ctx.signal);
    // pipeline(), not pipe(): a failure downstream must destroy the COPY stream too, or its
    // connection (and the snapshot transaction it holds) would stay open.
    const raw = throttle ? pipeline(stream, throttle, () => undefined) : stream;
    // Rows are COPY's own count (its command tag), not a second scan of every byte.
    const enc = encodeForStorage(raw, { compression: p.compression, countRows: false, ...(dataKey ? { dataKey } : {}) });
    // Progress is sampled on a timer: a 'data' listener would switch the stream into
    // flowing mode and drop whatever flows before the store starts reading it.
    const progress = setInterval(() => {
      ctx.job.updateProgress({ table: label, rawBytes: enc.rawBytesSoFar() }).catch(() => undefined);
    }, 2000);
    let copied: { rows: number };
    try {
      await platform.store.put(storeKey, enc.stream, { signal: ctx.signal });
      copied = await done;
    } finally {
      clearInterval(progress);
    }
    const stats = { ...enc.stats(), rows: copied.rows };
    await markObjectSucceeded(db, p.backupId, p.objectKey, { ...stats, storedKey: storeKey });
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

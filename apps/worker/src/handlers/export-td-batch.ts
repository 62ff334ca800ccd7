import { getBackup, markObjectFailed, markObjectRunning, markObjectSucceeded } from '@bk/catalog';
import { PermanentJobError, attemptKey, encodeForStorage, errorMessage } from '@bk/core';
import { acquireExportSlot, createThrottle, dataKeyOf, endBackup, tdClientFor } from '@bk/platform';
import { exportBatch, parseTdType } from '@bk/tdengine';
import { pipeline } from 'node:stream';
import { DelayedError } from 'bullmq';
import type { Handler } from './types.ts';

/**
 * Streams a batch of TDengine tables (child tables of one super table, or normal tables) in
 * the backup's window into one td-batch object: REST pages -> td-batch-jsonl -> compress ->
 * encrypt -> hash -> object store. Every table is cross-checked with COUNT(*) over the same
 * window, so a truncated page fails the job instead of passing short. Idempotent: a retry
 * rewrites the object whole under the same key; the catalog row is written after the upload.
 */
export const exportTdBatch: Handler<'export.td-batch'> = async (platform, p, ctx) => {
  const { db } = platform;
  const backup = await getBackup(db, p.backupId);
  if (!backup) throw new PermanentJobError(`backup ${p.backupId} not found in the catalog`);
  if (backup.status !== 'running') throw new PermanentJobError(`backup ${p.backupId} is ${backup.status}; export not run`);
  const source = platform.sources.forJob(p.source);
  if (source.kind !== 'tdengine') throw new PermanentJobError(`source ${p.source} is not a TDengine source`);
  const slot = await acquireExportSlot(platform, p.source, String(ctx.job.id));
  if (slot === undefined) {
    await ctx.job.moveToDelayed(Date.now() + 500 + Math.floor(Math.random() * 1000), ctx.token);
    throw new DelayedError();
  }
  const label = `${p.database}.${p.stable ?? 'normal tables'} (${p.tables.length} tables)`;
  const client = tdClientFor(platform, source);
  try {
    await markObjectRunning(db, p.backupId, p.objectKey);
    const storeKey = attemptKey(p.objectKey, ctx.job.attemptsStarted);
    const shared = p.columns?.map((c) => ({ name: c.name, type: parseTdType(c.type) }));
    const tables = p.tables.map((t) => {
      const columns = t.columns?.map((c) => ({ name: c.name, type: parseTdType(c.type) })) ?? shared;
      if (!columns) throw new PermanentJobError(`${label}: table ${t.name} has no column list`);
      return { name: t.name, columns, whole: t.whole === true };
    });
    const batch = exportBatch({
      client,
      db: p.database,
      tables,
      precision: p.precision,
      from: p.window.from === null ? undefined : BigInt(p.window.from),
      to: BigInt(p.window.to),
      newFrom: p.window.newFrom === null ? undefined : BigInt(p.window.newFrom),
      pageSize: platform.config.tdengine.pageSize,
      signal: ctx.signal,
    });
    const throttle = createThrottle(platform, p.source, ctx.signal);
    const raw = throttle ? pipeline(batch.stream, throttle, () => undefined) : batch.stream;
    const dataKey = dataKeyOf(platform, backup);
    const enc = encodeForStorage(raw, { compression: p.compression, ...(dataKey ? { dataKey } : {}) });
    const progress = setInterval(() => {
      ctx.job.updateProgress({ tables: label, rawBytes: enc.rawBytesSoFar() }).catch(() => undefined);
    }, 2000);
    let result: Awaited<typeof batch.done>;
    try {
      await platform.store.put(storeKey, enc.stream, { signal: ctx.signal });
      result = await batch.done;
    } finally {
      clearInterval(progress);
    }
    const stats = enc.stats();
    // Every line is a row or a table header: anything else means the stream and the count disagree.
    if (stats.rows !== result.rows + tables.length)
      throw new Error(`${label}: wrote ${stats.rows} lines for ${result.rows} rows and ${tables.length} tables`);
    await markObjectSucceeded(db, p.backupId, p.objectKey, { ...stats, rows: result.rows, members: result.members, storedKey: storeKey });
    ctx.log.info({ backupId: p.backupId, tables: label, ...stats, rows: result.rows }, 'TDengine batch exported');
    return { key: storeKey, rows: result.rows, bytes: stats.bytes, sha256: stats.sha256 };
  } catch (e) {
    if (ctx.isFinalAttempt(e) && !ctx.signal.aborted) {
      await markObjectFailed(db, p.backupId, p.objectKey, errorMessage(e));
      await endBackup(platform, p.backupId, 'failed', `${label}: ${errorMessage(e)}`);
    }
    throw e;
  } finally {
    client.close();
    await slot?.release();
  }
};

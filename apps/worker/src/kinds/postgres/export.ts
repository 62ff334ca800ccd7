import { type BackupRecord, markObjectSucceeded } from '@bk/catalog';
import { type EncodedStats, type JobPayload, encodeForStorage } from '@bk/core';
import { type Platform, dataKeyOf, pgUrlForDatabase } from '@bk/platform';
import { exportTable } from '@bk/postgres';
import { pipeline, type Transform } from 'node:stream';

export interface StoreExportOptions {
  /** Rate limit of bytes read from the source, if any. */
  throttle?: Transform | undefined;
  /** Called every 2 s with the raw bytes read so far. */
  onProgress?: ((rawBytes: number) => void) | undefined;
  signal: AbortSignal;
}

/**
 * Streams one table (or ctid block range) of a backup's snapshot into `storeKey`:
 * COPY TO STDOUT (text or binary format, as planned) -> compress -> encrypt -> hash ->
 * object store, and records the object as succeeded (rows: COPY's own count) only once the
 * upload completed. Shared by export jobs and by the extraction of a point in time.
 */
export async function storePgExport(
  platform: Pick<Platform, 'db' | 'store' | 'keyring'>,
  backup: Pick<BackupRecord, 'id' | 'encryption'>,
  serverUrl: string,
  p: JobPayload<'export.pg-table'>,
  storeKey: string,
  opts: StoreExportOptions,
): Promise<EncodedStats> {
  const dataKey = dataKeyOf(platform, backup);
  const { stream, done } = await exportTable({
    url: pgUrlForDatabase(serverUrl, p.database),
    snapshotId: p.snapshotId,
    table: p.table,
    ...(p.chunk ? { chunk: { fromBlock: p.chunk.fromBlock, toBlock: p.chunk.toBlock } } : {}),
    format: p.copyFormat ?? 'text',
    signal: opts.signal,
  });
  // pipeline(), not pipe(): a failure downstream must destroy the COPY stream too, or its
  // connection (and the snapshot transaction it holds) would stay open.
  const raw = opts.throttle ? pipeline(stream, opts.throttle, () => undefined) : stream;
  // Rows are COPY's own count (its command tag), not a second scan of every byte.
  const enc = encodeForStorage(raw, { compression: p.compression, countRows: false, ...(dataKey ? { dataKey } : {}) });
  // Progress is sampled on a timer: a 'data' listener would switch the stream into
  // flowing mode and drop whatever flows before the store starts reading it.
  const progress = opts.onProgress ? setInterval(() => opts.onProgress?.(enc.rawBytesSoFar()), 2000) : undefined;
  let copied: { rows: number };
  try {
    await platform.store.put(storeKey, enc.stream, { signal: opts.signal });
    copied = await done;
  } finally {
    clearInterval(progress);
  }
  const stats = { ...enc.stats(), rows: copied.rows };
  await markObjectSucceeded(platform.db, p.backupId, p.objectKey, { ...stats, storedKey: storeKey });
  return stats;
}

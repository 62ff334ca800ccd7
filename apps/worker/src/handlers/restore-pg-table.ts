import { getRestore } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { loadManifest, openObject, pgUrlForDatabase, restoreRequestOf } from '@bk/platform';
import { importTable } from '@bk/postgres';
import { recordLoad } from './load-status.ts';
import type { Handler } from './types.ts';

/**
 * Loads one data object: storage -> verify SHA-256 -> decrypt -> decompress -> COPY FROM
 * STDIN, in one transaction that also writes a ledger row. A retry after a committed load
 * finds the ledger row and does nothing; a load that fails (or whose checksum does not
 * match at the end) rolls back whole. Rows loaded must equal the manifest's count.
 */
export const restorePgTable: Handler<'restore.pg-table'> = async (platform, { restoreId, objectKey }, ctx) => {
  const { db } = platform;
  const restore = await getRestore(db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') throw new PermanentJobError(`restore ${restoreId} is ${restore.status}; load not run`);
  const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
  const obj = manifest.objects.find((o) => o.key === objectKey && o.kind === 'data');
  if (!obj || obj.schemaName === undefined || obj.tableName === undefined || !obj.columns)
    throw new PermanentJobError(`object ${objectKey} is not a data object of backup ${restore.backupId}`);
  const req = restoreRequestOf(restore);
  const target = req.targetDatabase ?? obj.database;
  const source = platform.sources.forJob(restore.source);
  const table = { schema: obj.schemaName, name: obj.tableName, columns: obj.columns };
  return recordLoad(platform, { restoreId, objectKey, label: obj.table ?? objectKey }, ctx, async () => {
    const { stream, rows: rowsSoFar } = await openObject(platform, obj, dataKey, ctx.signal);
    // Shown in Bull Board; sampled on a timer (a 'data' listener would steal the stream).
    const progress = setInterval(() => {
      ctx.job.updateProgress({ table: obj.table, rows: rowsSoFar(), of: obj.rows }).catch(() => undefined);
    }, 2000);
    const { rows } = await importTable({
      url: pgUrlForDatabase(source.url, target),
      table,
      source: stream,
      ledger: { restoreId, objectKey },
      encoding: encodingOf(manifest.databases.find((d) => d.name === obj.database)?.options),
      signal: ctx.signal,
    }).finally(() => clearInterval(progress));
    if (rows !== obj.rows) throw new PermanentJobError(`${obj.table}: loaded ${rows} rows, the manifest says ${obj.rows}`);
    return { rows };
  });
};

function encodingOf(options: Record<string, unknown> | undefined): string | undefined {
  const e = options?.encoding;
  return typeof e === 'string' ? e : undefined;
}

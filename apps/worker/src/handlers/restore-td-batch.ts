import { getRestore } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { isoToEpochNs, loadManifest, nsToEpoch, openObject, parseTdTableRef, restoreRequestOf, tdClientFor } from '@bk/platform';
import { type BatchSection, type ImportItem, type Precision, importTables, isPrecision, readBatch } from '@bk/tdengine';
import { recordLoad } from './load-status.ts';
import type { Handler } from './types.ts';

/**
 * Loads one td-batch object: storage -> verify SHA-256 -> decrypt -> decompress -> split by
 * table -> multi-table INSERTs under the statement limit, every column written (NULLs too).
 * Replaying is harmless (a row with the same timestamp is overwritten with the same values),
 * so a retry simply loads the object again. Rows per table must equal the manifest's, less
 * the rows a point-in-time restore leaves out.
 */
export const restoreTdBatch: Handler<'restore.td-batch'> = async (platform, { restoreId, backupId, objectKey }, ctx) => {
  const restore = await getRestore(platform.db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') throw new PermanentJobError(`restore ${restoreId} is ${restore.status}; load not run`);
  const { manifest, dataKey } = await loadManifest(platform, backupId);
  const obj = manifest.objects.find((o) => o.key === objectKey && o.kind === 'data' && o.format === 'td-batch-jsonl');
  if (!obj?.members) throw new PermanentJobError(`object ${objectKey} is not a TDengine data object of backup ${backupId}`);
  const req = restoreRequestOf(restore);
  const target = req.targetDatabase ?? obj.database;
  const chosen = req.tables?.length
    ? new Set(
        req.tables
          .map(parseTdTableRef)
          .filter((r) => r.database === obj.database)
          .map((r) => r.table),
      )
    : undefined;
  const wanted = (table: string) => !chosen || chosen.has(obj.tableName ?? table);
  const precision = manifest.databases.find((d) => d.name === obj.database)?.options?.precision;
  if (!isPrecision(precision)) throw new PermanentJobError(`backup ${backupId} records no precision for database ${obj.database}`);
  const maxTs = req.targetTime ? nsToEpoch(isoToEpochNs(req.targetTime), precision as Precision) : undefined;
  const label = `${obj.database}.${obj.table ?? objectKey}`;
  const source = platform.sources.forJob(restore.source);

  return recordLoad(platform, { restoreId, objectKeys: [objectKey], label }, ctx, async () => {
    const client = tdClientFor(platform, source);
    const sections: BatchSection[] = [];
    try {
      const { stream } = await openObject(platform, obj, dataKey, ctx.signal);
      async function* items(): AsyncGenerator<ImportItem> {
        for await (const s of readBatch(stream, { label: obj!.key, maxTs })) {
          if (!wanted(s.table.name)) {
            for await (const _ of s.rows) {
              // not chosen: read past its rows
            }
            continue;
          }
          sections.push(s);
          yield { table: { name: s.table.name }, columns: s.table.columns, source: s.rows };
        }
      }
      const result = await importTables({
        client,
        db: target,
        items: items(),
        maxStatementBytes: platform.config.tdengine.maxStatementKiB * 1024,
        concurrency: platform.config.tdengine.importConcurrency,
        signal: ctx.signal,
      });
      const expected = new Map(obj.members!.map((m) => [m.table, m.rows]));
      const problems: string[] = [];
      result.tables.forEach((t, i) => {
        const exp = expected.get(t.name);
        const dropped = sections[i]?.dropped() ?? 0;
        if (exp === undefined) problems.push(`${t.name} is not listed in the manifest`);
        else if (t.rows + dropped !== exp)
          problems.push(
            `${t.name}: loaded ${t.rows} rows${dropped ? ` (+${dropped} after the target time)` : ''}, the manifest says ${exp}`,
          );
      });
      const seen = new Set(result.tables.map((t) => t.name));
      for (const m of obj.members!)
        if (wanted(m.table) && !seen.has(m.table)) problems.push(`${m.table}: listed in the manifest but missing from the object`);
      if (problems.length) throw new PermanentJobError(`${label}: ${problems.join('; ')}`);
      return { rows: result.rows, dropped: sections.reduce((a, s) => a + s.dropped(), 0) };
    } finally {
      client.close();
    }
  });
};

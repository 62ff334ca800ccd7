import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LineHashSink } from '@bk/core';
import type { SourceConfig } from '@bk/core';
import { type Platform, openObject, tdClientFor } from '@bk/platform';
import { TIMESTAMP_END, type TdClient, exportRows, isPrecision, quoteIdent, readBatch } from '@bk/tdengine';
import type { ChainStep } from './restore.ts';

/**
 * After a TDengine drill restore (one backup, not a chain): every restored table is read back
 * from the scratch database as td-jsonl and its rows' hash (order-independent) must equal the
 * hash of the table's rows in the backup object. Returns the differences.
 */
export async function compareTdDrill(
  platform: Platform,
  client: TdClient,
  step: ChainStep,
  databases: Map<string, string>,
  signal: AbortSignal,
): Promise<{ tables: number; differences: string[] }> {
  const differences: string[] = [];
  let tables = 0;
  for (const obj of step.data) {
    const to = databases.get(obj.database);
    const precision = step.manifest.databases.find((d) => d.name === obj.database)?.options?.precision;
    if (!to || !isPrecision(precision)) continue;
    const { stream } = await openObject(platform, obj, step.dataKey, signal);
    for await (const section of readBatch(stream, { label: obj.key })) {
      const expected = new LineHashSink();
      await pipeline(Readable.from(section.rows), expected);
      const back = exportRows({
        client,
        db: to,
        table: section.table.name,
        columns: section.table.columns,
        precision,
        to: TIMESTAMP_END[precision],
        signal,
      });
      const actual = new LineHashSink();
      await pipeline(back.stream, actual);
      await back.done;
      tables++;
      if (actual.value() !== expected.value())
        differences.push(`${to}.${section.table.name}: rows hash ${actual.value()}, backup ${expected.value()}`);
    }
  }
  return { tables, differences };
}

/** Drops a TDengine drill's scratch database. */
export async function dropTdScratchDatabase(client: TdClient, database: string): Promise<void> {
  await client.exec(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
}

/** A drill's scratch database on a TDengine source, through a client of its own. */
export async function dropTdScratch(platform: Platform, source: SourceConfig, database: string): Promise<void> {
  const client = tdClientFor(platform, source);
  try {
    await dropTdScratchDatabase(client, database);
  } finally {
    client.close();
  }
}

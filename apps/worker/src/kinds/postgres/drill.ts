import { pipeline } from 'node:stream/promises';
import {
  type ManifestObject,
  BinaryCopyRowHashSink,
  LineHashSink,
  PG_COPY_BINARY,
  addLineHashes,
  EMPTY_LINE_HASH,
  displayName,
} from '@bk/core';
import { type Platform, openObject, pgUrlForDatabase } from '@bk/platform';
import { SnapshotSession, exportTable, quoteIdent } from '@bk/postgres';
import pg from 'pg';

/**
 * After a drill restore: for every restored table, the hash of its rows read back with
 * COPY (in the format of its objects) must equal the hash of the rows in the backup's
 * objects (order-independent, so chunks loaded in parallel compare equal). Returns the
 * differences.
 */
export async function compareDrill(
  platform: Platform,
  databases: Map<string, string>,
  data: readonly ManifestObject[],
  dataKey: Buffer | undefined,
  serverUrl: string,
  signal: AbortSignal,
): Promise<{ tables: number; differences: string[] }> {
  const differences: string[] = [];
  let tables = 0;
  for (const [from, to] of databases) {
    const byTable = new Map<string, ManifestObject[]>();
    for (const o of data.filter((x) => x.database === from))
      byTable.set(`${o.schemaName}\u0000${o.tableName}`, [...(byTable.get(`${o.schemaName}\u0000${o.tableName}`) ?? []), o]);
    const session = await SnapshotSession.open(pgUrlForDatabase(serverUrl, to), { signal });
    try {
      for (const objs of byTable.values()) {
        const first = objs[0] as ManifestObject;
        const binary = first.format === PG_COPY_BINARY;
        const rowHash = () => (binary ? new BinaryCopyRowHashSink() : new LineHashSink());
        let expected = EMPTY_LINE_HASH;
        for (const o of objs) {
          const sink = rowHash();
          await pipeline((await openObject(platform, o, dataKey, signal)).stream, sink);
          expected = addLineHashes(expected, sink.value());
        }
        const { stream, done } = await exportTable({
          url: pgUrlForDatabase(serverUrl, to),
          snapshotId: session.snapshotId,
          table: { schema: first.schemaName as string, name: first.tableName as string, columns: first.columns ?? [] },
          format: binary ? 'binary' : 'text',
          signal,
        });
        const sink = rowHash();
        await pipeline(stream, sink);
        await done;
        tables++;
        if (sink.value() !== expected)
          differences.push(
            `${to}.${displayName(first.schemaName as string, first.tableName as string)}: rows hash ${sink.value()}, backup ${expected}`,
          );
      }
    } finally {
      await session.close();
    }
  }
  return { tables, differences };
}

/** Drops a drill's scratch database, disconnecting whoever is still in it. */
export async function dropScratchDatabase(serverUrl: string, database: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrlForDatabase(serverUrl, 'postgres') });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

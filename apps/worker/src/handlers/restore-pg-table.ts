import type { Readable } from 'node:stream';
import { getRestore } from '@bk/catalog';
import { PG_COPY_BINARY, PG_COPY_TEXT, PermanentJobError, releaseBuffer, type ManifestObject } from '@bk/core';
import { loadManifest, openObject, pgUrlForDatabase, restoreRequestOf } from '@bk/platform';
import { importTable } from '@bk/postgres';
import { recordLoad } from './load-status.ts';
import type { Handler } from './types.ts';

/**
 * Loads one data object: storage -> verify SHA-256 -> decrypt -> decompress -> COPY FROM
 * STDIN, in one transaction that also writes a ledger row. A retry after a committed load
 * finds the ledger row and does nothing; a load that fails (or whose checksum does not
 * match at the end) rolls back whole. Rows loaded must equal the manifest's count.
 *
 * With `objectKeys` (the coordinator's choice where the target skips WAL for tables filled
 * in the transaction that emptied them), every chunk of one table is loaded in order, a
 * COPY each, in one transaction: each object is still checked on its own (size, SHA-256,
 * rows against the manifest), and the ledger row is the first object's.
 *
 * A job that loads a whole table may have a parent in the flow that builds the table's
 * indexes once it is done (restore-pg-indexes.ts).
 */
export const restorePgTable: Handler<'restore.pg-table'> = async (platform, p, ctx) => {
  const { restoreId } = p;
  const { db } = platform;
  const restore = await getRestore(db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') throw new PermanentJobError(`restore ${restoreId} is ${restore.status}; load not run`);
  const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
  const keys = p.objectKeys ?? [p.objectKey];
  const objs = keys.map((key) => {
    const obj = manifest.objects.find((o) => o.key === key && o.kind === 'data');
    if (!obj || obj.schemaName === undefined || obj.tableName === undefined || !obj.columns)
      throw new PermanentJobError(`object ${key} is not a data object of backup ${restore.backupId}`);
    return obj;
  });
  const first = objs[0]!;
  if (objs.some((o) => o.database !== first.database || o.schemaName !== first.schemaName || o.tableName !== first.tableName))
    throw new PermanentJobError(`objects ${keys.join(', ')} are not of one table`);
  const format = copyFormatOf(first);
  if (objs.some((o) => o.format !== first.format)) throw new PermanentJobError(`objects ${keys.join(', ')} mix COPY formats`);
  const req = restoreRequestOf(restore);
  const target = req.targetDatabase ?? first.database;
  const source = platform.sources.forJob(restore.source);
  const table = { schema: first.schemaName!, name: first.tableName!, columns: first.columns! };
  const expected = objs.reduce((a, o) => a + o.rows, 0);
  const label = first.table ?? first.key;
  return recordLoad(platform, { restoreId, objectKeys: keys, label }, ctx, async () => {
    const counted: number[] = [];
    let current: (() => number) | undefined;
    // One object open at a time, one COPY each; an integrity error of any of them, or a row
    // count other than the manifest's (checked before the next object opens, and for the
    // last one before the commit), fails the whole load.
    async function* objectsInOrder(): AsyncGenerator<Readable> {
      for (const obj of objs) {
        const opened = await openObject(platform, obj, dataKey, ctx.signal);
        current = opened.rows;
        try {
          yield opened.stream;
        } finally {
          if (!opened.stream.readableEnded) opened.stream.destroy();
        }
        const rows = opened.rows();
        if (rows !== obj.rows) throw new PermanentJobError(`${describe(obj)}: holds ${rows} rows, the manifest says ${obj.rows}`);
        counted.push(rows);
        current = undefined;
      }
    }
    // Shown in Bull Board; sampled on a timer (a 'data' listener would steal the stream).
    const progress = setInterval(() => {
      const rows = counted.reduce((a, b) => a + b, 0) + (current?.() ?? 0);
      ctx.job.updateProgress({ table: first.table, rows, of: expected }).catch(() => undefined);
    }, 2000);
    const url = pgUrlForDatabase(source.url, target);
    const { rows } = await importTable({
      url,
      table,
      source: { parts: objectsInOrder() },
      format,
      // COPY's own count must agree too (a server that dropped rows, e.g. through a trigger).
      checkPart: (i, n) => {
        const obj = objs[i]!;
        if (n !== obj.rows) throw new PermanentJobError(`${describe(obj)}: COPY loaded ${n} rows, the manifest says ${obj.rows}`);
      },
      // The decoded chunks go nowhere else: once sent, their pooled buffers are reused.
      sent: releaseBuffer,
      ledger: { restoreId, objectKey: first.key },
      encoding: encodingOf(manifest.databases.find((d) => d.name === first.database)?.options),
      // The whole table in one transaction: WAL can be skipped (see importTable).
      ...(objs.length > 1 ? { skipWal: true } : {}),
      signal: ctx.signal,
    }).finally(() => clearInterval(progress));
    if (rows !== expected) throw new PermanentJobError(`${label}: loaded ${rows} rows, the manifest says ${expected}`);
    // A plain object: it is also the job's return value, stored as JSON.
    return { rows, rowsByKey: Object.fromEntries(objs.map((o) => [o.key, o.rows])) };
  });
};

/** The COPY format an object was written in; a format this version does not know is refused. */
function copyFormatOf(obj: ManifestObject): 'text' | 'binary' {
  if (obj.format === PG_COPY_TEXT) return 'text';
  if (obj.format === PG_COPY_BINARY) return 'binary';
  throw new PermanentJobError(`${obj.key}: data format ${JSON.stringify(obj.format)} is not one this version restores into PostgreSQL`);
}

function describe(obj: ManifestObject): string {
  return `${obj.table ?? obj.key}${obj.chunk ? ` part ${obj.chunk.index + 1}/${obj.chunk.count}` : ''}`;
}

function encodingOf(options: Record<string, unknown> | undefined): string | undefined {
  const e = options?.encoding;
  return typeof e === 'string' ? e : undefined;
}

/** The data half of a backup: one table (or one block range of it) as COPY data, text or binary. */

import type { Readable } from 'node:stream';
import type { Client } from 'pg';
import { copyWithClause, type CopyFormat } from './copy-format.ts';
import { fastCopyTo as copyTo } from './copy-out.ts';
import { abortConnectionOn, CANONICAL_SESSION_SQL, closeClient, connect, destroyClient, errorContext } from './connection.ts';
import { abortReason, pgErrorToDomain } from './errors.ts';
import { quoteColumnList, quoteLiteral, quoteQualified } from './quote.ts';
import { parseTarget } from './target.ts';
import type { BlockRange, TableSpec } from './types.ts';

export interface ExportTableOptions {
  readonly url: string;
  /** From {@link SnapshotSession.snapshotId}. */
  readonly snapshotId: string;
  readonly table: TableSpec;
  /** A block range from {@link SnapshotSession.tableChunks}; absent or null: the whole table. */
  readonly chunk?: BlockRange | null | undefined;
  /** Default text; binary only for tables whose columns allow it (ExportableTable.binaryCopySafe). */
  readonly format?: CopyFormat | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

export interface TableExport {
  /** Raw COPY bytes in the requested format; text in the database's encoding. */
  readonly stream: Readable;
  /**
   * Settles after the stream: resolves with the row count COPY reported once the transaction
   * is committed and the connection released; rejects if the export failed, was aborted or
   * the stream was destroyed before its end (then `stream` errored or closed too).
   */
  readonly done: Promise<{ rows: number }>;
}

/**
 * The COPY statement for a table or a block range of it. Identifiers are quoted; block
 * numbers are integers.
 *
 * - Whole table: `COPY "s"."t" ("c1", ...) TO STDOUT` (COPY of a table never includes rows
 *   of inheritance children).
 * - Range: `COPY (SELECT "c1", ... FROM ONLY "s"."t" WHERE ctid >= '(a,0)' AND ctid <
 *   '(b,0)') TO STDOUT` (an open range has no upper bound); ONLY keeps children's rows out.
 * - A table without columns: no column list (`COPY t () ...` is a syntax error) and
 *   `SELECT FROM`; COPY then writes one empty line per row, which COPY FROM reads back as one
 *   row each, so row counts survive.
 */
export function exportCopySql(table: TableSpec, chunk?: BlockRange | null, format: CopyFormat = 'text'): string {
  const rel = quoteQualified(table);
  const cols = quoteColumnList(table.columns);
  const options = copyWithClause(format);
  if (!chunk) return table.columns.length ? `COPY ${rel} (${cols}) TO STDOUT${options}` : `COPY ${rel} TO STDOUT${options}`;
  for (const b of [chunk.fromBlock, chunk.toBlock]) {
    if (b !== null && (!Number.isSafeInteger(b) || b < 0)) throw new RangeError(`invalid block number ${String(b)}`);
  }
  const conds = [`ctid >= '(${chunk.fromBlock},0)'::pg_catalog.tid`];
  if (chunk.toBlock !== null) conds.push(`ctid < '(${chunk.toBlock},0)'::pg_catalog.tid`);
  return `COPY (SELECT ${cols} FROM ONLY ${rel} WHERE ${conds.join(' AND ')}) TO STDOUT${options}`;
}

/**
 * Exports a table (or a block range of it) as seen by the coordinator's snapshot, on its own
 * connection: `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT
 * '<id>'`, the canonical session settings (see CANONICAL_SESSION_SQL: ISO dates, UTC, exact
 * floats, hex bytea, empty search_path...), client_encoding = the database encoding (bytes
 * pass through unconverted), then COPY in `format` (see {@link exportCopySql}).
 *
 * Resolves once COPY has started; rejects with SnapshotGoneError when the snapshot can no
 * longer be imported, or with the connection errors (SourceUnreachableError,
 * SourceAuthError...). The stream is backpressured by the consumer. When it ends the
 * transaction is committed and the connection closed; on error, abort (cancel request +
 * socket closed) or early destroy the connection is closed and `done` rejects.
 */
export async function exportTable(opts: ExportTableOptions): Promise<TableExport> {
  const target = parseTarget(opts.url);
  const ctx = { ...errorContext(target), snapshotId: opts.snapshotId };
  const sql = exportCopySql(opts.table, opts.chunk, opts.format);
  const client: Client = await connect(target, {
    signal: opts.signal,
    connectTimeoutMs: opts.connectTimeoutMs,
    applicationName: 'bk-export',
  });
  const unhook = abortConnectionOn(opts.signal, target, client);
  try {
    await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT ${quoteLiteral(opts.snapshotId)}; ${CANONICAL_SESSION_SQL}; ` +
        `SELECT pg_catalog.set_config('client_encoding', pg_catalog.pg_encoding_to_char(d.encoding), false) FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`,
    );
  } catch (err) {
    unhook();
    await closeClient(client);
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    throw pgErrorToDomain(err, ctx);
  }

  const stream = copyTo(sql);
  // Errors reach the consumer through the stream: make them the typed ones (or the abort).
  const hook = stream as unknown as { handleError(err: Error): void };
  const handleError = hook.handleError.bind(stream);
  hook.handleError = (err) => handleError(opts.signal?.aborted ? abortReason(opts.signal) : pgErrorToDomain(err, ctx));
  client.query(stream);
  const done = new Promise<{ rows: number }>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      unhook();
      destroyClient(client);
      reject(opts.signal?.aborted ? abortReason(opts.signal) : pgErrorToDomain(err, ctx));
    };
    stream.once('error', fail);
    stream.once('close', () => {
      if (!stream.readableEnded) fail(new Error('the export stream was closed before its end'));
    });
    stream.once('end', () => {
      // COMMIT is queued behind the COPY, so it runs after CommandComplete set rowCount.
      client.query('COMMIT').then(async () => {
        if (settled) return;
        settled = true;
        unhook();
        await closeClient(client);
        resolve({ rows: stream.rowCount });
      }, fail);
    });
  });
  done.catch(() => undefined); // consumers may follow only the stream; never an unhandled rejection
  return { stream, done };
}

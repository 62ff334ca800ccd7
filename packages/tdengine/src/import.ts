/**
 * The data half of a restore: td-jsonl rows into tables, as multi-row, multi-table
 *
 *   INSERT INTO `db`.`c1` USING `db`.`stb` (`t1`, ...) TAGS (...) (`ts`, `c1`, ...) VALUES (...)(...)
 *               `db`.`c2` ... VALUES (...)
 *
 * statements kept under `maxStatementBytes` (UTF-8; TDengine's limit is 1 MiB). Every column
 * is written explicitly, NULLs included, so replaying rows (an incremental's overlap) gives
 * the same result. `USING ... TAGS` creates a missing child table; it does not change the tags
 * of an existing one. Each statement's `affected_rows` must equal the rows it carried.
 */

import type { Readable } from 'node:stream';
import type { TdClient } from './client.ts';
import { TdInvalidInputError, TdRowCountMismatchError } from './errors.ts';
import { quoteIdent, quoteQualified } from './quote.ts';
import { TdJsonLineReader } from './td-jsonl.ts';
import type { ColumnInfo, TagValue } from './types.ts';
import type { RawRowBatch } from './response-parser.ts';
import { sqlLiteralEncoder, sqlTokenEncoder, type SqlTokenEncoder } from './values.ts';

export const DEFAULT_MAX_STATEMENT_BYTES = 900 * 1024;

export interface ImportTable {
  readonly name: string;
  /** The super table of a child table: the rows are inserted with `USING stable TAGS (...)`. */
  readonly stable?: string | undefined;
  /** The child table's tags (all of them, in the super table's order), with `stable`. */
  readonly tags?: readonly TagValue[] | undefined;
}

export interface ImportItem {
  readonly table: ImportTable;
  /** The data columns of the td-jsonl lines, in their order (timestamp first). */
  readonly columns: readonly ColumnInfo[];
  /** td-jsonl bytes. */
  readonly source: Readable | AsyncIterable<Buffer | string>;
}

export interface ImportCommonOptions {
  readonly client: TdClient;
  readonly db: string;
  /** Upper bound of a statement in UTF-8 bytes; default 900 KiB. */
  readonly maxStatementBytes?: number | undefined;
  /** Statements in flight at once; default 2 (one built while one executes). */
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Deadline of each statement; default the client's. */
  readonly timeoutMs?: number | undefined;
}

export interface ImportRowsOptions extends ImportCommonOptions, ImportItem {}

export interface ImportTablesOptions extends ImportCommonOptions {
  /** Read one after the other; rows of consecutive tables share statements. */
  readonly items: Iterable<ImportItem> | AsyncIterable<ImportItem>;
}

/** Imports one table's td-jsonl rows. */
export async function importRows(opts: ImportRowsOptions): Promise<{ rows: number }> {
  const { table, columns, source, ...common } = opts;
  const res = await importTables({ ...common, items: [{ table, columns, source }] });
  return { rows: res.rows };
}

/**
 * Imports several tables' rows, packing consecutive tables into shared statements (many small
 * child tables then cost few requests). Resolves with the rows per table once every statement
 * succeeded; on the first failure the statements in flight are aborted and the call rejects
 * (statements already executed stay: replaying is harmless, see above).
 */
export async function importTables(opts: ImportTablesOptions): Promise<{ rows: number; tables: { name: string; rows: number }[] }> {
  const { client, db, signal, timeoutMs } = opts;
  const maxBytes = opts.maxStatementBytes ?? DEFAULT_MAX_STATEMENT_BYTES;
  const concurrency = opts.concurrency ?? 2;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) throw new TdInvalidInputError('maxStatementBytes must be at least 1024');
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TdInvalidInputError('concurrency must be a positive integer');
  signal?.throwIfAborted();

  const internal = new AbortController();
  const callSignal = signal ? AbortSignal.any([signal, internal.signal]) : internal.signal;
  const inFlight: Promise<void>[] = [];
  let failure: unknown;

  const send = (sql: string, rows: number): void => {
    const p = client.exec(sql, { signal: callSignal, timeoutMs }).then((affected) => {
      if (affected !== rows) {
        throw new TdRowCountMismatchError(
          `an INSERT into ${db} carried ${rows} rows but TDengine reports ${affected} affected rows`,
          BigInt(rows),
          BigInt(affected),
        );
      }
    });
    p.catch((err: unknown) => {
      if (failure === undefined) failure = err;
      internal.abort(err);
    });
    inFlight.push(p);
  };

  const packer = new StatementPacker(maxBytes, send);
  const results: { name: string; rows: number }[] = [];
  try {
    for await (const item of opts.items) {
      const rows = await importItem(db, item, packer, async () => {
        while (inFlight.length >= concurrency) await inFlight.shift();
        if (failure !== undefined) throw failure;
      });
      results.push({ name: item.table.name, rows });
    }
    packer.flush();
    while (inFlight.length > 0) await inFlight.shift();
  } catch (err) {
    internal.abort(err);
    await Promise.allSettled(inFlight);
    throw failure ?? err;
  }
  return { rows: results.reduce((a, r) => a + r.rows, 0), tables: results };
}

/** `INSERT INTO`'s part for one table, up to `VALUES `. */
export function tableClause(db: string, table: ImportTable, columns: readonly ColumnInfo[]): string {
  let using = '';
  if (table.stable !== undefined) {
    const tags = table.tags;
    if (tags === undefined || tags.length === 0)
      throw new TdInvalidInputError(`child table ${table.name}: tags are required with a super table`);
    const names = tags.map((t) => quoteIdent(t.name)).join(', ');
    const values = tags.map((t) => sqlLiteralEncoder(t.type)(t.value)).join(', ');
    using = ` USING ${quoteQualified(db, table.stable)} (${names}) TAGS (${values})`;
  } else if (table.tags !== undefined && table.tags.length > 0) {
    throw new TdInvalidInputError(`table ${table.name}: tags given without its super table`);
  }
  if (columns.length === 0) throw new TdInvalidInputError(`table ${table.name}: no columns`);
  const cols = columns.map((c) => quoteIdent(c.name)).join(', ');
  return `${quoteQualified(db, table.name)}${using} (${cols}) VALUES `;
}

async function importItem(db: string, item: ImportItem, packer: StatementPacker, slot: () => Promise<void>): Promise<number> {
  const { table, columns, source } = item;
  const clause = tableClause(db, table, columns);
  const encoders: SqlTokenEncoder[] = columns.map((c) => sqlTokenEncoder(c.type));
  const width = columns.length;
  const label = `td-jsonl of ${db}.${table.name}`;
  const reader = new TdJsonLineReader(width, label);
  const sc = reader.scanner;
  const handle = packer.openTable(clause);
  let rows = 0;
  const add = async (batch: RawRowBatch): Promise<void> => {
    const { text: s, starts, ends } = batch;
    for (let r = 0; r < batch.rows; r++) {
      const base = r * width;
      if (s.charCodeAt(starts[base]!) === 0x6e) throw new TdInvalidInputError(`${label}: line ${rows + 1} has no timestamp`);
      let tuple = '(';
      try {
        for (let i = 0; i < width; i++) {
          if (i > 0) tuple += ',';
          tuple += encoders[i]!(s, starts[base + i]!, ends[base + i]!, sc);
        }
      } catch (err) {
        throw reader.invalidValue(err, batch.rows - r);
      }
      tuple += ')';
      rows++;
      if (packer.add(handle, tuple)) await slot();
    }
  };
  for await (const chunk of source) await add(reader.pushRaw(chunk as Buffer | string));
  await add(reader.endRaw());
  return rows;
}

/**
 * Packs table clauses and row tuples into statements below a byte limit; hands each full
 * statement to `send` with its row count.
 */
export class StatementPacker {
  private sql = '';
  private bytes = 0;
  private rows = 0;
  private clauses: string[] = [];
  private clauseBytes: number[] = [];
  /** The table whose clause is open at the end of the current statement. */
  private open = -1;

  constructor(
    private readonly maxBytes: number,
    private readonly send: (sql: string, rows: number) => void,
  ) {}

  /** Registers a table clause; returns its handle. */
  openTable(clause: string): number {
    this.clauses.push(clause);
    this.clauseBytes.push(Buffer.byteLength(clause, 'utf8'));
    return this.clauses.length - 1;
  }

  /** Adds a row tuple; returns true when a statement was sent. */
  add(table: number, tuple: string): boolean {
    const tupleBytes = Buffer.byteLength(tuple, 'utf8');
    let sent = false;
    const clauseCost = (): number => (this.open === table ? 0 : this.clauseBytes[table]! + 1);
    if (this.rows > 0 && this.bytes + clauseCost() + tupleBytes > this.maxBytes) {
      this.flush();
      sent = true;
    }
    if (this.rows === 0) {
      this.sql = 'INSERT INTO';
      this.bytes = this.sql.length;
      this.open = -1;
    }
    if (this.open !== table) {
      this.sql += ' ' + this.clauses[table]!;
      this.bytes += this.clauseBytes[table]! + 1;
      this.open = table;
    }
    if (this.bytes + tupleBytes > this.maxBytes) {
      throw new TdInvalidInputError(`a row of ${tupleBytes} bytes does not fit in a statement of at most ${this.maxBytes} bytes`);
    }
    this.sql += tuple;
    this.bytes += tupleBytes;
    this.rows++;
    return sent;
  }

  /** Sends the statement being built, if it has rows. */
  flush(): void {
    if (this.rows === 0) return;
    const sql = this.sql;
    const rows = this.rows;
    this.sql = '';
    this.bytes = 0;
    this.rows = 0;
    this.open = -1;
    this.send(sql, rows);
  }
}

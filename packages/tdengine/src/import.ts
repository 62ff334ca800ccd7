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

import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { TdClient } from './client.ts';
import { TdInvalidInputError, TdRowCountMismatchError } from './errors.ts';
import { quoteIdent, quoteQualified } from './quote.ts';
import { TdJsonLineReader } from './td-jsonl.ts';
import type { ColumnInfo, TagValue } from './types.ts';
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
 *
 * Statements are built as UTF-8 bytes straight from the td-jsonl bytes ({@link StatementBuilder},
 * {@link LineConverter}): the common tokens are validated and copied byte by byte, so no string
 * per value, row or statement is made (they cost more in allocation, rope flattening and
 * re-encoding than the conversion itself); anything unusual takes the string path.
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

  const send = (sql: Buffer, rows: number, release: () => void): void => {
    const p = client.exec(sql, { signal: callSignal, timeoutMs }).then((affected) => {
      // the request is complete: its body can be reused (not after a failure: a write may be pending)
      release();
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
  const slot = async (): Promise<void> => {
    while (inFlight.length >= concurrency) await inFlight.shift();
    if (failure !== undefined) throw failure;
  };

  const builder = new StatementBuilder(maxBytes, send, concurrency + 1);
  const results: { name: string; rows: number }[] = [];
  try {
    for await (const item of opts.items) {
      const rows = await importItem(db, item, builder, slot);
      results.push({ name: item.table.name, rows });
    }
    builder.flush();
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

const NL = 0x0a;

async function importItem(db: string, item: ImportItem, builder: StatementBuilder, slot: () => Promise<void>): Promise<number> {
  const { table, columns, source } = item;
  const handle = builder.openTable(tableClause(db, table, columns));
  const conv = new LineConverter(columns, `td-jsonl of ${db}.${table.name}`, builder, handle);
  // Lines are converted from the chunk they are in; only a line cut by a chunk boundary is copied.
  const run = async (buf: Buffer, from: number, to: number, final: boolean): Promise<void> => {
    const valid = isUtf8(from === 0 && to === buf.length ? buf : buf.subarray(from, to));
    let p = from;
    while (p < to) {
      p = conv.lines(buf, p, to, valid, final);
      if (builder.sent) {
        builder.sent = false;
        await slot();
      }
    }
  };
  let carry: Buffer | undefined;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : (raw as Buffer);
    let p = 0;
    if (carry !== undefined) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        carry = Buffer.concat([carry, chunk]);
        // a line this long could not fit in a statement anyway: refuse it before it fills memory
        if (carry.length > builder.maxLineBytes) {
          throw new TdInvalidInputError(
            `td-jsonl of ${db}.${table.name}: line ${conv.rows + 1} is longer than ${builder.maxLineBytes} bytes`,
          );
        }
        continue;
      }
      const line = Buffer.concat([carry, chunk.subarray(0, nl + 1)]);
      carry = undefined;
      await run(line, 0, line.length, false);
      p = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= p) {
      await run(chunk, p, last + 1, false);
      p = last + 1;
    }
    if (p < chunk.length) carry = chunk.subarray(p);
  }
  if (carry !== undefined && carry.length > 0) await run(carry, 0, carry.length, true);
  return conv.rows;
}

/** How {@link LineConverter} copies a column's tokens (anything else takes the string path). */
const K_INT = 0;
const K_UINT = 1;
const K_BOOL = 2;
const K_REAL = 3;
const K_FLOAT = 4;
const K_STRING = 5;
const K_HEX = 6;
const K_SLOW = 7;

function kindOf(type: ColumnInfo['type']): number {
  switch (type.name) {
    case 'TIMESTAMP':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
      return K_INT;
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      return K_UINT;
    case 'BOOL':
      return K_BOOL;
    case 'DOUBLE':
      return K_REAL;
    case 'FLOAT':
      return K_FLOAT;
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
      return K_STRING;
    case 'VARBINARY':
    case 'BLOB':
      return K_HEX;
    case 'GEOMETRY':
    case 'DECIMAL':
      return K_SLOW;
  }
}

function isDigitByte(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHexByte(c: number): boolean {
  const l = c | 0x20;
  return (c >= 0x30 && c <= 0x39) || (l >= 0x61 && l <= 0x66);
}

/**
 * td-jsonl lines (bytes) into SQL row tuples written into a {@link StatementBuilder}. A line
 * whose tokens are all in the common forms (JSON-valid integers, decimals with a point, plain
 * strings without escapes or apostrophes, hex strings, booleans, nulls; no whitespace) is
 * validated and copied byte by byte; any other line (and any line of a chunk that is not
 * valid UTF-8) goes through {@link TdJsonLineReader} and the typed encoders of values.ts, which
 * give the same SQL and the errors with their line numbers.
 */
export class LineConverter {
  rows = 0;
  private readonly kinds: Uint8Array;
  private readonly width: number;
  private readonly encoders: SqlTokenEncoder[];
  private readonly slow: TdJsonLineReader;

  constructor(
    columns: readonly ColumnInfo[],
    private readonly label: string,
    private readonly out: StatementBuilder,
    private readonly table: number,
  ) {
    this.width = columns.length;
    this.kinds = Uint8Array.from(columns.map((c) => kindOf(c.type)));
    this.encoders = columns.map((c) => sqlTokenEncoder(c.type));
    this.slow = new TdJsonLineReader(this.width, label);
  }

  /**
   * Converts the lines of `src[from, to)` (ending with a line feed unless `final`) until the
   * end or until a statement was sent (`out.sent`); returns where it stopped.
   */
  lines(src: Buffer, from: number, to: number, valid: boolean, final: boolean): number {
    const out = this.out;
    let p = from;
    while (p < to) {
      let nl = src.indexOf(NL, p);
      if (nl < 0 || nl >= to) {
        if (!final) throw new Error('LineConverter: a line without its line feed');
        nl = to;
      }
      this.rows++;
      out.beginRow(this.table, nl - p + 2 * this.width + 2);
      if (!valid || !this.fast(src, p, nl)) this.slowLine(src, p, nl < to ? nl + 1 : nl);
      p = nl + 1;
      if (out.endRow(this.table)) return p;
    }
    return to;
  }

  /** One line `src[a, e)` (no line feed) in the common forms; false (nothing kept) otherwise. */
  private fast(src: Buffer, a: number, e: number): boolean {
    const out = this.out;
    const buf = out.buf;
    let o = out.pos;
    const width = this.width;
    const kinds = this.kinds;
    if (src[a] !== 0x5b) return false;
    let j = a + 1;
    buf[o++] = 0x28;
    for (let c = 0; c < width; c++) {
      const ch = src[j];
      if (ch === 0x6e) {
        // null (never the timestamp: the string path says why)
        if (c === 0 || src[j + 1] !== 0x75 || src[j + 2] !== 0x6c || src[j + 3] !== 0x6c) return false;
        buf[o++] = 0x4e;
        buf[o++] = 0x55;
        buf[o++] = 0x4c;
        buf[o++] = 0x4c;
        j += 4;
      } else {
        switch (kinds[c]!) {
          case K_INT:
          case K_UINT: {
            const t = j;
            if (ch === 0x2d) {
              if (kinds[c] === K_UINT) return false;
              j++;
            }
            const d = src[j];
            if (d === 0x30) j++;
            else if (isDigitByte(d)) {
              j++;
              while (isDigitByte(src[j])) j++;
            } else return false;
            // a fraction, an exponent or a leading zero: the string path refuses or converts it
            if (src[j] === 0x2e || src[j] === 0x65 || src[j] === 0x45 || isDigitByte(src[j])) return false;
            for (let k = t; k < j; k++) buf[o++] = src[k]!;
            break;
          }
          case K_REAL:
          case K_FLOAT: {
            // `-?(0|[1-9][0-9]*)\.[0-9]+`, no exponent: sent as written (see values.ts). A FLOAT
            // must also be nonzero and short enough to be within float32's range at either end.
            // An integer gets `.0`.
            const t = j;
            if (ch === 0x2d) j++;
            let nonzero = false;
            const d = src[j];
            if (d === 0x30) j++;
            else if (isDigitByte(d)) {
              nonzero = true;
              j++;
              while (isDigitByte(src[j])) j++;
            } else return false;
            if (src[j] !== 0x2e) {
              // an integer: `.0` makes it a float literal (values.ts); zeros included (`-0` -> `-0.0`)
              if (src[j] === 0x65 || src[j] === 0x45 || j - t - (ch === 0x2d ? 1 : 0) > (kinds[c] === K_FLOAT ? 38 : 308)) return false;
              for (let k = t; k < j; k++) buf[o++] = src[k]!;
              buf[o++] = 0x2e;
              buf[o++] = 0x30;
              break;
            }
            j++;
            if (!isDigitByte(src[j])) return false;
            while (isDigitByte(src[j])) {
              if (src[j] !== 0x30) nonzero = true;
              j++;
            }
            if (src[j] === 0x65 || src[j] === 0x45) return false;
            if (kinds[c] === K_FLOAT && (!nonzero || j - t > 40)) return false;
            for (let k = t; k < j; k++) buf[o++] = src[k]!;
            break;
          }
          case K_BOOL:
            if (ch === 0x74 && src[j + 1] === 0x72 && src[j + 2] === 0x75 && src[j + 3] === 0x65) {
              buf[o++] = 0x74;
              buf[o++] = 0x72;
              buf[o++] = 0x75;
              buf[o++] = 0x65;
              j += 4;
            } else if (ch === 0x66 && src[j + 1] === 0x61 && src[j + 2] === 0x6c && src[j + 3] === 0x73 && src[j + 4] === 0x65) {
              buf[o++] = 0x66;
              buf[o++] = 0x61;
              buf[o++] = 0x6c;
              buf[o++] = 0x73;
              buf[o++] = 0x65;
              j += 5;
            } else return false;
            break;
          case K_STRING: {
            if (ch !== 0x22) return false;
            buf[o++] = 0x27;
            j++;
            for (;;) {
              const b = src[j];
              if (b === 0x22) break;
              // escapes, apostrophes and control characters (the line feed too) need the string path
              if (b === undefined || b === 0x5c || b === 0x27 || b < 0x20) return false;
              buf[o++] = b;
              j++;
            }
            buf[o++] = 0x27;
            j++;
            break;
          }
          case K_HEX: {
            if (ch !== 0x22) return false;
            const t = ++j;
            while (j < e && isHexByte(src[j]!)) j++;
            if (src[j] !== 0x22 || (j - t) % 2 !== 0) return false;
            buf[o++] = 0x27;
            buf[o++] = 0x5c;
            buf[o++] = 0x78;
            for (let k = t; k < j; k++) buf[o++] = src[k]!;
            buf[o++] = 0x27;
            j++;
            break;
          }
          default:
            return false;
        }
      }
      if (c + 1 < width) {
        if (src[j] !== 0x2c) return false;
        buf[o++] = 0x2c;
        j++;
      } else {
        if (src[j] !== 0x5d || j + 1 !== e) return false;
        buf[o++] = 0x29;
      }
    }
    if (j >= e || o - out.pos > e - a + 2 * width + 2) return false;
    out.pos = o;
    return true;
  }

  /** One line through the string reader and the typed encoders (the reference path). */
  private slowLine(src: Buffer, a: number, e: number): void {
    const reader = this.slow;
    reader.line = this.rows - 1;
    const line = src.subarray(a, e);
    let batch = reader.pushRaw(line);
    if (batch.rows === 0) batch = reader.endRaw();
    const { text: s, starts, ends } = batch;
    if (s.charCodeAt(starts[0]!) === 0x6e) throw new TdInvalidInputError(`${this.label}: line ${this.rows} has no timestamp`);
    let tuple = '(';
    try {
      for (let i = 0; i < this.width; i++) {
        if (i > 0) tuple += ',';
        tuple += this.encoders[i]!(s, starts[i]!, ends[i]!, reader.scanner);
      }
    } catch (err) {
      throw reader.invalidValue(err, 1);
    }
    tuple += ')';
    this.out.writeString(tuple);
  }
}

/**
 * Builds multi-table INSERT statements as UTF-8 bytes below a byte limit: `beginRow` opens the
 * row's table clause when another table's rows came last, the row tuple is written at `pos`,
 * `endRow` sends the statement once the row no longer fits (the row moves to the next one).
 * Statement buffers are reused once their request has completed.
 */
export class StatementBuilder {
  buf: Buffer;
  pos = 0;
  /** Set when `endRow` sent a statement; the caller clears it. */
  sent = false;
  private rows = 0;
  private open = -1;
  private rowStart = 0;
  private tupleStart = 0;
  private readonly clauses: Buffer[] = [];
  private readonly pool: Buffer[] = [];
  private readonly capacity: number;
  /** Longer td-jsonl lines cannot give a row that fits (escapes like `\u0041` shrink at most 6:1). */
  readonly maxLineBytes: number;

  constructor(
    private readonly maxBytes: number,
    private readonly send: (sql: Buffer, rows: number, release: () => void) => void,
    private readonly poolSize = 3,
  ) {
    this.capacity = maxBytes + 64 * 1024;
    this.maxLineBytes = 6 * maxBytes + 1024;
    this.buf = this.fresh();
  }

  /** Registers a table clause; returns its handle. */
  openTable(clause: string): number {
    this.clauses.push(Buffer.from(clause, 'utf8'));
    return this.clauses.length - 1;
  }

  /** Starts a row of `table` with room for `room` bytes of tuple. */
  beginRow(table: number, room: number): void {
    this.rowStart = this.pos;
    if (this.open !== table) {
      const clause = this.clauses[table]!;
      this.ensure(clause.length + 1 + room);
      this.buf[this.pos++] = 0x20;
      this.pos += clause.copy(this.buf, this.pos);
    } else this.ensure(room);
    this.tupleStart = this.pos;
  }

  /** Writes text at `pos` (the string path of a row). */
  writeString(text: string): void {
    this.pos = this.tupleStart;
    this.ensure(Buffer.byteLength(text, 'utf8'));
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /** Ends the row; true if a statement was sent (the row then starts the next statement). */
  endRow(table: number): boolean {
    if (this.pos <= this.maxBytes) {
      this.rows++;
      this.open = table;
      return false;
    }
    const tupleBytes = this.pos - this.tupleStart;
    if (this.rows === 0) throw this.tooLarge(tupleBytes);
    const old = this.buf;
    const tupleStart = this.tupleStart;
    const end = this.pos;
    this.pos = this.rowStart;
    this.flush();
    this.beginRow(table, tupleBytes);
    old.copy(this.buf, this.pos, tupleStart, end);
    this.pos += tupleBytes;
    if (this.pos > this.maxBytes) throw this.tooLarge(tupleBytes);
    this.rows = 1;
    this.open = table;
    this.sent = true;
    return true;
  }

  /** Sends the statement being built, if it has rows. */
  flush(): void {
    if (this.rows === 0) return;
    const buf = this.buf;
    const rows = this.rows;
    const sql = buf.subarray(0, this.pos);
    this.buf = this.fresh();
    this.rows = 0;
    this.open = -1;
    this.send(sql, rows, () => {
      if (this.pool.length < this.poolSize && buf.length === this.capacity) this.pool.push(buf);
    });
  }

  private fresh(): Buffer {
    const buf = this.pool.pop() ?? Buffer.allocUnsafeSlow(this.capacity);
    this.pos = buf.write('INSERT INTO', 0, 'latin1');
    this.open = -1;
    return buf;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  private tooLarge(tupleBytes: number): TdInvalidInputError {
    return new TdInvalidInputError(`a row of ${tupleBytes} bytes does not fit in a statement of at most ${this.maxBytes} bytes`);
  }
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

/**
 * td-batch-jsonl: the rows of several tables in one object (README.md). A line starting with
 * `{` opens a table and names its data columns; the td-jsonl rows that follow (lines starting
 * with `[`) are that table's:
 *
 *   {"table":"d1001","columns":[["ts","TIMESTAMP"],["current","FLOAT"]]}
 *   [1700000000000,10.3]
 *   [1700000001000,null]
 *   {"table":"d1002","columns":[["ts","TIMESTAMP"],["current","FLOAT"]]}
 *
 * One job exports a batch of child tables into one object, so 10 000 small child tables make
 * 100 objects, not 10 000. Each table is cross-checked with COUNT(*) as it is exported; the
 * rows of each are returned as `members` for the manifest.
 */

import { Readable } from 'node:stream';
import { TdInvalidInputError, abortReason } from './errors.ts';
import { type ExportRowsOptions, countSql, exportRows } from './export.ts';
import { countOf } from './schema-read.ts';
import { type ColumnInfo, parseTdType, typeSql } from './types.ts';

export interface BatchTable {
  readonly name: string;
  /** Data columns, timestamp first. */
  readonly columns: readonly ColumnInfo[];
}

export function batchHeader(t: BatchTable): string {
  return `${JSON.stringify({ table: t.name, columns: t.columns.map((c) => [c.name, typeSql(c.type)]) })}\n`;
}

export function parseBatchHeader(line: string, label: string): BatchTable {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new TdInvalidInputError(`${label}: a table header is not valid JSON: ${line.slice(0, 80)}`);
  }
  const o = v as { table?: unknown; columns?: unknown };
  if (typeof o.table !== 'string' || !Array.isArray(o.columns) || o.columns.length === 0)
    throw new TdInvalidInputError(`${label}: a table header lacks "table" or "columns": ${line.slice(0, 80)}`);
  const columns = (o.columns as unknown[]).map((c) => {
    if (!Array.isArray(c) || typeof c[0] !== 'string' || typeof c[1] !== 'string')
      throw new TdInvalidInputError(`${label}: table ${o.table as string}: a column is not [name, type]`);
    return { name: c[0], type: parseTdType(c[1]) };
  });
  return { name: o.table, columns };
}

export interface ExportBatchTable extends BatchTable {
  /** Read from the first row, whatever `from` says (a table an incremental's parent did not hold). */
  readonly whole?: boolean | undefined;
}

/** `exportRows`' options (window, paging, deadlines) for every table of the batch. */
export interface ExportBatchOptions extends Omit<ExportRowsOptions, 'table' | 'columns'> {
  readonly tables: readonly ExportBatchTable[];
  /**
   * An incremental's parent cut: each table's rows in `[newFrom, to)` are counted (before it
   * is read, so late rows can only add to what is exported) as its `newRows`. Absent, or for
   * a `whole` table, `newRows` is every row exported.
   */
  readonly newFrom?: bigint | undefined;
}

export interface BatchExport {
  readonly stream: Readable;
  /** Rows per table, once every table was read and cross-checked; rejects like `exportRows`. */
  readonly done: Promise<{ rows: number; members: BatchMember[] }>;
}

export interface BatchMember {
  table: string;
  rows: number;
  newRows: number;
}

/** Streams the tables one after the other, each through `exportRows` (paged, COUNT-checked). */
export function exportBatch(opts: ExportBatchOptions): BatchExport {
  const members: BatchMember[] = [];
  let resolveDone!: (v: { rows: number; members: BatchMember[] }) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<{ rows: number; members: BatchMember[] }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined);
  let finished = false;

  async function* generate(): AsyncGenerator<Buffer> {
    try {
      for (const t of opts.tables) {
        const from = t.whole ? undefined : opts.from;
        let newRows: number | undefined;
        if (opts.newFrom !== undefined && !t.whole) {
          const sql = countSql({ db: opts.db, table: t.name, tsColumn: t.columns[0]!.name, from: opts.newFrom, to: opts.to });
          newRows = await countOf(opts.client, sql, { signal: opts.signal, timeoutMs: opts.timeoutMs });
        }
        yield Buffer.from(batchHeader(t), 'utf8');
        const one = exportRows({ ...opts, table: t.name, columns: t.columns, from });
        try {
          for await (const chunk of one.stream) yield chunk as Buffer;
        } finally {
          one.stream.destroy();
        }
        const { rows } = await one.done;
        members.push({ table: t.name, rows, newRows: newRows ?? rows });
      }
      finished = true;
      resolveDone({ rows: members.reduce((a, m) => a + m.rows, 0), members });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      rejectDone(e);
      throw e;
    }
  }

  const stream = Readable.from(generate(), { objectMode: false, highWaterMark: 256 * 1024 });
  stream.once('close', () => {
    if (!finished) rejectDone(opts.signal?.aborted ? abortReason(opts.signal) : new Error('batch export stopped before its end'));
  });
  return { stream, done };
}

const NL = 0x0a;
const OPEN_BRACE = 0x7b;
const NL_BRACE = Buffer.from('\n{');

export interface BatchSection {
  readonly table: BatchTable;
  /** The table's td-jsonl rows; must be read to its end (or `skip()`ped) before the next section. */
  readonly rows: AsyncIterable<Buffer>;
  /** Rows left out because their timestamp is after `maxTs` (valid once `rows` ended). */
  dropped(): number;
}

export interface ReadBatchOptions {
  /** Names the input in messages. */
  readonly label: string;
  /** Rows with a timestamp above this (epoch in the database precision) are left out. */
  readonly maxTs?: bigint | undefined;
}

/**
 * Splits a td-batch-jsonl stream into its tables, lazily: each section's rows are slices of
 * the input chunks (nothing is copied unless `maxTs` asks for rows to be dropped).
 */
export async function* readBatch(source: AsyncIterable<Buffer>, opts: ReadBatchOptions): AsyncGenerator<BatchSection> {
  const it = source[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  let eof = false;

  const more = async (): Promise<boolean> => {
    if (eof) return false;
    const r = await it.next();
    if (r.done) {
      eof = true;
      return false;
    }
    const chunk = r.value;
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), chunk]) : chunk;
    pos = 0;
    return true;
  };

  const readHeaderLine = async (): Promise<string> => {
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      if (nl >= 0) {
        const line = buf.toString('utf8', pos, nl);
        pos = nl + 1;
        return line;
      }
      if (!(await more())) {
        const line = buf.toString('utf8', pos);
        pos = buf.length;
        return line;
      }
    }
  };

  let previousDone = true;
  for (;;) {
    if (!previousDone) throw new TdInvalidInputError(`${opts.label}: a section was not read to its end`);
    while (pos >= buf.length) if (!(await more())) return;
    if (buf[pos] !== OPEN_BRACE)
      throw new TdInvalidInputError(`${opts.label}: expected a table header, found ${buf.toString('utf8', pos, pos + 40)}`);
    const table = parseBatchHeader(await readHeaderLine(), opts.label);
    let dropped = 0;
    previousDone = false;
    const rows = async function* (): AsyncGenerator<Buffer> {
      let skipping = false;
      let carry: Buffer | undefined;
      // A "{" opens the next table only at the start of a line: a chunk may also begin
      // with one inside a row (a string value cut just after its quote).
      let lineStart = true;
      for (;;) {
        if (pos >= buf.length && !(await more())) break;
        if (lineStart && buf[pos] === OPEN_BRACE) break;
        const end = buf.indexOf(NL_BRACE, pos);
        // Rows of this table: up to the next header, or to the end of this chunk.
        const stop = end >= 0 ? end + 1 : buf.length;
        const slice = buf.subarray(pos, stop);
        pos = stop;
        lineStart = buf[stop - 1] === NL;
        if (opts.maxTs === undefined) {
          yield slice;
        } else {
          const part = carry ? Buffer.concat([carry, slice]) : slice;
          carry = undefined;
          const { keep, rest, droppedLines, over } = filterLines(part, opts.maxTs, skipping, end >= 0 || eof);
          dropped += droppedLines;
          if (over) skipping = true;
          if (rest) carry = rest;
          if (keep.length) yield keep;
        }
        if (end >= 0) break;
      }
      if (carry?.length) {
        const { keep, droppedLines } = filterLines(carry, opts.maxTs!, skipping, true);
        dropped += droppedLines;
        if (keep.length) yield keep;
      }
      previousDone = true;
    };
    yield { table, rows: rows(), dropped: () => dropped };
  }
}

/**
 * Keeps the complete lines of `part` whose timestamp (the first value) is at most `maxTs`;
 * rows are in timestamp order, so after the first later one the rest of the table goes.
 * An incomplete last line comes back as `rest` unless `final`.
 */
function filterLines(
  part: Buffer,
  maxTs: bigint,
  skipping: boolean,
  final: boolean,
): { keep: Buffer; rest: Buffer | undefined; droppedLines: number; over: boolean } {
  let p = 0;
  let keepEnd = 0;
  let droppedLines = 0;
  let over = skipping;
  while (p < part.length) {
    let nl = part.indexOf(NL, p);
    if (nl < 0) {
      if (!final) return { keep: part.subarray(0, keepEnd), rest: part.subarray(p), droppedLines, over };
      nl = part.length;
    }
    if (!over) {
      const comma = part.indexOf(0x2c, p);
      const close = part.indexOf(0x5d, p);
      const stop = Math.min(comma >= 0 && comma < nl ? comma : nl, close >= 0 && close < nl ? close : nl);
      const ts = BigInt(part.toString('latin1', p + 1, stop));
      if (ts > maxTs) over = true;
    }
    if (over) droppedLines++;
    else keepEnd = Math.min(nl + 1, part.length);
    p = nl + 1;
  }
  return { keep: part.subarray(0, keepEnd), rest: undefined, droppedLines, over };
}

/**
 * The data half of a backup: the rows of one child or normal table in a time window, as
 * td-jsonl (README.md): one JSON array per row and line, values encoded losslessly.
 *
 * Rows are read with keyset paging, `ts > <last> AND ts < <to> ORDER BY ts LIMIT n` (the
 * first page `ts >= <from>`), and afterwards `COUNT(*)` over the same window must equal the
 * rows exported: REST truncates silently (restfulRowLimit, or a fetch error that taosAdapter
 * still ends with code 0), so a short page is never trusted on its own.
 */

import { Readable } from 'node:stream';
import type { TdClient } from './client.ts';
import { TdInvalidInputError, TdProtocolError, TdRowCountMismatchError, abortReason } from './errors.ts';
import { quoteIdent, quoteQualified } from './quote.ts';
import type { RawRowBatch } from './response-parser.ts';
import { countOf } from './schema-read.ts';
import { rfc3339ToEpochConverter } from './timestamp.ts';
import type { ColumnInfo, Precision, TdTypeName } from './types.ts';

export interface ExportRowsOptions {
  readonly client: TdClient;
  readonly db: string;
  /** A child or normal table. */
  readonly table: string;
  /** The table's data columns (from `describe`), the timestamp first. */
  readonly columns: readonly ColumnInfo[];
  readonly precision: Precision;
  /** Inclusive lower bound, an epoch in the database precision; absent: from the first row. */
  readonly from?: bigint | undefined;
  /** Exclusive upper bound, an epoch in the database precision: the backup's "as of" cut. */
  readonly to: bigint;
  /** Rows per page; default 10 000. Each page asks for one row more: keep it below the server's restfulRowLimit, if set. */
  readonly pageSize?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Deadline of each page request; default the client's. */
  readonly timeoutMs?: number | undefined;
}

export interface RowsExport {
  /** td-jsonl bytes (UTF-8): exactly one line per row. */
  readonly stream: Readable;
  /**
   * Resolves with the row count once every page is read and the COUNT(*) cross-check passed
   * (just before `stream` ends); rejects if the export failed, was aborted, or the stream was
   * destroyed before its end (the stream then errored or closed too).
   */
  readonly done: Promise<{ rows: number }>;
}

export const DEFAULT_PAGE_SIZE = 10_000;

/** The SELECT of one page. */
export function pageSql(o: {
  db: string;
  table: string;
  columns: readonly ColumnInfo[];
  after: string | undefined;
  from: bigint | undefined;
  to: bigint;
  limit: number;
}): string {
  const ts = quoteIdent(o.columns[0]!.name);
  const lower = o.after !== undefined ? `${ts} > ${o.after} AND ` : o.from !== undefined ? `${ts} >= ${o.from} AND ` : '';
  const cols = o.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `SELECT ${cols} FROM ${quoteQualified(o.db, o.table)} WHERE ${lower}${ts} < ${o.to} ORDER BY ${ts} ASC LIMIT ${o.limit}`;
}

/** The COUNT(*) over the same window. */
export function countSql(o: { db: string; table: string; tsColumn: string; from: bigint | undefined; to: bigint }): string {
  const ts = quoteIdent(o.tsColumn);
  const lower = o.from !== undefined ? `${ts} >= ${o.from} AND ` : '';
  return `SELECT COUNT(*) FROM ${quoteQualified(o.db, o.table)} WHERE ${lower}${ts} < ${o.to}`;
}

export function exportRows(opts: ExportRowsOptions): RowsExport {
  const { client, db, table, columns, precision, from, to, signal, timeoutMs } = opts;
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new TdInvalidInputError(`pageSize must be a positive integer`);
  if (columns.length === 0 || columns[0]!.type.name !== 'TIMESTAMP') {
    throw new TdInvalidInputError(`${db}.${table}: the first column must be the TIMESTAMP`);
  }
  if (from !== undefined && from >= to) throw new TdInvalidInputError(`empty window: from ${from} is not before to ${to}`);
  // validate names now, not in the middle of the stream
  pageSql({ db, table, columns, after: undefined, from, to, limit: pageSize });

  const encodeBatch = batchEncoder(columns, precision, `${db}.${table}`);
  const width = columns.length;
  const where = `${db}.${table}`;

  let resolveDone!: (v: { rows: number }) => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<{ rows: number }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // the caller may watch only the stream; the rejection is still delivered to whoever awaits
  done.catch(() => undefined);

  let finished = false;
  async function* generate(): AsyncGenerator<Buffer> {
    let total = 0;
    try {
      let after: string | undefined;
      for (;;) {
        // One row more than a page: when it does not come, this was the last page, and no
        // empty page has to be asked for (a table of exactly pageSize rows costs one SELECT).
        const res = await client.queryRaw(pageSql({ db, table, columns, after, from, to, limit: pageSize + 1 }), { signal, timeoutMs });
        if (res.columns.length !== width) {
          res.cancel();
          throw new TdProtocolError(`${where}: the page has ${res.columns.length} columns, expected ${width}`);
        }
        let pageRows = 0;
        let more = false;
        let lastTs: string | undefined;
        for await (const batch of res.batches()) {
          const take = Math.min(batch.rows, pageSize - pageRows);
          if (take < batch.rows) more = true;
          if (take === 0) continue;
          const encoded = encodeBatch(take < batch.rows ? { ...batch, rows: take } : batch);
          if (encoded.lastTs !== undefined) lastTs = encoded.lastTs;
          pageRows += take;
          yield Buffer.from(encoded.text, 'utf8');
        }
        total += pageRows;
        if (!more) break;
        if (after !== undefined && BigInt(lastTs!) <= BigInt(after)) {
          throw new TdProtocolError(`${where}: page did not advance past timestamp ${after}`);
        }
        after = lastTs;
      }
      // An empty answer is not zero: countOf refuses it (a truncated page and a truncated count must not agree on 0).
      const v = String(await countOf(client, countSql({ db, table, tsColumn: columns[0]!.name, from, to }), { signal, timeoutMs }));
      if (BigInt(v) !== BigInt(total)) {
        throw new TdRowCountMismatchError(
          `export of ${where} read ${total} rows but COUNT(*) over the same window says ${v}: the server truncated ` +
            `the result silently (restfulRowLimit at or below the page size ${pageSize}, or a fetch error it ended with ` +
            `code 0) or rows were written into the window during the export; the export is incomplete`,
          BigInt(v),
          BigInt(total),
        );
      }
      finished = true;
      resolveDone({ rows: total });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      rejectDone(e);
      throw e;
    } finally {
      if (!finished) rejectDone(new Error(`export of ${where} stopped before its end (stream destroyed)`));
    }
  }

  const stream = Readable.from(generate(), { objectMode: false, highWaterMark: 256 * 1024 });
  if (signal) {
    const onAbort = (): void => {
      stream.destroy(abortReason(signal));
    };
    if (signal.aborted) queueMicrotask(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
  }
  stream.once('close', () => {
    if (!finished)
      rejectDone(signal?.aborted ? abortReason(signal) : new Error(`export of ${where} stopped before its end (stream destroyed)`));
  });
  return { stream, done };
}

/** How a column's REST token becomes td-jsonl text. */
const PASS = 0;
const TIMESTAMP = 1;
const JSON_TEXT = 2;

/** First characters a token of a column may start with (`n` is null): a cheap shape check. */
function allowedStarts(type: TdTypeName): string {
  switch (type) {
    case 'BOOL':
      return 'tfn';
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
    case 'FLOAT':
    case 'DOUBLE':
      return '-0123456789n';
    case 'VARCHAR':
    case 'NCHAR':
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'BLOB':
    case 'DECIMAL':
    case 'TIMESTAMP':
      return '"n';
    case 'JSON':
      // a nested JSON value of any kind (the tag's object, or what `->` extracts)
      return '{["-0123456789tfn';
  }
}

/**
 * Turns raw row batches into td-jsonl text. Tokens that are already td-jsonl (numbers with
 * their exact text, strings as the server escaped them, booleans, null) are copied, runs of
 * such columns with one slice per row; TIMESTAMP tokens become integer epochs, JSON tags
 * become JSON strings holding their text. Nothing per value is allocated on the copy path.
 */
export function batchEncoder(
  columns: readonly ColumnInfo[],
  precision: Precision,
  where: string,
): (batch: RawRowBatch) => { text: string; lastTs: string | undefined } {
  const width = columns.length;
  const kinds = columns.map((c) => (c.type.name === 'TIMESTAMP' ? TIMESTAMP : c.type.name === 'JSON' ? JSON_TEXT : PASS));
  const starts = columns.map((c) => {
    const set = new Uint8Array(128);
    for (const ch of allowedStarts(c.type.name)) set[ch.charCodeAt(0)] = 1;
    return set;
  });
  const conv = columns.map((c) => (c.type.name === 'TIMESTAMP' ? rfc3339ToEpochConverter(precision) : undefined));
  // for each column starting a run of PASS columns, the last column of the run
  const runEnd = kinds.map((_, c) => {
    let e = c;
    while (e + 1 < width && kinds[e + 1] === PASS && kinds[c] === PASS) e++;
    return e;
  });

  return (batch) => {
    if (batch.rows === 0) return { text: '', lastTs: undefined };
    if (batch.width !== width) throw new TdProtocolError(`${where}: rows have ${batch.width} values for ${width} columns`);
    const { text: s, starts: st, ends: en, rows, spaced } = batch;
    let out = '';
    let lastTs: string | undefined;
    for (let r = 0; r < rows; r++) {
      const base = r * width;
      let line = '[';
      let c = 0;
      while (c < width) {
        if (c > 0) line += ',';
        const a = st[base + c]!;
        const first = s.charCodeAt(a);
        if (first >= 128 || starts[c]![first] !== 1) {
          throw new TdProtocolError(
            `${where}: column ${columns[c]!.name} (${columns[c]!.type.name}) got ${s.slice(a, Math.min(en[base + c]!, a + 40))}`,
          );
        }
        const kind = kinds[c];
        if (kind === PASS) {
          const e = runEnd[c]!;
          if (spaced) {
            for (let k = c; k <= e; k++) line += (k > c ? ',' : '') + s.slice(st[base + k]!, en[base + k]!);
          } else line += s.slice(a, en[base + e]!);
          for (let k = c + 1; k <= e; k++) {
            const f = s.charCodeAt(st[base + k]!);
            if (f >= 128 || starts[k]![f] !== 1) throw new TdProtocolError(`${where}: column ${columns[k]!.name} got an unexpected value`);
          }
          c = e + 1;
          continue;
        }
        const b = en[base + c]!;
        if (first === 0x6e) line += 'null';
        else if (kind === TIMESTAMP) {
          let v: string;
          try {
            v = conv[c]!.token(s, a, b);
          } catch (err) {
            throw new TdProtocolError(`${where}: ${(err as Error).message}`);
          }
          line += v;
          if (c === 0) lastTs = v;
        } else line += JSON.stringify(s.slice(a, b));
        c++;
      }
      if (s.charCodeAt(st[base]!) === 0x6e) throw new TdProtocolError(`${where}: a row without a timestamp`);
      // a raw line feed inside a string (invalid JSON the scanner does not police) would split the row
      if (line.indexOf('\n') >= 0) throw new TdProtocolError(`${where}: a value holds an unescaped line feed`);
      out += line + ']\n';
    }
    return { text: out, lastTs };
  };
}

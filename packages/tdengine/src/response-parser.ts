/**
 * Incremental parser of taosAdapter's `/rest/sql` response body (contract §1.4, §1.5):
 *
 *   {"code":0,"column_meta":[[name,TYPE,len],...],"data":[[...],...],"rows":N[,"timing":ns]}
 *   {"code":N,"desc":"..."[,"timing":ns]}
 *
 * Text is fed as it arrives, cut anywhere; complete rows come out as they are parsed, so a
 * result of any size streams through a bounded buffer. Values are kept losslessly (see
 * {@link RawValue}). Keys may come in any order, except that `column_meta` must precede `data`.
 * A body that ends early, a `rows` count that disagrees with the rows seen, or anything that
 * is not this shape is a {@link ResponseFormatError}.
 */

import { INCOMPLETE, JsonScanner, JsonSyntaxError, describeChar, isWs, skipWs } from './json-scan.ts';
import type { ColumnMeta, RawValue } from './types.ts';

/**
 * Rows as positions in the response text, for callers that copy or convert tokens themselves
 * (exports): nothing per value is allocated. Value `c` of row `r` is the JSON token
 * `text.slice(starts[r * width + c], ends[r * width + c])`, exactly as the server sent it.
 * Valid until the next batch is taken (the arrays are reused).
 */
export interface RawRowBatch {
  readonly text: string;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly rows: number;
  readonly width: number;
  /** Whitespace appeared between tokens: a slice spanning several values may contain it. */
  readonly spaced: boolean;
}

export class ResponseFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseFormatError';
  }
}

const S = {
  /** before the opening brace */
  START: 0,
  /** after `{`: a key or `}` */
  FIRST_KEY: 1,
  /** after a member: `,` or `}` */
  AFTER_MEMBER: 2,
  /** inside `data`: a row or `]` */
  ROW: 3,
  /** after a row: `,` or `]` */
  AFTER_ROW: 4,
  /** after the closing brace */
  DONE: 5,
  /** after `,` in the object: a key */
  KEY: 6,
  /** after `,` in data: a row */
  NEXT_ROW: 7,
} as const;
type State = (typeof S)[keyof typeof S];

/** Tail size from which an incomplete value makes the parser wait for the tail to double. */
const RETRY_THRESHOLD = 64 * 1024;

export class ResponseParser {
  code: number | undefined;
  desc: string | undefined;
  columns: ColumnMeta[] | undefined;
  /** The `rows` member, once seen. */
  rowsField: number | undefined;
  /** Rows parsed so far. */
  rowCount = 0;

  private state: State = S.START;
  private readonly scanner = new JsonScanner();
  private buf = '';
  private pos = 0;
  private pending: string[] = [];
  private pendingLen = 0;
  /** Do not parse again until the unparsed text is at least this long (huge values). */
  private retryAt = 0;
  private out: RawValue[][] = [];
  private rawColumns: boolean[] = [];
  /** Raw mode: rows are recorded as token positions instead of values. */
  private readonly raw: boolean;
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  private rawRows = 0;
  private spaced = false;

  constructor(opts: { raw?: boolean } = {}) {
    this.raw = opts.raw === true;
  }
  /** Characters consumed before `buf` (for error offsets). */
  private consumed = 0;

  /** True once `"data":[` has been reached: the columns are known and rows follow. */
  get inData(): boolean {
    return this.state === S.ROW || this.state === S.AFTER_ROW || this.state === S.NEXT_ROW;
  }

  get done(): boolean {
    return this.state === S.DONE;
  }

  /** Feeds text; parses whatever is complete. */
  write(text: string): void {
    if (text.length === 0) return;
    this.pending.push(text);
    this.pendingLen += text.length;
    if (this.buf.length - this.pos + this.pendingLen < this.retryAt) return;
    this.parse();
  }

  /** The end of the body: throws if the JSON is not complete. */
  end(): void {
    if (this.pendingLen > 0) this.parse();
    if (this.state !== S.DONE) {
      throw new ResponseFormatError(
        `the response ended early (truncated JSON after ${this.rowCount} rows, ${this.consumed + this.pos} characters)`,
      );
    }
    if (this.code === 0 && this.rowsField !== undefined && this.rowsField !== this.rowCount) {
      throw new ResponseFormatError(`the response says "rows":${this.rowsField} but carried ${this.rowCount} rows`);
    }
  }

  /** Rows parsed since the last call. */
  takeRows(): RawValue[][] {
    const rows = this.out;
    this.out = [];
    return rows;
  }

  /** Raw mode: the rows parsed since the last call, as positions in the current text. */
  takeRaw(): RawRowBatch {
    const batch: RawRowBatch = {
      text: this.buf,
      starts: this.starts,
      ends: this.ends,
      rows: this.rawRows,
      width: this.rawColumns.length,
      spaced: this.spaced,
    };
    this.rawRows = 0;
    this.spaced = false;
    return batch;
  }

  /** Rows parsed and not taken yet. */
  get bufferedRows(): number {
    return this.raw ? this.rawRows : this.out.length;
  }

  private parse(): void {
    // raw positions point into the current text: they must be taken before it is replaced
    if (this.rawRows > 0) throw new Error('ResponseParser: takeRaw() must be called after each write()');
    const rest = this.pos < this.buf.length ? this.buf.slice(this.pos) : '';
    this.consumed += this.pos;
    this.buf = this.pendingLen > 0 ? rest + (this.pending.length === 1 ? this.pending[0]! : this.pending.join('')) : rest;
    this.pending = [];
    this.pendingLen = 0;
    this.pos = 0;
    this.retryAt = 0;
    const sc = this.scanner;
    sc.reset(this.buf);
    try {
      this.run(sc);
    } catch (err) {
      if (err instanceof JsonSyntaxError) {
        throw new ResponseFormatError(`invalid response JSON at character ${this.consumed + err.at}: ${err.message}`);
      }
      throw err;
    }
    const tail = this.buf.length - this.pos;
    if (tail >= RETRY_THRESHOLD) this.retryAt = tail * 2;
  }

  private fail(what: string, at: number): never {
    throw new ResponseFormatError(
      `invalid response JSON at character ${this.consumed + at}: expected ${what}, got ${describeChar(this.buf.charCodeAt(at))}`,
    );
  }

  private run(sc: JsonScanner): void {
    const s = this.buf;
    const n = s.length;
    let i = this.pos;
    for (;;) {
      i = skipWs(s, i, n);
      if (i >= n) break;
      const c = s.charCodeAt(i);
      switch (this.state) {
        case S.START:
          if (c !== 0x7b) this.fail(`'{'`, i);
          i++;
          this.state = S.FIRST_KEY;
          break;
        case S.FIRST_KEY:
        case S.KEY: {
          if (c === 0x7d && this.state === S.FIRST_KEY) {
            i++;
            this.state = S.DONE;
            break;
          }
          if (c !== 0x22) this.fail('a key', i);
          const next = this.member(sc, i);
          if (next === INCOMPLETE) {
            this.pos = i;
            return;
          }
          i = next;
          break;
        }
        case S.AFTER_MEMBER:
          if (c === 0x2c) {
            i++;
            this.state = S.KEY;
          } else if (c === 0x7d) {
            i++;
            this.state = S.DONE;
          } else this.fail(`',' or '}'`, i);
          break;
        case S.ROW:
        case S.NEXT_ROW: {
          if (c === 0x5d && this.state === S.ROW) {
            i++;
            this.state = S.AFTER_MEMBER;
            break;
          }
          if (c !== 0x5b) this.fail(`a row`, i);
          const next = this.raw ? this.rawRow(sc, i) : this.row(sc, i);
          if (next === INCOMPLETE) {
            this.pos = i;
            return;
          }
          i = next;
          this.state = S.AFTER_ROW;
          break;
        }
        case S.AFTER_ROW:
          if (c === 0x2c) {
            i++;
            this.state = S.NEXT_ROW;
          } else if (c === 0x5d) {
            i++;
            this.state = S.AFTER_MEMBER;
          } else this.fail(`',' or ']'`, i);
          break;
        case S.DONE:
          this.fail('the end of the response', i);
      }
    }
    this.pos = i;
  }

  /** One `"key":value` member at `i`; returns the index after it or INCOMPLETE. */
  private member(sc: JsonScanner, i: number): number {
    const s = this.buf;
    const n = s.length;
    let j = sc.scanString(i);
    if (j === INCOMPLETE) return INCOMPLETE;
    const key = sc.value as string;
    j = skipWs(s, j, n);
    if (j >= n) return INCOMPLETE;
    if (s.charCodeAt(j) !== 0x3a) this.fail(`':'`, j);
    j = skipWs(s, j + 1, n);
    if (j >= n) return INCOMPLETE;
    if (key === 'data') {
      if (this.columns === undefined) throw new ResponseFormatError('the response has "data" before "column_meta"');
      if (s.charCodeAt(j) !== 0x5b) this.fail(`'['`, j);
      this.state = S.ROW;
      return j + 1;
    }
    const end = sc.scanValue(j, key === 'column_meta');
    if (end === INCOMPLETE) return INCOMPLETE;
    // a JSON string and a number both scan to text: only an unquoted value is a number
    const v = s.charCodeAt(j) === 0x22 && key !== 'desc' ? undefined : sc.value;
    switch (key) {
      case 'code':
        this.code = integerMember('code', v);
        break;
      case 'desc':
        if (typeof v !== 'string') throw new ResponseFormatError('"desc" is not a string');
        this.desc = v;
        break;
      case 'rows':
        this.rowsField = integerMember('rows', v);
        break;
      case 'column_meta':
        this.setColumns(v as string);
        break;
      default:
        // "timing" and anything newer: not needed
        break;
    }
    this.state = S.AFTER_MEMBER;
    return end;
  }

  private setColumns(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ResponseFormatError('"column_meta" is not valid JSON');
    }
    if (!Array.isArray(parsed)) throw new ResponseFormatError('"column_meta" is not an array');
    this.columns = parsed.map((m: unknown, idx) => {
      if (!Array.isArray(m) || typeof m[0] !== 'string' || typeof m[1] !== 'string' || typeof m[2] !== 'number') {
        throw new ResponseFormatError(`"column_meta" entry ${idx} is not [name, type, length]`);
      }
      return { name: m[0], type: m[1], length: m[2] };
    });
    this.rawColumns = this.columns.map((c) => c.type === 'JSON');
  }

  /** One data row at `i` (on its `[`), as token positions; returns the index after it or INCOMPLETE. */
  private rawRow(sc: JsonScanner, i: number): number {
    const s = this.buf;
    const n = s.length;
    const width = this.rawColumns.length;
    const base = this.rawRows * width;
    if (this.starts.length < base + width) {
      const size = Math.max(1024, (base + width) * 2);
      const starts = new Int32Array(size);
      const ends = new Int32Array(size);
      starts.set(this.starts.subarray(0, base));
      ends.set(this.ends.subarray(0, base));
      this.starts = starts;
      this.ends = ends;
    }
    const starts = this.starts;
    const ends = this.ends;
    let spaced = false;
    let j = i + 1;
    if (j >= n) return INCOMPLETE;
    if (isWs(s.charCodeAt(j))) {
      spaced = true;
      j = skipWs(s, j, n);
      if (j >= n) return INCOMPLETE;
    }
    let col = 0;
    if (s.charCodeAt(j) !== 0x5d) {
      for (;;) {
        if (col >= width) throw new ResponseFormatError(`row ${this.rowCount + 1} has more values than the ${width} columns`);
        const end = sc.skipValue(j);
        if (end === INCOMPLETE) return INCOMPLETE;
        starts[base + col] = j;
        ends[base + col] = end;
        col++;
        j = end;
        if (j >= n) return INCOMPLETE;
        let c = s.charCodeAt(j);
        if (isWs(c)) {
          spaced = true;
          j = skipWs(s, j, n);
          if (j >= n) return INCOMPLETE;
          c = s.charCodeAt(j);
        }
        if (c === 0x2c) {
          j++;
          if (j >= n) return INCOMPLETE;
          if (isWs(s.charCodeAt(j))) {
            spaced = true;
            j = skipWs(s, j, n);
            if (j >= n) return INCOMPLETE;
          }
          continue;
        }
        if (c === 0x5d) break;
        this.fail(`',' or ']' in a row`, j);
      }
    }
    if (col !== width) throw new ResponseFormatError(`row ${this.rowCount + 1} has ${col} values for ${width} columns`);
    if (spaced) this.spaced = true;
    this.rawRows++;
    this.rowCount++;
    return j + 1;
  }

  /** One data row at `i` (on its `[`); returns the index after it or INCOMPLETE. */
  private row(sc: JsonScanner, i: number): number {
    const s = this.buf;
    const n = s.length;
    const raw = this.rawColumns;
    const width = raw.length;
    const row: RawValue[] = new Array<RawValue>(width);
    let j = skipWs(s, i + 1, n);
    if (j >= n) return INCOMPLETE;
    let col = 0;
    if (s.charCodeAt(j) !== 0x5d) {
      for (;;) {
        if (col >= width) throw new ResponseFormatError(`row ${this.rowCount + 1} has more values than the ${width} columns`);
        j = sc.scanValue(j, raw[col] === true);
        if (j === INCOMPLETE) return INCOMPLETE;
        row[col++] = sc.value;
        if (j >= n || isWs(s.charCodeAt(j))) {
          j = skipWs(s, j, n);
          if (j >= n) return INCOMPLETE;
        }
        const c = s.charCodeAt(j);
        if (c === 0x2c) {
          j = skipWs(s, j + 1, n);
          if (j >= n) return INCOMPLETE;
          continue;
        }
        if (c === 0x5d) break;
        this.fail(`',' or ']' in a row`, j);
      }
    }
    if (col !== width) throw new ResponseFormatError(`row ${this.rowCount + 1} has ${col} values for ${width} columns`);
    this.out.push(row);
    this.rowCount++;
    return j + 1;
  }
}

function integerMember(name: string, v: unknown): number {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new ResponseFormatError(`"${name}" is not an integer`);
  return Number(v);
}

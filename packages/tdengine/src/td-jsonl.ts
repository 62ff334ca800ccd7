/**
 * Reading td-jsonl (README.md): one JSON array of scalars per line, checked by the same
 * lossless scanner as REST responses. Input may be cut anywhere. Lines come out either as
 * token positions ({@link TdJsonLineReader.pushRaw}, what imports use: nothing allocated per
 * value) or as values ({@link TdJsonLineReader.push}).
 */

import { TdInvalidInputError } from './errors.ts';
import { INCOMPLETE, JsonScanner, JsonSyntaxError, describeChar, isWs, skipWs } from './json-scan.ts';
import type { RawRowBatch } from './response-parser.ts';
import type { TdValue } from './types.ts';

export class TdJsonLineReader {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** The scanner of the text of the last batch (its backslash cache serves the caller too). */
  readonly scanner = new JsonScanner();
  private carry = '';
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  /** Lines read so far (for messages). */
  line = 0;

  constructor(
    /** Values per line. */
    private readonly width: number,
    /** Names the input in messages. */
    private readonly label: string,
  ) {}

  /** The complete lines of a chunk as token positions; the rest waits for the next chunk. */
  pushRaw(chunk: Buffer | string): RawRowBatch {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new TdInvalidInputError(`${this.label}: not valid UTF-8 after line ${this.line}`);
    }
    return this.parse(this.carry.length > 0 ? this.carry + text : text, false);
  }

  /** The end of the input (a last line without a newline is accepted). */
  endRaw(): RawRowBatch {
    let text: string;
    try {
      text = this.decoder.decode();
    } catch {
      throw new TdInvalidInputError(`${this.label}: ends inside a UTF-8 character`);
    }
    return this.parse(this.carry + text, true);
  }

  /** Like {@link pushRaw}, as values. */
  push(chunk: Buffer | string): TdValue[][] {
    return this.values(this.pushRaw(chunk));
  }

  /** Like {@link endRaw}, as values. */
  end(): TdValue[][] {
    return this.values(this.endRaw());
  }

  private values(b: RawRowBatch): TdValue[][] {
    const out: TdValue[][] = [];
    const sc = this.scanner;
    for (let r = 0; r < b.rows; r++) {
      const row: TdValue[] = [];
      for (let c = 0; c < b.width; c++) {
        try {
          sc.scanValue(b.starts[r * b.width + c]!, false);
        } catch (err) {
          throw this.invalidValue(err, b.rows - r);
        }
        row.push(sc.value);
      }
      out.push(row);
    }
    return out;
  }

  /**
   * The error for a value that failed to decode after its line was read (string escapes are
   * checked when a value is decoded); `linesBack` counts from the last line read.
   */
  invalidValue(err: unknown, linesBack: number): Error {
    const line = this.line - linesBack + 1;
    if (err instanceof JsonSyntaxError) return new TdInvalidInputError(`${this.label}: line ${line} is not valid JSON: ${err.message}`);
    if (err instanceof TdInvalidInputError) return new TdInvalidInputError(`${this.label}: line ${line}: ${err.message}`);
    return err instanceof Error ? err : new Error(String(err));
  }

  private parse(s: string, final: boolean): RawRowBatch {
    const sc = this.scanner;
    sc.reset(s);
    const n = s.length;
    const width = this.width;
    let rows = 0;
    let pos = 0;
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0 && !(final && pos < n)) break;
      const lineEnd = nl < 0 ? n : nl;
      this.line++;
      if (lineEnd === pos) throw this.bad('is empty');
      const base = rows * width;
      if (this.starts.length < base + width) {
        const size = Math.max(1024, (base + width) * 2);
        const starts = new Int32Array(size);
        const ends = new Int32Array(size);
        starts.set(this.starts.subarray(0, base));
        ends.set(this.ends.subarray(0, base));
        this.starts = starts;
        this.ends = ends;
      }
      this.row(sc, s, pos, lineEnd, base);
      rows++;
      pos = lineEnd + 1;
      if (nl < 0) break;
    }
    this.carry = pos < n ? s.slice(pos) : '';
    return { text: s, starts: this.starts, ends: this.ends, rows, width, spaced: false };
  }

  private bad(what: string): TdInvalidInputError {
    return new TdInvalidInputError(`${this.label}: line ${this.line} ${what}`);
  }

  private row(sc: JsonScanner, s: string, start: number, end: number, base: number): void {
    const starts = this.starts;
    const ends = this.ends;
    try {
      let j = start;
      if (isWs(s.charCodeAt(j))) j = skipWs(s, j, end);
      if (s.charCodeAt(j) !== 0x5b) throw this.bad(`does not start with '[' (${describeChar(j < end ? s.charCodeAt(j) : NaN)})`);
      j++;
      if (isWs(s.charCodeAt(j))) j = skipWs(s, j, end);
      let col = 0;
      if (j < end && s.charCodeAt(j) === 0x5d) {
        // an empty array
      } else {
        for (;;) {
          if (j >= end) throw this.bad('is cut off');
          const first = s.charCodeAt(j);
          // td-jsonl values are scalars (a JSON tag is a string holding its JSON text)
          if (first === 0x5b || first === 0x7b) throw this.bad(`has a nested array or object in value ${col + 1}`);
          const next = sc.skipValue(j);
          if (next === INCOMPLETE || next > end) throw this.bad('is cut off');
          if (col >= this.width) throw this.bad(`has more than ${this.width} values`);
          starts[base + col] = j;
          ends[base + col] = next;
          col++;
          j = next;
          if (isWs(s.charCodeAt(j))) j = skipWs(s, j, end);
          const c = s.charCodeAt(j);
          if (j < end && c === 0x2c) {
            j++;
            if (isWs(s.charCodeAt(j))) j = skipWs(s, j, end);
            continue;
          }
          if (j < end && c === 0x5d) break;
          throw this.bad(`has ${describeChar(j < end ? c : NaN)} where ',' or ']' belongs`);
        }
      }
      if (skipWs(s, j + 1, end) !== end) throw this.bad(`has text after the array`);
      if (col !== this.width) throw this.bad(`has ${col} values, expected ${this.width}`);
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw this.bad(`is not valid JSON: ${err.message}`);
      throw err;
    }
  }
}

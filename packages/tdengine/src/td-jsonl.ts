/**
 * Reading td-jsonl (README.md): one JSON array per line, parsed losslessly (numbers keep
 * their text) by the same scanner as REST responses. Input may be cut anywhere.
 */

import { TdInvalidInputError } from './errors.ts';
import { INCOMPLETE, JsonScanner, JsonSyntaxError, describeChar, skipWs } from './json-scan.ts';
import type { TdValue } from './types.ts';

export class TdJsonLineReader {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly scanner = new JsonScanner();
  private carry = '';
  /** Lines read so far (for messages). */
  line = 0;

  constructor(
    /** Values per line. */
    private readonly width: number,
    /** Names the input in messages. */
    private readonly label: string,
  ) {}

  /** Parses the complete lines of a chunk; the rest waits for the next chunk. */
  push(chunk: Buffer | string): TdValue[][] {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new TdInvalidInputError(`${this.label}: not valid UTF-8 after line ${this.line}`);
    }
    return this.parse(this.carry.length > 0 ? this.carry + text : text, false);
  }

  /** The end of the input: a last line without a newline is accepted. */
  end(): TdValue[][] {
    let text: string;
    try {
      text = this.decoder.decode();
    } catch {
      throw new TdInvalidInputError(`${this.label}: ends inside a UTF-8 character`);
    }
    return this.parse(this.carry + text, true);
  }

  private parse(s: string, final: boolean): TdValue[][] {
    const out: TdValue[][] = [];
    const sc = this.scanner;
    sc.reset(s);
    const n = s.length;
    let pos = 0;
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0 && !(final && pos < n)) break;
      const lineEnd = nl < 0 ? n : nl;
      this.line++;
      if (lineEnd > pos) out.push(this.row(sc, s, pos, lineEnd));
      else throw this.bad('is empty');
      pos = lineEnd + 1;
      if (nl < 0) break;
    }
    this.carry = pos < n ? s.slice(pos) : '';
    return out;
  }

  private bad(what: string): TdInvalidInputError {
    return new TdInvalidInputError(`${this.label}: line ${this.line} ${what}`);
  }

  private row(sc: JsonScanner, s: string, start: number, end: number): TdValue[] {
    const row: TdValue[] = new Array<TdValue>(this.width);
    try {
      let j = skipWs(s, start, end);
      if (s.charCodeAt(j) !== 0x5b) throw this.bad(`does not start with '[' (${describeChar(s.charCodeAt(j))})`);
      j = skipWs(s, j + 1, end);
      let col = 0;
      if (s.charCodeAt(j) !== 0x5d) {
        for (;;) {
          if (j >= end) throw this.bad('is cut off');
          const first = s.charCodeAt(j);
          // td-jsonl values are scalars (a JSON tag is a string holding its JSON text)
          if (first === 0x5b || first === 0x7b) throw this.bad(`has a nested array or object in value ${col + 1}`);
          const next = sc.scanValue(j, false);
          if (next === INCOMPLETE || next > end) throw this.bad('is cut off');
          if (col >= this.width) throw this.bad(`has more than ${this.width} values`);
          row[col++] = sc.value;
          j = skipWs(s, next, end);
          const c = s.charCodeAt(j);
          if (j < end && c === 0x2c) {
            j = skipWs(s, j + 1, end);
            continue;
          }
          if (j < end && c === 0x5d) break;
          throw this.bad(`has ${describeChar(j < end ? c : NaN)} where ',' or ']' belongs`);
        }
      }
      if (skipWs(s, j + 1, end) !== end) throw this.bad(`has text after the array`);
      if (col !== this.width) throw this.bad(`has ${col} values, expected ${this.width}`);
      return row;
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw this.bad(`is not valid JSON: ${err.message}`);
      throw err;
    }
  }
}

/**
 * A lossless scanner for the JSON values the connector reads: numbers are kept as their
 * exact text (never a JS number), strings are decoded, nested values (JSON tags) are kept
 * as raw JSON text. It works on a text buffer that may end anywhere: every scan returns
 * {@link INCOMPLETE} when the value runs past the end, so the caller can wait for more.
 */

/** Returned by scans whose value continues past the end of the buffer. */
export const INCOMPLETE = -1;

/** Thrown for text that is not the JSON the scanner expects; `at` is the offset in the buffer. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipWs(s: string, i: number, n: number): number {
  while (i < n && isWs(s.charCodeAt(i))) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/**
 * Scans JSON values in one buffer. `value` holds the last scanned value. The position of the
 * next backslash is cached, so strings without escapes cost one indexOf each and a buffer
 * is never searched twice for backslashes.
 */
export class JsonScanner {
  s = '';
  n = 0;
  /** The last scanned value. */
  value: string | boolean | null = null;
  private nextBackslash = -1;
  private backslashQueriedFrom = 0;

  reset(s: string): void {
    this.s = s;
    this.n = s.length;
    this.nextBackslash = -1;
    this.backslashQueriedFrom = 0;
  }

  /** The first backslash at or after `i` (Infinity: none); cached for queries at increasing positions. */
  private backslashFrom(i: number): number {
    if (i < this.backslashQueriedFrom || (this.nextBackslash !== Infinity && this.nextBackslash < i)) {
      const b = this.s.indexOf('\\', i);
      this.nextBackslash = b < 0 ? Infinity : b;
      this.backslashQueriedFrom = i;
    }
    return this.nextBackslash;
  }

  /**
   * Scans the value at `i` (no leading whitespace). `raw`: keep any non-null value as its raw
   * JSON text (for JSON columns). Returns the index after the value or {@link INCOMPLETE}.
   */
  scanValue(i: number, raw: boolean): number {
    const s = this.s;
    const c = s.charCodeAt(i);
    if (raw && c !== 0x6e /* n */) {
      const end = this.scanAny(i);
      if (end !== INCOMPLETE) this.value = s.slice(i, end);
      return end;
    }
    if (c === QUOTE) return this.scanString(i);
    if (c === MINUS || isDigit(c)) return this.scanNumber(i);
    switch (c) {
      case 0x74: // t
        return this.literal(i, 'true', true);
      case 0x66: // f
        return this.literal(i, 'false', false);
      case 0x6e: // n
        return this.literal(i, 'null', null);
      case 0x7b: // {
      case 0x5b: {
        // [: a nested value where a scalar was expected: keep its text
        const end = this.scanAny(i);
        if (end !== INCOMPLETE) this.value = s.slice(i, end);
        return end;
      }
      default:
        throw new JsonSyntaxError(`unexpected ${describeChar(c)}`, i);
    }
  }

  private literal(i: number, word: string, v: boolean | null): number {
    const end = this.literalEnd(i, word);
    if (end !== INCOMPLETE) this.value = v;
    return end;
  }

  private literalEnd(i: number, word: string): number {
    const n = this.n;
    const end = i + word.length;
    if (end > n) {
      if (this.s.slice(i, n) !== word.slice(0, n - i)) throw new JsonSyntaxError(`invalid literal`, i);
      return INCOMPLETE;
    }
    if (!this.s.startsWith(word, i)) throw new JsonSyntaxError(`invalid literal`, i);
    return end;
  }

  /**
   * The end of the value at `i` without materialising it (no allocation): for callers that
   * copy or convert the token text themselves.
   */
  skipValue(i: number): number {
    const c = this.s.charCodeAt(i);
    if (c === QUOTE) {
      const close = this.s.indexOf('"', i + 1);
      if (close < 0) return INCOMPLETE;
      return this.backslashFrom(i + 1) > close ? close + 1 : this.stringEnd(i + 1);
    }
    if (c === MINUS || isDigit(c)) return this.numberEnd(i);
    switch (c) {
      case 0x74:
        return this.literalEnd(i, 'true');
      case 0x66:
        return this.literalEnd(i, 'false');
      case 0x6e:
        return this.literalEnd(i, 'null');
      case 0x7b:
      case 0x5b:
        return this.scanAny(i);
      default:
        throw new JsonSyntaxError(`unexpected ${describeChar(c)}`, i);
    }
  }

  /** True if the text between `from` and `to` contains a backslash (a string with escapes). */
  hasBackslash(from: number, to: number): boolean {
    return this.backslashFrom(from) < to;
  }

  /** A JSON number, kept as its text; the grammar is checked. */
  scanNumber(i: number): number {
    const j = this.numberEnd(i);
    if (j !== INCOMPLETE) this.value = this.s.slice(i, j);
    return j;
  }

  private numberEnd(i: number): number {
    const s = this.s;
    const n = this.n;
    let j = i;
    if (s.charCodeAt(j) === MINUS) j++;
    if (j >= n) return INCOMPLETE;
    let c = s.charCodeAt(j);
    if (c === ZERO) j++;
    else if (isDigit(c)) {
      j++;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
    } else throw new JsonSyntaxError('invalid number', i);
    if (j >= n) return INCOMPLETE;
    c = s.charCodeAt(j);
    if (c === DOT) {
      j++;
      const start = j;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      if (j >= n) return INCOMPLETE;
      if (j === start) throw new JsonSyntaxError('invalid number', i);
      c = s.charCodeAt(j);
    }
    if (c === 0x65 || c === 0x45) {
      j++;
      if (j >= n) return INCOMPLETE;
      c = s.charCodeAt(j);
      if (c === 0x2b || c === MINUS) j++;
      const start = j;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      if (j >= n) return INCOMPLETE;
      if (j === start) throw new JsonSyntaxError('invalid number', i);
    }
    return j;
  }

  /** A JSON string at `i` (on its opening quote), decoded. */
  scanString(i: number): number {
    const s = this.s;
    const close = s.indexOf('"', i + 1);
    if (close < 0) return INCOMPLETE;
    const bs = this.backslashFrom(i + 1);
    if (bs > close) {
      this.value = s.slice(i + 1, close);
      return close + 1;
    }
    const end = this.stringEnd(bs);
    if (end === INCOMPLETE) return INCOMPLETE;
    try {
      this.value = JSON.parse(s.slice(i, end)) as string;
    } catch {
      throw new JsonSyntaxError('invalid string escape', i);
    }
    return end;
  }

  /** The index after the closing quote of a string, scanning from `k` inside it. */
  private stringEnd(k: number): number {
    const s = this.s;
    const n = this.n;
    while (k < n) {
      const ch = s.charCodeAt(k);
      if (ch === BACKSLASH) k += 2;
      else if (ch === QUOTE) return k + 1;
      else k++;
    }
    return INCOMPLETE;
  }

  /** Any JSON value (objects and arrays by bracket matching, strings respected); index after it. */
  scanAny(i: number): number {
    const s = this.s;
    const n = this.n;
    const c = s.charCodeAt(i);
    if (c !== 0x7b && c !== 0x5b) {
      const end = this.scanValue(i, false);
      return end;
    }
    let depth = 0;
    let k = i;
    while (k < n) {
      const ch = s.charCodeAt(k);
      if (ch === QUOTE) {
        const end = this.stringEnd(k + 1);
        if (end === INCOMPLETE) return INCOMPLETE;
        k = end;
        continue;
      }
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if (ch === 0x7d || ch === 0x5d) {
        depth--;
        if (depth === 0) return k + 1;
      }
      k++;
    }
    return INCOMPLETE;
  }
}

export function describeChar(c: number): string {
  if (Number.isNaN(c)) return 'end of input';
  if (c >= 0x20 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `character U+${c.toString(16).padStart(4, '0')}`;
}

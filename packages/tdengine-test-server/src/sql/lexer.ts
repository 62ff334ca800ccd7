/**
 * Tokenizer for the SQL subset the TDengine REST test server understands.
 *
 * It works on the raw request bytes (the REST body is raw SQL) and keeps a single mutable
 * "current token" instead of allocating a token object per token: an INSERT of 1 MiB holds
 * hundreds of thousands of tokens and the parser only ever needs one of lookahead (plus
 * `save()`/`restore()` for the rare two-token decisions).
 *
 * Literal rules follow TDengine's docs (90-escape.md): strings in '...' or "...", escapes
 * \' \" \n \r \t \\ are decoded, any other backslash sequence is kept as written (so
 * '\x7f' reaches VARBINARY conversion intact). Identifiers in backquotes keep their case.
 * A number immediately followed by a unit letter is a duration (`10d`, `5000a`, `1h`).
 */
import { syntaxError } from '../protocol/errors.ts';

export const Tok = {
  EOF: 0,
  /** unquoted word */
  Ident: 1,
  /** `backquoted` identifier; value in `str` */
  QIdent: 2,
  /** 'string' or "string"; value in `str` */
  Str: 3,
  /** number; raw text via text() */
  Num: 4,
  /** number + unit, e.g. 10d; number part via durNumber, unit in durUnit */
  Dur: 5,
  /** operator or punctuation; in `op` */
  Op: 6,
} as const;
export type TokKind = (typeof Tok)[keyof typeof Tok];

const DURATION_UNITS = new Set(['b', 'u', 'a', 's', 'm', 'h', 'd', 'w', 'n', 'y']);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

export class Lexer {
  readonly buf: Buffer;
  private pos = 0;
  kind: TokKind = Tok.EOF;
  start = 0;
  end = 0;
  /** Decoded value of Str / QIdent tokens. */
  str = '';
  /** Operator text of Op tokens. */
  op = '';
  /** Whether a Num token has a fraction or exponent. */
  isFloat = false;
  /** Duration unit (lowercase) of a Dur token. */
  durUnit = '';
  /** End of the numeric part of a Dur token. */
  durNumEnd = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.next();
  }

  /** Lexer position to come back to (the start of the current token). */
  save(): number {
    return this.start;
  }

  restore(state: number): void {
    this.pos = state;
    this.next();
  }

  /** Raw text of the current token. */
  text(): string {
    // numbers and plain identifiers are ASCII: latin1 decoding is the cheap path
    return this.kind === Tok.Num || this.kind === Tok.Ident
      ? this.buf.toString('latin1', this.start, this.end)
      : this.buf.toString('utf8', this.start, this.end);
  }

  /** Raw text of the numeric part of a Dur token. */
  durNumberText(): string {
    return this.buf.toString('latin1', this.start, this.durNumEnd);
  }

  /** True when the current token is the unquoted keyword `kw` (given in upper case). */
  isKw(kw: string): boolean {
    if (this.kind !== Tok.Ident || this.end - this.start !== kw.length) return false;
    const b = this.buf;
    for (let i = 0; i < kw.length; i++) {
      let c = b[this.start + i]!;
      if (c >= 97 && c <= 122) c -= 32;
      if (c !== kw.charCodeAt(i)) return false;
    }
    return true;
  }

  isOp(op: string): boolean {
    return this.kind === Tok.Op && this.op === op;
  }

  /** Text from the current token to the end, for "syntax error near" messages. */
  rest(): string {
    const s = this.buf.toString('utf8', this.start, Math.min(this.buf.length, this.start + 256));
    return s;
  }

  error(detail?: string): never {
    throw syntaxError(this.kind === Tok.EOF ? '' : this.rest(), detail);
  }

  next(): void {
    const b = this.buf;
    const n = b.length;
    let p = this.pos;
    // skip whitespace and comments
    for (;;) {
      while (p < n) {
        const c = b[p]!;
        if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11) p++;
        else break;
      }
      if (p + 1 < n && b[p] === 45 && b[p + 1] === 45) {
        while (p < n && b[p] !== 10) p++;
        continue;
      }
      if (p + 1 < n && b[p] === 47 && b[p + 1] === 42) {
        const close = b.indexOf('*/', p + 2, 'latin1');
        p = close < 0 ? n : close + 2;
        continue;
      }
      break;
    }
    this.start = p;
    if (p >= n) {
      this.kind = Tok.EOF;
      this.end = this.pos = n;
      return;
    }
    const c = b[p]!;
    if (isIdentStart(c)) {
      let q = p + 1;
      while (q < n && isIdentPart(b[q]!)) q++;
      this.kind = Tok.Ident;
      this.end = this.pos = q;
      return;
    }
    if (isDigit(c) || (c === 46 && p + 1 < n && isDigit(b[p + 1]!) && !this.prevAllowsMember())) {
      this.lexNumber(p);
      return;
    }
    if (c === 39 || c === 34) {
      this.lexString(p, c);
      return;
    }
    if (c === 96) {
      this.lexQuotedIdent(p);
      return;
    }
    this.lexOp(p, c);
  }

  /** A '.' right after an identifier is member access (db.tb), never a number. */
  private prevAllowsMember(): boolean {
    return this.kind === Tok.Ident || this.kind === Tok.QIdent;
  }

  private lexNumber(p: number): void {
    const b = this.buf;
    const n = b.length;
    let q = p;
    let isFloat = false;
    if (b[q] === 48 && q + 1 < n && (b[q + 1] === 120 || b[q + 1] === 88)) {
      q += 2;
      while (q < n && /[0-9a-fA-F]/.test(String.fromCharCode(b[q]!))) q++;
    } else {
      while (q < n && isDigit(b[q]!)) q++;
      if (q < n && b[q] === 46) {
        isFloat = true;
        q++;
        while (q < n && isDigit(b[q]!)) q++;
      }
      if (q < n && (b[q] === 101 || b[q] === 69)) {
        let r = q + 1;
        if (r < n && (b[r] === 43 || b[r] === 45)) r++;
        if (r < n && isDigit(b[r]!)) {
          isFloat = true;
          q = r;
          while (q < n && isDigit(b[q]!)) q++;
        }
      }
    }
    this.isFloat = isFloat;
    if (q < n && isIdentStart(b[q]!)) {
      let r = q;
      while (r < n && isIdentPart(b[r]!)) r++;
      const unit = b.toString('latin1', q, r).toLowerCase();
      this.start = p;
      this.end = r;
      if (!DURATION_UNITS.has(unit) || isFloat) this.error();
      this.kind = Tok.Dur;
      this.durUnit = unit;
      this.durNumEnd = q;
      this.pos = r;
      return;
    }
    this.kind = Tok.Num;
    this.end = this.pos = q;
  }

  private lexString(p: number, quote: number): void {
    const b = this.buf;
    const n = b.length;
    let q = p + 1;
    let hasEscape = false;
    while (q < n && b[q] !== quote) {
      if (b[q] === 92) {
        hasEscape = true;
        q += 2;
      } else q++;
    }
    if (q >= n) {
      this.start = p;
      this.end = n;
      this.kind = Tok.Str;
      this.error('unclosed string');
    }
    this.kind = Tok.Str;
    this.end = this.pos = q + 1;
    this.str = hasEscape ? decodeEscapes(b, p + 1, q) : b.toString('utf8', p + 1, q);
  }

  private lexQuotedIdent(p: number): void {
    const b = this.buf;
    const n = b.length;
    let q = p + 1;
    const parts: string[] = [];
    let segStart = q;
    for (;;) {
      if (q >= n) {
        this.start = p;
        this.error('unclosed backquote');
      }
      if (b[q] === 96) {
        if (q + 1 < n && b[q + 1] === 96) {
          parts.push(b.toString('utf8', segStart, q + 1));
          q += 2;
          segStart = q;
          continue;
        }
        break;
      }
      q++;
    }
    parts.push(b.toString('utf8', segStart, q));
    this.kind = Tok.QIdent;
    this.str = parts.join('');
    this.end = this.pos = q + 1;
    if (this.str.length === 0) this.error('empty identifier');
  }

  private lexOp(p: number, c: number): void {
    const b = this.buf;
    const c2 = p + 1 < b.length ? b[p + 1]! : 0;
    let op: string;
    switch (c) {
      case 40:
        op = '(';
        break;
      case 41:
        op = ')';
        break;
      case 44:
        op = ',';
        break;
      case 46:
        op = '.';
        break;
      case 59:
        op = ';';
        break;
      case 42:
        op = '*';
        break;
      case 43:
        op = '+';
        break;
      case 45:
        op = c2 === 62 ? '->' : '-';
        break;
      case 47:
        op = '/';
        break;
      case 37:
        op = '%';
        break;
      case 61:
        op = c2 === 61 ? '==' : '=';
        break;
      case 33:
        if (c2 !== 61) {
          this.start = p;
          this.end = p + 1;
          this.error();
        }
        op = '!=';
        break;
      case 60:
        op = c2 === 61 ? '<=' : c2 === 62 ? '<>' : '<';
        break;
      case 62:
        op = c2 === 61 ? '>=' : '>';
        break;
      case 58:
        op = ':';
        break;
      default:
        this.kind = Tok.Op;
        this.end = p + 1;
        this.error();
    }
    this.kind = Tok.Op;
    this.op = op === '==' ? '=' : op;
    this.end = this.pos = p + op.length;
  }
}

function decodeEscapes(b: Buffer, from: number, to: number): string {
  const out: number[] = [];
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c !== 92 || i + 1 >= to) {
      out.push(c);
      continue;
    }
    const d = b[i + 1]!;
    switch (d) {
      case 39:
      case 34:
      case 92:
        out.push(d);
        i++;
        break;
      case 110:
        out.push(10);
        i++;
        break;
      case 114:
        out.push(13);
        i++;
        break;
      case 116:
        out.push(9);
        i++;
        break;
      default:
        out.push(c);
    }
  }
  return Buffer.from(out).toString('utf8');
}

/**
 * Turning SQL constants into stored values of a column type (INSERT values, tag values,
 * WHERE constants), with TDengine's conversion rules and errors.
 */
import { syntaxError, TaosCode, TaosError } from '../protocol/errors.ts';
import type { Expr, Literal } from '../sql/ast.ts';
import { wktToWkb } from './geometry.ts';
import { durationTicks, nowTicks, parseTimestampString, type TimeZone, todayTicks } from './time.ts';
import { INT_RANGE, type DataType, type Precision, type Value } from './types.ts';

export interface ValueContext {
  readonly precision: Precision;
  /** Connection time zone: for timestamp literals without an offset. */
  readonly tz: TimeZone;
  /** NOW for the whole statement (TDengine evaluates NOW once per statement). */
  readonly now: bigint;
}

export function valueContext(precision: Precision, tz: TimeZone): ValueContext {
  return { precision, tz, now: nowTicks(precision) };
}

/** A constant after evaluation, before conversion to a column type. */
export type Const =
  | { readonly t: 'int'; readonly v: bigint; readonly text: string }
  | { readonly t: 'float'; readonly v: number; readonly text: string }
  | { readonly t: 'string'; readonly v: string }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'ts'; readonly v: bigint }
  | { readonly t: 'dur'; readonly v: bigint; readonly text: string };

function litText(e: Expr): string {
  if (e.k === 'lit') return e.t === 'string' ? e.text : e.text + (e.unit ?? '');
  return '?';
}

/** Evaluates a constant expression (literals, NOW/TODAY, +/- with durations, unary minus). */
export function evalConst(e: Expr, ctx: ValueContext): Const {
  switch (e.k) {
    case 'lit':
      return literalConst(e, ctx);
    case 'neg': {
      const c = evalConst(e.expr, ctx);
      if (c.t === 'int') return { t: 'int', v: -c.v, text: `-${c.text}` };
      if (c.t === 'float') return { t: 'float', v: -c.v, text: `-${c.text}` };
      if (c.t === 'dur') return { t: 'dur', v: -c.v, text: `-${c.text}` };
      throw syntaxError('-', 'invalid operand');
    }
    case 'bin': {
      if (e.op !== '+' && e.op !== '-' && e.op !== '*' && e.op !== '/') break;
      const a = evalConst(e.left, ctx);
      const b = evalConst(e.right, ctx);
      const sign = e.op === '-' ? -1n : 1n;
      if ((a.t === 'ts' || a.t === 'int') && b.t === 'dur' && e.op !== '*' && e.op !== '/') {
        return { t: 'ts', v: a.v + sign * b.v };
      }
      if (a.t === 'ts' && b.t === 'int' && e.op !== '*' && e.op !== '/') return { t: 'ts', v: a.v + sign * b.v };
      if (a.t === 'int' && b.t === 'int') {
        const v = e.op === '+' ? a.v + b.v : e.op === '-' ? a.v - b.v : e.op === '*' ? a.v * b.v : undefined;
        if (v !== undefined) return { t: 'int', v, text: v.toString() };
      }
      const x = numOf(a);
      const y = numOf(b);
      if (x !== undefined && y !== undefined) {
        const v = e.op === '+' ? x + y : e.op === '-' ? x - y : e.op === '*' ? x * y : x / y;
        return { t: 'float', v, text: String(v) };
      }
      throw syntaxError(litText(e.left), 'invalid constant expression');
    }
    case 'col':
    case 'func':
    case 'not':
    case 'isnull':
    case 'in':
    case 'between':
    case 'like':
      break;
  }
  throw syntaxError(litText(e), 'not a constant');
}

function numOf(c: Const): number | undefined {
  if (c.t === 'int') return Number(c.v);
  if (c.t === 'float') return c.v;
  return undefined;
}

function literalConst(e: Literal, ctx: ValueContext): Const {
  switch (e.t) {
    case 'int':
      return { t: 'int', v: BigInt(e.text), text: e.text };
    case 'float':
      return { t: 'float', v: Number(e.text), text: e.text };
    case 'string':
      return { t: 'string', v: e.text };
    case 'bool':
      return { t: 'bool', v: e.text === 'true' };
    case 'null':
      return { t: 'null' };
    case 'now':
      return { t: 'ts', v: ctx.now };
    case 'today':
      return { t: 'ts', v: todayTicks(ctx.precision, ctx.tz) };
    case 'duration': {
      const v = durationTicks(BigInt(e.text), e.unit ?? '', ctx.precision);
      if (v === undefined) throw syntaxError(e.text + (e.unit ?? ''), 'invalid duration unit');
      return { t: 'dur', v, text: e.text + (e.unit ?? '') };
    }
  }
}

/**
 * Converts an expression to a stored value of `type`. `label` names the column/tag in
 * error messages. The plain-literal cases are the INSERT hot path and avoid `evalConst`.
 */
export function toValue(e: Expr, type: DataType, ctx: ValueContext): Value {
  if (e.k === 'lit') {
    switch (e.t) {
      case 'null':
        return null;
      case 'int':
        if (type.name === 'TIMESTAMP') return checkTs(BigInt(e.text), ctx);
        return fromNumberText(e.text, false, type);
      case 'float':
        if (type.name === 'TIMESTAMP') throw new TaosError(TaosCode.PAR_INCORRECT_TIMESTAMP_VAL, `Incorrect TIMESTAMP value: ${e.text}`);
        return fromNumberText(e.text, true, type);
      case 'string':
        return fromString(e.text, type, ctx);
      case 'bool':
      case 'duration':
      case 'now':
      case 'today':
        break;
    }
  }
  return fromConst(evalConst(e, ctx), type, ctx);
}

export type Converter = (e: Expr) => Value;

/**
 * A converter of expressions to values of one column type, specialised for the plain
 * literals that make up almost all INSERT values (the ingest hot path).
 */
export function converter(type: DataType, ctx: ValueContext): Converter {
  const slow = (e: Expr): Value => toValue(e, type, ctx);
  switch (type.name) {
    case 'TIMESTAMP':
      return (e) => (e.k === 'lit' && e.t === 'int' ? checkTs(BigInt(e.text), ctx) : slow(e));
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED': {
      const [lo, hi] = INT_RANGE[type.name]!.map(Number) as [number, number];
      return (e) => {
        if (e.k === 'lit' && e.t === 'int') {
          const n = Number(e.text);
          if (n >= lo && n <= hi && Number.isInteger(n)) return n;
        }
        return slow(e);
      };
    }
    case 'FLOAT':
      return (e) => {
        if (e.k === 'lit' && (e.t === 'float' || e.t === 'int')) {
          const v = Number(e.text);
          if (Math.abs(v) <= FLT_MAX) return Math.fround(v);
        }
        return slow(e);
      };
    case 'DOUBLE':
      return (e) => {
        if (e.k === 'lit' && (e.t === 'float' || e.t === 'int')) {
          const v = Number(e.text);
          if (Number.isFinite(v)) return v;
        }
        return slow(e);
      };
    case 'BOOL':
    case 'BIGINT':
    case 'BIGINT UNSIGNED':
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'DECIMAL':
    case 'BLOB':
      return slow;
  }
}

export function fromConst(c: Const, type: DataType, ctx: ValueContext): Value {
  switch (c.t) {
    case 'null':
      return null;
    case 'int':
      if (type.name === 'TIMESTAMP') return checkTs(c.v, ctx);
      return fromNumberText(c.text, false, type);
    case 'float':
      if (type.name === 'TIMESTAMP') throw new TaosError(TaosCode.PAR_INCORRECT_TIMESTAMP_VAL, `Incorrect TIMESTAMP value: ${c.text}`);
      return fromNumberText(c.text, true, type);
    case 'string':
      return fromString(c.v, type, ctx);
    case 'bool':
      if (type.name === 'BOOL') return c.v;
      if (type.name === 'VARCHAR' || type.name === 'NCHAR') return fromString(String(c.v), type, ctx);
      return fromNumberText(c.v ? '1' : '0', false, type);
    case 'ts':
      if (type.name === 'TIMESTAMP') return checkTs(c.v, ctx);
      return fromNumberText(c.v.toString(), false, type);
    case 'dur':
      throw syntaxError(c.text, 'a duration is not a value');
  }
}

/** TDengine accepts ms/us timestamps up to year 2970 and ns ones up to int64. */
const TS_MAX: Readonly<Record<Precision, bigint>> = {
  ms: 31556995200000n,
  us: 31556995200000000n,
  ns: 9223372036854775807n,
};

function checkTs(v: bigint, ctx: ValueContext): bigint {
  if (v > TS_MAX[ctx.precision] || v < -TS_MAX[ctx.precision]) throw new TaosError(TaosCode.TDB_TIMESTAMP_OUT_OF_RANGE);
  return v;
}

const FLT_MAX = 3.4028234663852886e38;

function fromNumberText(text: string, isFloat: boolean, type: DataType): Value {
  switch (type.name) {
    case 'BOOL':
      return Number(text) !== 0;
    case 'FLOAT': {
      const v = Number(text);
      if (!Number.isFinite(v) || Math.abs(v) > FLT_MAX) throw syntaxError(text, 'float data overflow');
      return Math.fround(v);
    }
    case 'DOUBLE': {
      const v = Number(text);
      if (!Number.isFinite(v)) throw syntaxError(text, 'double data overflow');
      return v;
    }
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED': {
      const v = isFloat ? Math.trunc(Number(text)) : Number(text);
      const [lo, hi] = INT_RANGE[type.name]!;
      if (!Number.isInteger(v) || v < Number(lo) || v > Number(hi)) throw syntaxError(text, `${type.name.toLowerCase()} data overflow`);
      return v;
    }
    case 'BIGINT':
    case 'BIGINT UNSIGNED': {
      let v: bigint;
      try {
        v = isFloat ? BigInt(Math.trunc(Number(text))) : BigInt(text);
      } catch {
        throw syntaxError(text, `invalid ${type.name.toLowerCase()} data`);
      }
      const [lo, hi] = INT_RANGE[type.name]!;
      if (v < lo || v > hi) throw syntaxError(text, `${type.name.toLowerCase()} data overflow`);
      return v;
    }
    case 'DECIMAL':
      return parseDecimal(text, type);
    case 'VARCHAR':
    case 'NCHAR':
      return checkLength(text, type);
    case 'TIMESTAMP':
    case 'JSON':
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'BLOB':
      throw syntaxError(text, `invalid ${type.name.toLowerCase()} data`);
  }
}

function fromString(s: string, type: DataType, ctx: ValueContext): Value {
  switch (type.name) {
    case 'VARCHAR':
    case 'NCHAR':
      return checkLength(s, type);
    case 'TIMESTAMP': {
      const v = parseTimestampString(s, ctx.precision, ctx.tz);
      if (v === undefined) throw new TaosError(TaosCode.PAR_INCORRECT_TIMESTAMP_VAL, `Incorrect TIMESTAMP value: ${s}`);
      return checkTs(v, ctx);
    }
    case 'BOOL': {
      const t = s.trim().toLowerCase();
      if (t === 'true') return true;
      if (t === 'false') return false;
      if (t !== '' && !Number.isNaN(Number(t))) return Number(t) !== 0;
      throw syntaxError(s, 'invalid bool data');
    }
    case 'JSON':
      return canonicalJsonTag(s);
    case 'VARBINARY':
    case 'BLOB':
      return checkBinaryLength(varbinaryHex(s), type, s);
    case 'GEOMETRY': {
      let wkb: Buffer;
      try {
        wkb = wktToWkb(s);
      } catch (err) {
        throw syntaxError(s, `invalid geometry data: ${(err as Error).message}`);
      }
      return checkBinaryLength(wkb.toString('hex'), type, s);
    }
    case 'FLOAT':
    case 'DOUBLE':
    case 'DECIMAL':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED': {
      const t = s.trim();
      if (t === '' || Number.isNaN(Number(t))) throw syntaxError(s, `invalid ${type.name.toLowerCase()} data`);
      return fromNumberText(t, !/^[+-]?(\d+|0[xX][0-9a-fA-F]+)$/.test(t), type);
    }
  }
}

function checkLength(s: string, type: DataType): string {
  if (type.name === 'NCHAR') {
    if (s.length > type.length && [...s].length > type.length) throw valueTooLong(s);
  } else if (s.length * 3 > type.length && Buffer.byteLength(s, 'utf8') > type.length) throw valueTooLong(s);
  return s;
}

function checkBinaryLength(hex: string, type: DataType, original: string): string {
  const max = type.name === 'BLOB' ? 4194304 : type.length;
  if (hex.length / 2 > max) throw valueTooLong(original);
  return hex;
}

function valueTooLong(s: string): TaosError {
  return new TaosError(TaosCode.PAR_VALUE_TOO_LONG, `Value too long for column/tag: ${s.slice(0, 64)}`);
}

/** VARBINARY literal: '\x..' is hex, anything else is its UTF-8 bytes. Returns lowercase hex. */
function varbinaryHex(s: string): string {
  if (s.startsWith('\\x') || s.startsWith('\\X')) {
    const hex = s.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TaosError(0x266a, `Invalid varbinary value: ${s.slice(0, 64)}`);
    }
    return hex.toLowerCase();
  }
  return Buffer.from(s, 'utf8').toString('hex');
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Exact decimal text → unscaled bigint for DECIMAL(p,s), rounding half away from zero. */
export function parseDecimal(text: string, type: DataType): bigint {
  const m = DECIMAL_RE.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw syntaxError(text, 'invalid decimal data');
  const neg = m[1] === '-';
  const frac = m[3] ?? '';
  const mant = BigInt((m[2] ?? '') + frac || '0');
  const exp = (m[4] === undefined ? 0 : Number(m[4])) - frac.length + type.scale;
  let v: bigint;
  if (exp >= 0) v = mant * 10n ** BigInt(exp);
  else {
    const div = 10n ** BigInt(-exp);
    v = mant / div;
    if ((mant % div) * 2n >= div) v += 1n;
  }
  if (v >= 10n ** BigInt(type.length)) throw new TaosError(TaosCode.DECIMAL_OVERFLOW);
  return neg ? -v : v;
}

/** Unscaled decimal → text with exactly `scale` fraction digits. */
export function formatDecimal(v: bigint, scale: number): string {
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
  const body = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return neg ? `-${body}` : body;
}

/**
 * A JSON tag as TDengine stores it: an object whose values are strings, numbers, bools or
 * null, printed back by cJSON (keys sorted, numbers via %d / %1.15g / %1.17g).
 * '' and 'null' mean a NULL tag.
 */
export function canonicalJsonTag(text: string): string | null {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'null') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    throw new TaosError(TaosCode.TSC_INVALID_JSON, `Invalid JSON format: ${t.slice(0, 64)}`);
  }
  if (parsed === null) return null;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TaosError(TaosCode.TSC_INVALID_JSON, `Invalid JSON format: ${t.slice(0, 64)}`);
  }
  const obj = parsed as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  const parts: string[] = [];
  for (const k of keys) {
    if (k === '' || Buffer.byteLength(k) > 256) throw new TaosError(TaosCode.TSC_INVALID_JSON, `Invalid JSON key: ${k.slice(0, 64)}`);
    const v = obj[k];
    let enc: string;
    if (v === null) enc = 'null';
    else if (typeof v === 'string') enc = cJsonString(v);
    else if (typeof v === 'boolean') enc = v ? 'true' : 'false';
    else if (typeof v === 'number') enc = cJsonNumber(v);
    else throw new TaosError(TaosCode.TSC_INVALID_JSON_TYPE, `Invalid JSON data type: ${k}`);
    parts.push(`${cJsonString(k)}:${enc}`);
  }
  const out = `{${parts.join(',')}}`;
  if (Buffer.byteLength(out) > 16384) throw valueTooLong(t);
  return out;
}

function cJsonString(s: string): string {
  // cJSON escapes " \ \b \f \n \r \t and other control characters as \u00xx.
  return JSON.stringify(s);
}

function cJsonNumber(d: number): string {
  if (!Number.isFinite(d)) return 'null';
  if (Number.isInteger(d) && d >= -2147483648 && d <= 2147483647) return String(d);
  const g15 = formatG(d, 15);
  return Number(g15) === d ? g15 : formatG(d, 17);
}

/** C's printf("%1.<prec>g"). */
export function formatG(d: number, prec: number): string {
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  const [mant, expS] = d.toExponential(prec - 1).split('e') as [string, string];
  const x = Number(expS);
  if (x < -4 || x >= prec) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const sign = x < 0 ? '-' : '+';
    return `${m}e${sign}${String(Math.abs(x)).padStart(2, '0')}`;
  }
  const fixed = d.toFixed(Math.max(0, prec - 1 - x));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

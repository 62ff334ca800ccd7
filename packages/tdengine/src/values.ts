/**
 * Value conversions, per column type:
 *
 * - REST value → canonical value ({@link toCanonical}) and → td-jsonl JSON text
 *   ({@link tdJsonEncoder}), used by exports and discovery;
 * - canonical value → SQL literal ({@link sqlLiteralEncoder}), used by restores.
 *
 * The td-jsonl encoding is specified in README.md. Everything is exact: integers stay digit
 * strings, timestamps become integer epochs composed as digits, floats keep the server's
 * shortest text, binary stays hex.
 */

import { TdInvalidInputError } from './errors.ts';
import { quoteString } from './quote.ts';
import { rfc3339ToEpochConverter } from './timestamp.ts';
import type { Precision, RawValue, TdType, TdValue } from './types.ts';
import { wkbHexToWkt } from './wkb.ts';
import type { JsonScanner } from './json-scan.ts';

const INTEGER = /^-?\d+$/;
const UNSIGNED = /^\d+$/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const DECIMAL = /^-?\d+(?:\.\d+)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const NEEDS_SQL_ESCAPE = /['\u0000-\u001f]/;

function wrongValue(type: TdType, v: unknown, what: string): TdInvalidInputError {
  const shown = typeof v === 'string' ? JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v) : String(v);
  return new TdInvalidInputError(`${type.name} ${what}: got ${shown}`);
}

function expectString(type: TdType, v: RawValue, what: string): string {
  if (typeof v !== 'string') throw wrongValue(type, v, what);
  return v;
}

/** Converts REST values of one column type to canonical values (timestamps to epochs). */
export type CanonicalConverter = (v: RawValue) => TdValue;

export function toCanonical(type: TdType, precision: Precision): CanonicalConverter {
  if (type.name === 'TIMESTAMP') {
    const conv = rfc3339ToEpochConverter(precision);
    return (v) => {
      if (v === null) return null;
      // some statements (system tables, COUNT of timestamps) may already give integers
      if (typeof v === 'string' && INTEGER.test(v)) return v;
      try {
        return conv(expectString(type, v, 'expects an RFC 3339 string'));
      } catch (err) {
        if (err instanceof TdInvalidInputError) throw err;
        throw new TdInvalidInputError((err as Error).message);
      }
    };
  }
  return (v) => v;
}

/** Encodes REST values of one column type as td-jsonl JSON text. */
export type TdJsonEncoder = (v: RawValue) => string;

export function tdJsonEncoder(type: TdType, precision: Precision): TdJsonEncoder {
  switch (type.name) {
    case 'TIMESTAMP': {
      const conv = toCanonical(type, precision);
      return (v) => (v === null ? 'null' : (conv(v) as string));
    }
    case 'BOOL':
      return (v) => {
        if (v === null) return 'null';
        if (typeof v !== 'boolean') throw wrongValue(type, v, 'expects true or false');
        return v ? 'true' : 'false';
      };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      // the scanner kept the number's exact text; it is valid JSON as it is
      return (v) => {
        if (v === null) return 'null';
        if (typeof v !== 'string' || !INTEGER.test(v)) throw wrongValue(type, v, 'expects an integer');
        return v;
      };
    case 'FLOAT':
    case 'DOUBLE':
      // the server's shortest round-trip text, verbatim; NaN / ±Inf arrive as null
      return (v) => {
        if (v === null) return 'null';
        if (typeof v !== 'string') throw wrongValue(type, v, 'expects a number');
        return v;
      };
    case 'VARCHAR':
    case 'NCHAR':
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'BLOB':
    case 'DECIMAL':
    case 'JSON':
      // JSON: the tag's raw JSON text becomes a JSON string
      return (v) => {
        if (v === null) return 'null';
        return JSON.stringify(expectString(type, v, 'expects a string'));
      };
  }
}

/** Encodes canonical values of one column type as SQL literals. */
export type SqlLiteralEncoder = (v: TdValue) => string;

const FLT_MAX = 3.4028234663852886e38;

/**
 * A FLOAT or DOUBLE literal. TDengine reads a FLOAT literal with strtod and then narrows it
 * to float32, which is exactly `Math.fround(Number(text))`: the exported text (the server's
 * shortest float32 text, `10.51`) therefore gives back the same float32 and is sent as it is.
 * Only where the text read as a double lies beyond FLT_MAX (which TDengine refuses:
 * `3.4028235e+38`, the shortest text of FLT_MAX itself) is the float32's exact double text
 * sent instead (`3.4028234663852886e+38`, the same float32). Always has a `.` or an exponent,
 * so it reads as a float literal.
 */
function floatLiteral(text: string, single: boolean, type: TdType): string {
  if (!NUMBER.test(text)) throw wrongValue(type, text, 'expects a number');
  const d = Number(text);
  const v = single ? Math.fround(d) : d;
  if (!Number.isFinite(v)) throw wrongValue(type, text, 'is out of range');
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const s = single && Math.abs(d) > FLT_MAX ? String(v) : text;
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export function sqlLiteralEncoder(type: TdType): SqlLiteralEncoder {
  switch (type.name) {
    case 'TIMESTAMP':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string' || !INTEGER.test(v)) throw wrongValue(type, v, 'expects an integer epoch');
        return v;
      };
    case 'BOOL':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'boolean') throw wrongValue(type, v, 'expects true or false');
        return v ? 'true' : 'false';
      };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string' || !INTEGER.test(v)) throw wrongValue(type, v, 'expects an integer');
        return v;
      };
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string' || !UNSIGNED.test(v)) throw wrongValue(type, v, 'expects an unsigned integer');
        return v;
      };
    case 'FLOAT':
    case 'DOUBLE': {
      const single = type.name === 'FLOAT';
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string') throw wrongValue(type, v, 'expects a number');
        return floatLiteral(v, single, type);
      };
    }
    case 'DECIMAL':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string' || !DECIMAL.test(v)) throw wrongValue(type, v, 'expects a decimal string');
        return v;
      };
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string') throw wrongValue(type, v, 'expects a string');
        return quoteString(v);
      };
    case 'VARBINARY':
    case 'BLOB':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string' || !HEX.test(v)) throw wrongValue(type, v, 'expects a hex string');
        return `'\\x${v}'`;
      };
    case 'GEOMETRY':
      return (v) => {
        if (v === null) return 'NULL';
        if (typeof v !== 'string') throw wrongValue(type, v, 'expects WKB hex');
        return quoteString(wkbHexToWkt(v));
      };
  }
}

/**
 * Encodes a td-jsonl token (`s[a, b)`, as written) of one column type as an SQL literal,
 * copying it where it already is one: integers, timestamps, booleans and DOUBLEs go through
 * as text after a character check, strings without escapes or apostrophes are re-quoted by
 * slicing. Anything else takes the value path ({@link sqlLiteralEncoder}).
 */
export type SqlTokenEncoder = (s: string, a: number, b: number, sc: JsonScanner) => string;

function isIntegerToken(s: string, a: number, b: number, signed: boolean): boolean {
  let i = a;
  if (signed && s.charCodeAt(i) === 0x2d) i++;
  if (i >= b) return false;
  for (; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function isNumberStart(c: number): boolean {
  return c === 0x2d || (c >= 0x30 && c <= 0x39);
}

function isHexContent(s: string, a: number, b: number): boolean {
  if ((b - a) % 2 !== 0) return false;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Memo of FLOAT literals: measurements repeat values a lot and the conversion is not free. */
const FLOAT_CACHE_MAX = 1 << 16;

export function sqlTokenEncoder(type: TdType): SqlTokenEncoder {
  const slow = sqlLiteralEncoder(type);
  const viaValue: SqlTokenEncoder = (s, a, b, sc) => {
    sc.scanValue(a, false);
    return slow(sc.value);
  };
  const isNull = (s: string, a: number): boolean => s.charCodeAt(a) === 0x6e;
  switch (type.name) {
    case 'TIMESTAMP':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED': {
      const signed = !type.name.endsWith('UNSIGNED');
      return (s, a, b) => {
        if (isNull(s, a)) return 'NULL';
        if (isIntegerToken(s, a, b, signed)) return s.slice(a, b);
        throw wrongValue(type, s.slice(a, b), signed ? 'expects an integer' : 'expects an unsigned integer');
      };
    }
    case 'BOOL':
      return (s, a, b) => {
        const c = s.charCodeAt(a);
        if (c === 0x74 || c === 0x66 || c === 0x6e) return c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'NULL';
        throw wrongValue(type, s.slice(a, b), 'expects true or false');
      };
    case 'DOUBLE':
      return (s, a, b, sc) => {
        if (isNull(s, a)) return 'NULL';
        if (!isNumberStart(s.charCodeAt(a))) throw wrongValue(type, s.slice(a, b), 'expects a number');
        for (let i = a; i < b; i++) {
          const d = s.charCodeAt(i);
          if (d === 0x65 || d === 0x45) return viaValue(s, a, b, sc); // exponent: check the range
          if (d === 0x2e) return s.slice(a, b);
        }
        return viaValue(s, a, b, sc);
      };
    case 'FLOAT': {
      const cache = new Map<string, string>();
      return (s, a, b, sc) => {
        if (isNull(s, a)) return 'NULL';
        if (!isNumberStart(s.charCodeAt(a))) throw wrongValue(type, s.slice(a, b), 'expects a number');
        const text = s.slice(a, b);
        const hit = cache.get(text);
        if (hit !== undefined) return hit;
        const lit = viaValue(s, a, b, sc);
        if (cache.size >= FLOAT_CACHE_MAX) cache.clear();
        cache.set(text, lit);
        return lit;
      };
    }
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
      return (s, a, b, sc) => {
        if (isNull(s, a)) return 'NULL';
        if (s.charCodeAt(a) === 0x22 && !sc.hasBackslash(a + 1, b - 1)) {
          const content = s.slice(a + 1, b - 1);
          // valid JSON has no raw control characters in strings; this one is checked anyway
          if (!NEEDS_SQL_ESCAPE.test(content)) return `'${content}'`;
        }
        return viaValue(s, a, b, sc);
      };
    case 'VARBINARY':
    case 'BLOB':
      return (s, a, b, sc) => {
        if (isNull(s, a)) return 'NULL';
        if (s.charCodeAt(a) === 0x22 && isHexContent(s, a + 1, b - 1)) return `'\\x${s.slice(a + 1, b - 1)}'`;
        return viaValue(s, a, b, sc);
      };
    case 'GEOMETRY':
    case 'DECIMAL':
      return viaValue;
  }
}

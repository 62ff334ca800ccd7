/**
 * JSON text of result values exactly as taosAdapter writes them (`tools/ctools/block.go`,
 * contract §1.6). Written by hand: BIGINT / BIGINT UNSIGNED are bare JSON numbers, which
 * JSON.stringify cannot produce from a BigInt.
 */
import { civilFromDays, floorDiv, type TimeZone } from '../engine/time.ts';
import type { DataType, Precision, Value } from '../engine/types.ts';
import { formatDecimal } from '../engine/values.ts';

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;
const HEX = '0123456789abcdef';

/**
 * A JSON string the way taosAdapter's json builder escapes it: `"` `\` as `\"` `\\`,
 * \n \r \t short, other control characters as \u00xx; everything else (non-ASCII
 * included) is copied as is.
 */
export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(from, i);
    from = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      default:
        out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    }
  }
  return `${out + s.slice(from)}"`;
}

/** JS exponent "1e-7" → Go's "1e-07" (at least two exponent digits). */
function goExponent(s: string): string {
  const e = s.indexOf('e');
  if (e < 0) return s;
  const digits = s.slice(e + 2);
  return digits.length >= 2 ? s : `${s.slice(0, e + 2)}0${digits}`;
}

/**
 * DOUBLE: Go strconv.AppendFloat(v,'f',-1,64), switching to 'e' when |v| < 1e-6 or
 * |v| >= 1e21 (the same thresholds as JS number→string); NaN/±Inf → null.
 */
export function formatDouble(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return goExponent(String(v));
}

/** Memo of formatFloat: measurement data repeats values a lot and the search below is costly. */
const floatCache = new Map<number, string>();
const FLOAT_CACHE_MAX = 1 << 16;

/** FLOAT: the shortest decimal that reads back as the same float32 (Go bitsize 32). */
export function formatFloat(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const hit = floatCache.get(v);
  if (hit !== undefined) return hit;
  const s = shortestFloat32(v);
  if (floatCache.size >= FLOAT_CACHE_MAX) floatCache.clear();
  floatCache.set(v, s);
  return s;
}

function shortestFloat32(v: number): string {
  // correctly rounded p-digit decimals round-trip for all p >= the shortest length,
  // so the shortest can be found by binary search
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(v.toPrecision(mid))) === v) hi = mid;
    else lo = mid + 1;
  }
  return goExponent(String(Number(v.toPrecision(lo))));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function offsetSuffix(offsetSec: number): string {
  if (offsetSec === 0) return 'Z';
  const sign = offsetSec < 0 ? '-' : '+';
  const a = Math.abs(offsetSec);
  return `${sign}${pad2(Math.floor(a / 3600))}:${pad2(Math.floor((a % 3600) / 60))}`;
}

/**
 * Fixed-width RFC 3339 timestamps: 3, 6 or 9 fraction digits for ms, us, ns, `Z` in UTC
 * or `±hh:mm` in `tz` (Go layout `2006-01-02T15:04:05.000Z07:00`). The date part is cached
 * per second, so consecutive rows cost a string concatenation.
 */
export function timestampFormatter(precision: Precision, tz: TimeZone): (ts: bigint) => string {
  const digits = precision === 'ms' ? 3 : precision === 'us' ? 6 : 9;
  const perSec = precision === 'ms' ? 1000n : precision === 'us' ? 1000000n : 1000000000n;
  const perSecNum = Number(perSec);
  let lastSec = Number.NaN;
  let lastPrefix = '';
  let lastSuffix = '';
  // time-zone offset cache, per 15-minute bucket when the offset is constant over it
  let bucket = Number.NaN;
  let bucketOffset = 0;
  let bucketMixed = false;

  const offsetAt = (sec: number): number => {
    if (tz.isUtc) return 0;
    const b = Math.floor(sec / 900);
    if (b !== bucket) {
      bucket = b;
      bucketOffset = tz.offsetAt(b * 900);
      bucketMixed = tz.offsetAt(b * 900 + 899) !== bucketOffset;
    }
    return bucketMixed ? tz.offsetAt(sec) : bucketOffset;
  };

  const prefixFor = (sec: number): void => {
    const off = offsetAt(sec);
    const local = sec + off;
    const days = Math.floor(local / 86400);
    const sod = local - days * 86400;
    const [y, m, d] = civilFromDays(days);
    const ys = y >= 0 && y < 10000 ? String(y).padStart(4, '0') : String(y);
    lastPrefix = `${ys}-${pad2(m)}-${pad2(d)}T${pad2(Math.floor(sod / 3600))}:${pad2(Math.floor((sod % 3600) / 60))}:${pad2(sod % 60)}.`;
    lastSuffix = offsetSuffix(off);
    lastSec = sec;
  };

  const frac = (f: number): string => {
    const s = String(f);
    return s.length >= digits ? s : '000000000'.slice(0, digits - s.length) + s;
  };

  return (ts: bigint): string => {
    let sec: number;
    let f: number;
    if (ts <= 9007199254740991n && ts >= -9007199254740991n) {
      const n = Number(ts);
      sec = Math.floor(n / perSecNum);
      f = n - sec * perSecNum;
    } else {
      const s = floorDiv(ts, perSec);
      sec = Number(s);
      f = Number(ts - s * perSec);
    }
    if (sec !== lastSec) prefixFor(sec);
    return `"${lastPrefix}${frac(f)}${lastSuffix}"`;
  };
}

export type Encoder = (v: Value) => string;

/** The JSON encoder of one result column. */
export function encoderFor(type: DataType, precision: Precision, tz: TimeZone): Encoder {
  switch (type.name) {
    case 'TIMESTAMP': {
      const f = timestampFormatter(precision, tz);
      return (v) => (v === null ? 'null' : f(v as bigint));
    }
    case 'BOOL':
      return (v) => (v === null ? 'null' : v ? 'true' : 'false');
    case 'FLOAT':
      return (v) => (v === null ? 'null' : formatFloat(v as number));
    case 'DOUBLE':
      return (v) => (v === null ? 'null' : formatDouble(v as number));
    case 'VARCHAR':
    case 'NCHAR':
      return (v) => (v === null ? 'null' : jsonString(String(v)));
    case 'JSON':
      // the tag's JSON text, unquoted (a nested JSON value)
      return (v) => (v === null ? 'null' : String(v));
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'BLOB':
      return (v) => (v === null ? 'null' : `"${String(v)}"`);
    case 'DECIMAL': {
      const scale = type.scale;
      return (v) => (v === null ? 'null' : `"${formatDecimal(v as bigint, scale)}"`);
    }
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      // BIGINT / BIGINT UNSIGNED values are bigint and print exactly
      return (v) => (v === null ? 'null' : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
}

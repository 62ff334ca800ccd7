/**
 * Calendar and time-zone arithmetic for the TDengine REST test server, without `Date`
 * objects in the hot paths (timestamps are bigint ticks in a database precision).
 */
import type { Precision } from './types.ts';
import { PRECISION_TICKS_PER_SEC } from './types.ts';

/** Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** [year, month, day] for days since 1970-01-01. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** A time zone: UTC, or an IANA zone resolved through Intl. */
export class TimeZone {
  readonly name: string;
  readonly isUtc: boolean;
  private readonly dtf: Intl.DateTimeFormat | undefined;

  private constructor(name: string, dtf: Intl.DateTimeFormat | undefined) {
    this.name = name;
    this.isUtc = dtf === undefined;
    this.dtf = dtf;
  }

  static readonly UTC = new TimeZone('UTC', undefined);
  private static readonly cache = new Map<string, TimeZone>();

  /** Resolves a zone name the way Go's time.LoadLocation would accept it; undefined if unknown. */
  static lookup(name: string): TimeZone | undefined {
    if (name === '' || name === 'UTC' || name === 'Local') return TimeZone.UTC;
    const hit = TimeZone.cache.get(name);
    if (hit) return hit;
    // Go rejects numeric offsets such as "+08:00"; ICU would accept them.
    if (/^[+-]/.test(name)) return undefined;
    let dtf: Intl.DateTimeFormat;
    try {
      dtf = new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      return undefined;
    }
    const tz = new TimeZone(name, dtf);
    TimeZone.cache.set(name, tz);
    return tz;
  }

  /** Offset from UTC in seconds at the instant `epochSec`. */
  offsetAt(epochSec: number): number {
    if (this.dtf === undefined) return 0;
    const parts = this.dtf.formatToParts(new Date(epochSec * 1000));
    const part = (t: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
    let y = part('year');
    const mo = part('month');
    const d = part('day');
    const h = part('hour');
    const mi = part('minute');
    const s = part('second');
    const bc = parts.find((p) => p.type === 'era')?.value.startsWith('B') ?? false;
    if (bc) y = 1 - y;
    const local = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return local - Math.floor(epochSec);
  }

  /** UTC seconds for a wall-clock time (seconds since epoch as if it were UTC). */
  wallToUtc(localSec: number): number {
    if (this.dtf === undefined) return localSec;
    let utc = localSec - this.offsetAt(localSec);
    utc = localSec - this.offsetAt(utc);
    return utc;
  }
}

const TS_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses a TDengine timestamp string literal into ticks of `precision`.
 * Accepts `YYYY-MM-DD[ |T]HH:mm[:ss[.fraction]]` with an optional `Z`/`±HH[:MM]` zone; a
 * literal without a zone is read in `tz` (the connection time zone), as TDengine does.
 * Returns undefined for anything else.
 */
export function parseTimestampString(s: string, precision: Precision, tz: TimeZone): bigint | undefined {
  const text = s.trim();
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const m = TS_RE.exec(text);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, fs, zs] = m;
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  const h = hs === undefined ? 0 : Number(hs);
  const mi = mis === undefined ? 0 : Number(mis);
  const sec = ss === undefined ? 0 : Number(ss);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;
  const wall = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  let utc: number;
  if (zs === undefined) utc = tz.wallToUtc(wall);
  else if (zs === 'Z' || zs === 'z') utc = wall;
  else {
    const sign = zs[0] === '-' ? -1 : 1;
    const digits = zs.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    utc = wall - sign * (oh * 3600 + om * 60);
  }
  const fracNs = fs === undefined ? 0n : BigInt(fs.padEnd(9, '0'));
  const ns = BigInt(utc) * 1000000000n + fracNs;
  return floorDiv(ns, 1000000000n / PRECISION_TICKS_PER_SEC[precision]);
}

function daysInMonth(y: number, m: number): number {
  return daysFromCivil(m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, 1) - daysFromCivil(y, m, 1);
}

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Current time in ticks of `precision`. */
export function nowTicks(precision: Precision): bigint {
  const ms = BigInt(Date.now());
  switch (precision) {
    case 'ms':
      return ms;
    case 'us':
      return ms * 1000n;
    case 'ns':
      return ms * 1000000n;
  }
}

/** Start of today (in `tz`) in ticks of `precision`. */
export function todayTicks(precision: Precision, tz: TimeZone): bigint {
  const sec = Math.floor(Date.now() / 1000);
  const local = sec + tz.offsetAt(sec);
  const midnightLocal = Math.floor(local / 86400) * 86400;
  return BigInt(tz.wallToUtc(midnightLocal)) * PRECISION_TICKS_PER_SEC[precision];
}

const UNIT_NS: Readonly<Record<string, bigint>> = {
  b: 1n,
  u: 1000n,
  a: 1000000n,
  s: 1000000000n,
  m: 60000000000n,
  h: 3600000000000n,
  d: 86400000000000n,
  w: 604800000000000n,
};

/** A duration literal (`10s`, `1d`, `5000a`) in ticks of `precision`; undefined for n/y. */
export function durationTicks(amount: bigint, unit: string, precision: Precision): bigint | undefined {
  const ns = UNIT_NS[unit];
  if (ns === undefined) return undefined;
  return (amount * ns) / (1000000000n / PRECISION_TICKS_PER_SEC[precision]);
}

/** A duration literal in minutes, as used by database options (DURATION, KEEP). */
export function durationMinutes(amount: number, unit: string): number | undefined {
  switch (unit) {
    case 'm':
      return amount;
    case 'h':
      return amount * 60;
    case 'd':
      return amount * 1440;
    default:
      return undefined;
  }
}

/**
 * Timestamps: REST sends RFC 3339 text (`2022-06-29T05:50:55.401123456Z`, or `+08:00` with
 * `tz`); TDengine reads integer literals as epochs in the database precision. Conversions
 * here are exact at any precision: the epoch is composed as digits, never through a float.
 */

import type { Precision } from './types.ts';

const DIGITS: Readonly<Record<Precision, number>> = { ms: 3, us: 6, ns: 9 };
const UNITS: Readonly<Record<Precision, number>> = { ms: 1e3, us: 1e6, ns: 1e9 };
const ZEROS = '000000000';

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The inverse: [year, month, day] of a day number. */
export function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [m <= 2 ? y + 1 : y, m, d];
}

const RFC3339 = /^(-?\d{4,})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})$/;

/** Integer epoch digits from whole seconds and a fraction already scaled to the precision. */
function composeEpoch(sec: number, frac: number, width: number): string {
  if (sec >= 0) {
    if (sec === 0) return String(frac);
    const f = String(frac);
    return String(sec) + ZEROS.slice(0, width - f.length) + f;
  }
  if (frac === 0) return `${String(sec)}${ZEROS.slice(0, width)}`;
  // sec < 0 and 0 < frac: value = -((-sec - 1) * unit + (unit - frac))
  const unit = 10 ** width;
  const hi = -sec - 1;
  const lo = unit - frac;
  if (hi === 0) return `-${String(lo)}`;
  const f = String(lo);
  return `-${String(hi)}${ZEROS.slice(0, width - f.length)}${f}`;
}

let MILLIS: readonly string[] | undefined;
/** `000` ... `999`, made once. */
function millisTexts(): readonly string[] {
  MILLIS ??= Array.from({ length: 1000 }, (_, f) => String(f).padStart(3, '0'));
  return MILLIS;
}

/** Converts RFC 3339 text to integer epoch digits in one precision; see {@link rfc3339ToEpochConverter}. */
export interface EpochConverter {
  (text: string): string;
  /** The same for a JSON string token `"..."` at `s[from, to)` (quotes included), without slicing. */
  token(s: string, from: number, to: number): string;
}

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1000;
}

/**
 * A converter of RFC 3339 timestamps to integer epochs (digits) in `precision`. Any number
 * of fraction digits is accepted (older taosAdapters trimmed trailing zeros); digits beyond
 * the precision must be zeros, or the value could not be represented and the call throws.
 * The fixed layout `YYYY-MM-DDTHH:MM:SS.fffZ` is read by character codes with the day
 * number cached, so a row costs a few arithmetic operations and one number-to-string.
 */
export function rfc3339ToEpochConverter(precision: Precision): EpochConverter {
  const width = DIGITS[precision];
  const unit = UNITS[precision];
  // |sec| below this keeps sec * unit + frac exact in a double
  const safeSec = Math.floor(Number.MAX_SAFE_INTEGER / unit) - 1;
  let lastDateKey = -1;
  let lastDays = 0;

  const slow = (text: string): string => {
    const m = RFC3339.exec(text);
    if (!m) throw new RangeError(`not an RFC 3339 timestamp: ${JSON.stringify(text.slice(0, 64))}`);
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    const h = Number(m[4]);
    const mi = Number(m[5]);
    const se = Number(m[6]);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
      throw new RangeError(`not a valid timestamp: ${JSON.stringify(text.slice(0, 64))}`);
    }
    let fracText = m[7] ?? '';
    if (fracText.length > width) {
      if (!/^0*$/.test(fracText.slice(width))) {
        throw new RangeError(`timestamp ${text} has more precision than the database's ${precision}`);
      }
      fracText = fracText.slice(0, width);
    }
    const frac = Number(fracText.padEnd(width, '0'));
    const zone = m[8]!;
    let offsetSec = 0;
    if (zone !== 'Z' && zone !== 'z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offsetSec = sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60);
    }
    const sec = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offsetSec;
    return epochText(sec, frac);
  };

  // After 1970 the epoch is the seconds' digits then the fraction's, padded: composed from small
  // integers (fast to print) rather than printing sec * unit + frac, a double beyond int32 (slow:
  // ~150 ns a row, the largest part of a timestamp's conversion). Rows of one second share its text.
  let lastSec = -1;
  let lastSecText = '';
  const fracTexts = width === 3 ? millisTexts() : undefined;
  const epochText = (sec: number, frac: number): string => {
    if (sec > 0) {
      if (sec !== lastSec) {
        lastSec = sec;
        lastSecText = String(sec);
      }
      if (fracTexts !== undefined) return lastSecText + fracTexts[frac]!;
      const f = String(frac);
      return lastSecText + ZEROS.slice(0, width - f.length) + f;
    }
    return sec < safeSec && sec > -safeSec ? String(sec * unit + frac) : composeEpoch(sec, frac, width);
  };

  /** `YYYY-MM-DDTHH:MM:SS.f+Z` at s[a, b) (no quotes); undefined if the layout differs. */
  const fast = (s: string, a: number, b: number): string | undefined => {
    const fracLen = b - a - 21;
    if (
      fracLen < 1 ||
      s.charCodeAt(a + 4) !== 0x2d ||
      s.charCodeAt(a + 7) !== 0x2d ||
      s.charCodeAt(a + 10) !== 0x54 ||
      s.charCodeAt(a + 13) !== 0x3a ||
      s.charCodeAt(a + 16) !== 0x3a ||
      s.charCodeAt(a + 19) !== 0x2e ||
      s.charCodeAt(b - 1) !== 0x5a
    ) {
      return undefined;
    }
    const y = digit(s, a) * 1000 + digit(s, a + 1) * 100 + digit(s, a + 2) * 10 + digit(s, a + 3);
    const mo = digit(s, a + 5) * 10 + digit(s, a + 6);
    const d = digit(s, a + 8) * 10 + digit(s, a + 9);
    const h = digit(s, a + 11) * 10 + digit(s, a + 12);
    const mi = digit(s, a + 14) * 10 + digit(s, a + 15);
    const se = digit(s, a + 17) * 10 + digit(s, a + 18);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) return undefined;
    let frac = 0;
    const kept = fracLen < width ? fracLen : width;
    for (let k = 0; k < kept; k++) {
      const v = digit(s, a + 20 + k);
      if (v < 0) return undefined;
      frac = frac * 10 + v;
    }
    for (let k = kept; k < fracLen; k++) if (digit(s, a + 20 + k) !== 0) return undefined;
    for (let k = fracLen; k < width; k++) frac *= 10;
    const key = y * 10000 + mo * 100 + d;
    if (key !== lastDateKey) {
      lastDays = daysFromCivil(y, mo, d);
      lastDateKey = key;
    }
    return epochText(lastDays * 86400 + h * 3600 + mi * 60 + se, frac);
  };

  const convert = ((text: string): string => fast(text, 0, text.length) ?? slow(text)) as EpochConverter;
  convert.token = (s: string, from: number, to: number): string => {
    if (s.charCodeAt(from) !== 0x22 || s.charCodeAt(to - 1) !== 0x22) {
      throw new RangeError(`not a timestamp string: ${s.slice(from, Math.min(to, from + 64))}`);
    }
    return fast(s, from + 1, to - 1) ?? slow(JSON.parse(s.slice(from, to)) as string);
  };
  return convert;
}

/** One-off conversion; use {@link rfc3339ToEpochConverter} for many values. */
export function rfc3339ToEpoch(text: string, precision: Precision): string {
  return rfc3339ToEpochConverter(precision)(text);
}

/** RFC 3339 in UTC with the precision's fixed width, from integer epoch digits (for messages and tests). */
export function epochToRfc3339(epoch: string | bigint, precision: Precision): string {
  const v = BigInt(epoch);
  const unit = BigInt(UNITS[precision]);
  let sec = v / unit;
  let frac = v % unit;
  if (frac < 0n) {
    frac += unit;
    sec -= 1n;
  }
  const s = Number(sec);
  const days = Math.floor(s / 86400);
  const sod = s - days * 86400;
  const [y, m, d] = civilFromDays(days);
  const p2 = (x: number): string => String(x).padStart(2, '0');
  const ys = y >= 0 && y < 10000 ? String(y).padStart(4, '0') : String(y);
  return `${ys}-${p2(m)}-${p2(d)}T${p2(Math.floor(sod / 3600))}:${p2(Math.floor((sod % 3600) / 60))}:${p2(sod % 60)}.${frac
    .toString()
    .padStart(DIGITS[precision], '0')}Z`;
}

/**
 * The newest timestamp TDengine accepts in each precision (contract §5: year 2970 for ms and
 * us, int64 for ns), used as an exclusive upper bound: nothing can lie at or beyond it.
 */
export const TIMESTAMP_END: Readonly<Record<Precision, bigint>> = {
  ms: 31556995200000n,
  us: 31556995200000000n,
  ns: 9223372036854775807n,
};

/** An epoch clamped to TDengine's range: a bound beyond it would be refused (timestamp out of range). */
export function clampEpoch(v: bigint, precision: Precision): bigint {
  const max = TIMESTAMP_END[precision];
  return v > max ? max : v < -max ? -max : v;
}

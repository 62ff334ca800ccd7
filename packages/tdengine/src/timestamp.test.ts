import { describe, expect, it } from 'vitest';
import { civilFromDays, daysFromCivil, epochToRfc3339, rfc3339ToEpoch, rfc3339ToEpochConverter } from './timestamp.ts';

describe('rfc3339ToEpoch', () => {
  it('converts at each precision exactly', () => {
    expect(rfc3339ToEpoch('2022-06-29T05:50:55.401Z', 'ms')).toBe('1656481855401');
    expect(rfc3339ToEpoch('2022-06-29T05:50:55.401123Z', 'us')).toBe('1656481855401123');
    expect(rfc3339ToEpoch('2022-06-29T05:50:55.401123456Z', 'ns')).toBe('1656481855401123456');
  });

  it('handles the int64 extremes of ns precision without floats', () => {
    expect(rfc3339ToEpoch('2262-04-11T23:47:16.854775807Z', 'ns')).toBe('9223372036854775807');
    expect(rfc3339ToEpoch('1677-09-21T00:12:43.145224192Z', 'ns')).toBe('-9223372036854775808');
    expect(rfc3339ToEpoch('2970-01-01T00:00:00.000000Z', 'us')).toBe('31556995200000000');
  });

  it('handles the epoch and times before it', () => {
    expect(rfc3339ToEpoch('1970-01-01T00:00:00.000Z', 'ms')).toBe('0');
    expect(rfc3339ToEpoch('1970-01-01T00:00:00.000000001Z', 'ns')).toBe('1');
    expect(rfc3339ToEpoch('1969-12-31T23:59:59.999Z', 'ms')).toBe('-1');
    expect(rfc3339ToEpoch('1969-12-31T23:59:59.000Z', 'ms')).toBe('-1000');
    expect(rfc3339ToEpoch('1969-12-31T23:59:58.999999999Z', 'ns')).toBe('-1000000001');
  });

  it('applies offsets and accepts trimmed fractions (older taosAdapters)', () => {
    expect(rfc3339ToEpoch('2022-06-29T13:50:55.401+08:00', 'ms')).toBe('1656481855401');
    expect(rfc3339ToEpoch('2022-07-30T06:44:40.32Z', 'ms')).toBe('1659163480320');
    expect(rfc3339ToEpoch('2022-07-30T06:44:40Z', 'us')).toBe('1659163480000000');
    expect(rfc3339ToEpoch('2022-07-30T06:44:40.320000Z', 'ms')).toBe('1659163480320');
  });

  it('refuses text it cannot represent exactly', () => {
    expect(() => rfc3339ToEpoch('2022-07-30T06:44:40.3201Z', 'ms')).toThrow(/more precision/);
    expect(() => rfc3339ToEpoch('2022-07-30 nope', 'ms')).toThrow(/RFC 3339/);
    expect(() => rfc3339ToEpoch('2022-13-30T06:44:40Z', 'ms')).toThrow();
  });

  it('gives the same answer on its cached fast path', () => {
    const conv = rfc3339ToEpochConverter('us');
    const base = 1656481855000000n;
    for (let i = 0; i < 3000; i += 7) {
      const v = base + BigInt(i) * 1000n;
      expect(conv(epochToRfc3339(v, 'us'))).toBe(v.toString());
    }
  });

  it('composes the digits of many epochs like BigInt arithmetic, one converter for all (second text reused)', () => {
    for (const p of ['ms', 'us', 'ns'] as const) {
      const conv = rfc3339ToEpochConverter(p);
      const unit = { ms: 1000n, us: 1_000_000n, ns: 1_000_000_000n }[p];
      let v = -3n * unit;
      for (let i = 0; i < 2000; i++) {
        // steps inside one second and across days and years, from before the epoch on
        v += i % 5 === 0 ? BigInt(i) * unit * 86_400n * 17n + 7n : BigInt((i * 7919) % 1000) + 1n;
        expect(conv(epochToRfc3339(v, p)), `${p} ${v}`).toBe(v.toString());
      }
    }
  });

  it('round-trips with epochToRfc3339 over a wide range', () => {
    for (const p of ['ms', 'us', 'ns'] as const) {
      for (const v of [0n, 1n, -1n, 999n, -999n, 86_400_000n, -86_400_001n, 1656481855401123n, -62135596800000n]) {
        expect(rfc3339ToEpoch(epochToRfc3339(v, p), p)).toBe(v.toString());
      }
    }
  });

  it('converts JSON string tokens in place, with the same results', () => {
    const conv = rfc3339ToEpochConverter('ns');
    const text =
      '["2262-04-11T23:47:16.854775807Z","1969-12-31T23:59:58.999999999Z","2022-07-30T06:44:40.32Z","2022-06-29T13:50:55.401+08:00"]';
    const tokens = text.slice(1, -1).split(',');
    let at = 1;
    const got = tokens.map((t) => {
      const v = conv.token(text, at, at + t.length);
      at += t.length + 1;
      return v;
    });
    expect(got).toEqual(['9223372036854775807', '-1000000001', '1659163480320000000', '1656481855401000000']);
    expect(() => conv.token('123', 0, 3)).toThrow(RangeError);
  });

  it('computes civil dates both ways', () => {
    for (const d of [-719468, -1, 0, 1, 19172, 365242]) expect(daysFromCivil(...civilFromDays(d))).toBe(d);
    expect(daysFromCivil(2000, 3, 1)).toBe(11017);
  });
});

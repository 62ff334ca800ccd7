import { describe, expect, it } from 'vitest';
import { CoverageTracker } from './coverage.ts';

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s));

describe('CoverageTracker', () => {
  it('returns the newest probe at or below what is stored, once', () => {
    const c = new CoverageTracker();
    expect(c.take(100n)).toBeUndefined();
    c.add({ lsn: 10n, serverTime: at(1) });
    c.add({ lsn: 20n, serverTime: at(2) });
    c.add({ lsn: 20n, serverTime: at(3) });
    c.add({ lsn: 30n, serverTime: at(4) });
    expect(c.take(5n)).toBeUndefined();
    expect(c.take(25n)?.serverTime).toEqual(at(3));
    expect(c.take(25n)).toBeUndefined();
    expect(c.take(30n)?.serverTime).toEqual(at(4));
  });

  it('keeps at most `limit` probes, dropping the oldest', () => {
    const c = new CoverageTracker(2);
    c.add({ lsn: 1n, serverTime: at(1) });
    c.add({ lsn: 2n, serverTime: at(2) });
    c.add({ lsn: 3n, serverTime: at(3) });
    expect(c.take(1n)).toBeUndefined();
    expect(c.take(2n)?.serverTime).toEqual(at(2));
  });
});

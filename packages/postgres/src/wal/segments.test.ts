import { describe, expect, it } from 'vitest';
import { SegmentAssembler } from './segments.ts';

const SEG = 1 << 20; // the smallest segment size PostgreSQL allows keeps the test light

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('SegmentAssembler', () => {
  it('fills a segment from in-order pieces and hands out growing partials', () => {
    const a = new SegmentAssembler(1, 3n * BigInt(SEG), SEG);
    expect(a.takePartial()).toBeUndefined();
    const first = bytes(1000, 1);
    expect(a.append(3n * BigInt(SEG), first)).toEqual([]);
    expect(a.received).toBe(3n * BigInt(SEG) + 1000n);
    const p1 = a.takePartial();
    expect(p1).toMatchObject({
      timeline: 1,
      segNo: 3n,
      name: '000000010000000000000003',
      complete: false,
      endLsn: 3n * BigInt(SEG) + 1000n,
    });
    expect(p1?.data.equals(first)).toBe(true);
    // Nothing new: no second partial of the same bytes.
    expect(a.takePartial()).toBeUndefined();
    a.append(a.received, bytes(24, 2));
    const p2 = a.takePartial();
    expect(p2?.data.length).toBe(1024);
    // The earlier view still shows exactly its bytes.
    expect(p1?.data.equals(first)).toBe(true);
  });

  it('splits a piece that crosses a segment boundary', () => {
    const start = 5n * BigInt(SEG);
    const a = new SegmentAssembler(2, start, SEG);
    const whole = bytes(SEG + 100, 7);
    const done = a.append(start, whole);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ segNo: 5n, name: '000000020000000000000005', complete: true, endLsn: 6n * BigInt(SEG) });
    expect(done[0]?.data.equals(whole.subarray(0, SEG))).toBe(true);
    expect(a.received).toBe(6n * BigInt(SEG) + 100n);
    const partial = a.takePartial();
    expect(partial).toMatchObject({ segNo: 6n, complete: false });
    expect(partial?.data.equals(whole.subarray(SEG))).toBe(true);
    // Two segments at once, and exactly to a boundary.
    const more = a.append(a.received, bytes(2 * SEG - 100, 9));
    expect(more.map((w) => w.segNo)).toEqual([6n, 7n]);
    expect(a.received).toBe(8n * BigInt(SEG));
    expect(a.takePartial()).toBeUndefined();
  });

  it('refuses unaligned starts and out-of-order data', () => {
    expect(() => new SegmentAssembler(1, 123n, SEG)).toThrow(RangeError);
    const a = new SegmentAssembler(1, 0n, SEG);
    expect(() => a.append(10n, bytes(5, 0))).toThrow(/out of order/);
    expect(a.append(10n, Buffer.alloc(0))).toEqual([]);
  });
});

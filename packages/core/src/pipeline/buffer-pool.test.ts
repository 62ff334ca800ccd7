import { describe, expect, it } from 'vitest';
import { BufferPool, MAX_POOLED_BYTES, releaseBuffer, takeBuffer } from './buffer-pool.ts';

describe('BufferPool', () => {
  it('hands a released buffer out again, whichever view of it was released', () => {
    const pool = new BufferPool(1024, 4);
    const a = pool.take();
    expect(a.length).toBe(1024);
    expect(a.buffer.byteLength).toBe(1024);
    a.fill(7);
    releaseBuffer(a.subarray(0, 10));
    expect(pool.available).toBe(1);
    const b = pool.take();
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(1024);
    expect(pool.available).toBe(0);
    // A fresh buffer when none is free.
    expect(pool.take().buffer).not.toBe(a.buffer);
  });

  it('ignores buffers it did not make, repeated releases, and keeps at most maxFree', () => {
    const pool = new BufferPool(64, 2);
    releaseBuffer(Buffer.allocUnsafeSlow(64));
    releaseBuffer(Buffer.alloc(64));
    expect(pool.available).toBe(0);
    const [a, b, c] = [pool.take(), pool.take(), pool.take()];
    releaseBuffer(a);
    releaseBuffer(a);
    expect(pool.available).toBe(1);
    releaseBuffer(b);
    releaseBuffer(c);
    expect(pool.available).toBe(2);
    // Two distinct buffers come back out, never the same one twice.
    expect(pool.take().buffer).not.toBe(pool.take().buffer);
  });

  it('takeBuffer pools by size, up to MAX_POOLED_BYTES', () => {
    const a = takeBuffer(3000);
    releaseBuffer(a);
    expect(takeBuffer(3000).buffer).toBe(a.buffer);
    const other = takeBuffer(3001);
    expect(other.buffer).not.toBe(a.buffer);
    const big = takeBuffer(MAX_POOLED_BYTES + 1);
    expect(big.length).toBe(MAX_POOLED_BYTES + 1);
    releaseBuffer(big);
    expect(takeBuffer(MAX_POOLED_BYTES + 1).buffer).not.toBe(big.buffer);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new BufferPool(0, 1)).toThrow(RangeError);
    expect(() => new BufferPool(1.5, 1)).toThrow(RangeError);
  });
});

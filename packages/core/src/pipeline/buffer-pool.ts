/**
 * Recycled output buffers for the read path: decompressors fill buffers taken from a pool,
 * and the one consumer that knows when their bytes are gone for good (the COPY writer of a
 * restore, once the socket has taken them) hands them back.
 *
 * Why: a restore moves gigabytes through fresh 1 MiB buffers. Each is memory outside V8's
 * heap, whose growth makes V8 start a full mark-compact every few tens of megabytes; in
 * bench/postgres/import-profile.ts that garbage collection was about a third of the
 * loading process's CPU. Reused buffers are not new external memory.
 *
 * Contract: `releaseBuffer(chunk)` may be called only by the last holder of `chunk`, once
 * nothing reads it any more, and at most once per chunk a stream produced. It returns the
 * whole backing buffer to its pool, so a producer pushes one view per buffer it takes. A
 * chunk that did not come from a pool is ignored, and a consumer that never releases (a
 * checksum verification, a test collecting chunks) leaves its buffers to the garbage
 * collector, as before.
 */

/** Which pool each pooled backing buffer belongs to (weak: a dropped buffer is just freed). */
const owners = new WeakMap<ArrayBufferLike, BufferPool>();

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  /**
   * @param bytes size of every buffer
   * @param maxFree buffers kept for reuse at most; more are left to the garbage collector
   */
  constructor(
    readonly bytes: number,
    private readonly maxFree: number,
  ) {
    if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError(`buffer size must be a positive integer, got ${bytes}`);
  }

  /** A buffer of `bytes` bytes with arbitrary contents (like Buffer.allocUnsafe). */
  take(): Buffer {
    const reused = this.free.pop();
    if (reused) return Buffer.from(reused, 0, this.bytes);
    // allocUnsafeSlow: a backing buffer of its own (allocUnsafe may hand out a slice of a
    // shared one), so the backing buffer identifies the chunk.
    const fresh = Buffer.allocUnsafeSlow(this.bytes);
    owners.set(fresh.buffer, this);
    return fresh;
  }

  /** Buffers waiting for reuse (for tests). */
  get available(): number {
    return this.free.length;
  }

  /** @internal releaseBuffer's half: back to the free list (a repeated release is ignored). */
  give(backing: ArrayBuffer): void {
    if (this.free.length < this.maxFree && !this.free.includes(backing)) this.free.push(backing);
  }
}

/** Returns a pooled chunk's buffer to its pool (see the contract above); other chunks are ignored. */
export function releaseBuffer(chunk: Uint8Array): void {
  owners.get(chunk.buffer)?.give(chunk.buffer as ArrayBuffer);
}

const pools = new Map<number, BufferPool>();

/** Larger buffers are not pooled: eight of them kept idle would cost too much. */
export const MAX_POOLED_BYTES = 4 * 1024 * 1024;

/**
 * A buffer of `bytes` bytes (contents arbitrary) from the process-wide pool of that size,
 * which keeps up to 8 free buffers (a worker's loads in flight hold a few each); above
 * MAX_POOLED_BYTES a plain unpooled buffer. Sizes come from a few constants and recorded
 * gzip member sizes, so there are few pools.
 */
export function takeBuffer(bytes: number): Buffer {
  if (bytes > MAX_POOLED_BYTES) return Buffer.allocUnsafe(bytes);
  let pool = pools.get(bytes);
  if (!pool) {
    pool = new BufferPool(bytes, 8);
    pools.set(bytes, pool);
  }
  return pool.take();
}

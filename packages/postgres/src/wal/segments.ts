/**
 * Assembles streamed WAL into whole segments in memory (one Buffer of the segment size per
 * segment: 16 MiB by default, small enough to hold, and uploads then need no staging file).
 */

import { segmentName, segmentStartLsn, segNoOf } from './lsn.ts';
import type { WalSegmentWrite } from './types.ts';

export class SegmentAssembler {
  private segNo: bigint;
  /** Allocated on the first byte, so a segment that never gets any costs nothing. */
  private buf: Buffer | undefined;
  private filled = 0;
  /** Bytes of the current segment already handed out as a partial write. */
  private handedOut = 0;

  constructor(
    readonly timeline: number,
    startLsn: bigint,
    readonly segSize: number,
  ) {
    this.segNo = segNoOf(startLsn, segSize);
    if (segmentStartLsn(this.segNo, segSize) !== startLsn) {
      throw new RangeError('streaming must start at a segment boundary: the first write of a segment holds its start');
    }
  }

  /** The LSN just past the last byte received. */
  get received(): bigint {
    return segmentStartLsn(this.segNo, this.segSize) + BigInt(this.filled);
  }

  /**
   * Adds `data`, which starts at `dataStart` (the server sends WAL in order, without gaps, so
   * anything else is a protocol error). Returns the segments this completes, in order; one
   * message may end a segment and begin the next.
   */
  append(dataStart: bigint, data: Buffer): WalSegmentWrite[] {
    if (data.length === 0) return [];
    if (dataStart !== this.received) {
      throw new RangeError(`WAL arrived out of order: expected data at ${this.received}, got ${dataStart}`);
    }
    const done: WalSegmentWrite[] = [];
    let offset = 0;
    while (offset < data.length) {
      this.buf ??= Buffer.allocUnsafeSlow(this.segSize);
      const n = Math.min(data.length - offset, this.segSize - this.filled);
      data.copy(this.buf, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.segSize) {
        done.push(this.write(this.buf, true));
        this.segNo += 1n;
        this.buf = undefined;
        this.filled = 0;
        this.handedOut = 0;
      }
    }
    return done;
  }

  /** True when the current segment has bytes not yet handed out by {@link takePartial}. */
  hasNewBytes(): boolean {
    return this.filled > this.handedOut;
  }

  /**
   * The current segment so far, as a partial write, when it has bytes not handed out before;
   * a view, not a copy: bytes already received are never overwritten.
   */
  takePartial(): WalSegmentWrite | undefined {
    if (this.buf === undefined || !this.hasNewBytes()) return undefined;
    this.handedOut = this.filled;
    return this.write(this.buf.subarray(0, this.filled), false);
  }

  private write(data: Buffer, complete: boolean): WalSegmentWrite {
    return {
      timeline: this.timeline,
      segNo: this.segNo,
      name: segmentName(this.timeline, this.segNo, this.segSize),
      data,
      complete,
      endLsn: segmentStartLsn(this.segNo, this.segSize) + BigInt(data.length),
    };
  }
}

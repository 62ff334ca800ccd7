import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';

/**
 * An order-independent hash of a stream's lines: the sum (mod 2^64) of the first 8 bytes of
 * each line's SHA-256, plus the line count. Two streams with the same lines in any order
 * (duplicates included, unlike XOR) give the same value, which is what comparing a table
 * loaded from several chunks in parallel needs. Sums of several streams add up.
 */
export class LineHashSink extends Writable {
  sum = 0n;
  lines = 0;
  private rest: Buffer = Buffer.alloc(0);

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    let nl = buf.indexOf(10, start);
    while (nl !== -1) {
      this.add(buf.subarray(start, nl));
      start = nl + 1;
      nl = buf.indexOf(10, start);
    }
    this.rest = Buffer.from(buf.subarray(start));
    buf = Buffer.alloc(0);
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    if (this.rest.length) this.add(this.rest);
    done();
  }

  private add(line: Buffer): void {
    this.lines++;
    this.sum = (this.sum + createHash('sha256').update(line).digest().readBigUInt64BE(0)) & 0xffff_ffff_ffff_ffffn;
  }

  /** `<lines>:<hex sum>` */
  value(): string {
    return `${this.lines}:${this.sum.toString(16)}`;
  }
}

/** Adds two `LineHashSink.value()`s. */
export function addLineHashes(a: string, b: string): string {
  const [la, sa] = a.split(':');
  const [lb, sb] = b.split(':');
  return `${Number(la) + Number(lb)}:${((BigInt(`0x${sa}`) + BigInt(`0x${sb}`)) & 0xffff_ffff_ffff_ffffn).toString(16)}`;
}

export const EMPTY_LINE_HASH = '0:0';

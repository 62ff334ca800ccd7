import { Transform, type TransformCallback } from 'node:stream';
import { type LibdeflateBinding, type LibdeflateCompressor, type LibdeflateDecompressor, loadLibdeflate } from '@bk/libdeflate';
import { releaseBuffer, takeBuffer } from './buffer-pool.ts';
import { PacedTransform } from './paced-transform.ts';

/** Input bytes per gzip member: 256 KiB costs 0.1 % in size against one member per object. */
export const GZIP_BLOCK_BYTES = 256 * 1024;

/**
 * gzip through libdeflate, one gzip member per `blockBytes` of input, concatenated.
 *
 * Why: at the same level, libdeflate compresses our COPY text 1.7x faster than zlib (the
 * library Node and pg_dump use) and about 10 % smaller (bench/postgres/codecs.ts prints both);
 * gzip at level 6 is what bounds a gzip backup. libdeflate compresses whole buffers only, so
 * the stream cuts its input into blocks; a sequence of members is one valid gzip file (RFC
 * 1952 2.2), read whole by gunzip, zcat and Node's gunzip, and memory stays bounded: one
 * block being filled, one being compressed on the thread pool, and its output.
 */
export class LibdeflateGzipStream extends Transform {
  private readonly compressor: LibdeflateCompressor;
  private block: Buffer;
  private fill = 0;
  /** The block being compressed, if any; at most one at a time (the compressor is not shared). */
  private inFlight: Promise<void> | undefined;
  private members = 0;

  constructor(
    private readonly binding: LibdeflateBinding,
    level: number,
    /** Input bytes per member; recorded in the manifest as `memberBytes` (see LibdeflateGunzipStream). */
    readonly blockBytes = GZIP_BLOCK_BYTES,
  ) {
    super();
    this.compressor = binding.createCompressor(level);
    this.block = Buffer.allocUnsafe(blockBytes);
  }

  /** Compresses `data` as the next member after the one in flight; the stream continues meanwhile. */
  private async startBlock(data: Buffer): Promise<void> {
    if (this.inFlight) await this.inFlight;
    this.members += 1;
    this.inFlight = new Promise<void>((resolve, reject) => {
      this.binding.gzipCompress(this.compressor, data, (err, out) => {
        if (err || !out) {
          reject(err ?? new Error('libdeflate: no output'));
          return;
        }
        this.push(out);
        resolve();
      });
    });
    // Surfaced by the next await; without this a failure with nobody waiting would be an
    // unhandled rejection.
    this.inFlight.catch(() => undefined);
  }

  private async fillBlocks(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.blockBytes - this.fill);
      chunk.copy(this.block, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === this.blockBytes) {
        const full = this.block;
        this.block = Buffer.allocUnsafe(this.blockBytes);
        this.fill = 0;
        await this.startBlock(full);
      }
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.fillBlocks(chunk).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    const finish = async (): Promise<void> => {
      // An empty input still gets one (empty) member: a zero-byte file is not gzip.
      if (this.fill > 0 || this.members === 0) await this.startBlock(this.block.subarray(0, this.fill));
      await this.inFlight;
    };
    finish().then(() => done(), done);
  }
}

/** Members decompressed per call to the thread pool. */
const MEMBERS_PER_CALL = 4;

/**
 * Reads gzip written by LibdeflateGzipStream, whose manifest entry records `memberBytes`:
 * every member holds at most that many bytes. libdeflate then decompresses member by member
 * into buffers of a known size, about 3x less CPU than zlib's inflate (which, moreover, is
 * slower on libdeflate's output than on its own). Each member's CRC-32 and length are
 * checked; a member cut short, corrupt data, bytes after the last member or a member larger
 * than `memberBytes` fail the stream. (A stream cut exactly between two members reads as a
 * shorter valid one: decodeFromStorage's size and SHA-256 check of the stored object, and
 * the rows check of a load, are what catch that.)
 *
 * A member is decompressed only once the input holds `maxMemberIn` bytes past its start
 * (twice `memberBytes`: more than any member of ours compresses to, deflate's worst case
 * being a few bytes per 64 KiB over the input) or the input has ended, so a member is never
 * cut by the end of a buffer. Memory: the pending input (under maxMemberIn + one batch) and
 * the output the reader has not taken, which backpressure keeps near one batch
 * (MEMBERS_PER_CALL x memberBytes): decompression waits whenever push() says so.
 */
export class LibdeflateGunzipStream extends PacedTransform {
  private readonly decompressor: LibdeflateDecompressor;
  private readonly maxMemberIn: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly binding: LibdeflateBinding,
    private readonly memberBytes: number,
  ) {
    super();
    if (!Number.isInteger(memberBytes) || memberBytes < 1) throw new RangeError(`memberBytes must be a positive integer, got ${memberBytes}`);
    this.decompressor = binding.createDecompressor();
    this.maxMemberIn = 2 * memberBytes + 1024;
  }

  private gunzip(input: Buffer, output: Buffer, final: boolean): Promise<{ consumed: number; produced: number }> {
    return new Promise((resolve, reject) => {
      this.binding.gunzipMembers(this.decompressor, input, output, this.memberBytes, this.maxMemberIn, final, (err, consumed, produced) => {
        if (err) reject(err);
        else resolve({ consumed: consumed ?? 0, produced: produced ?? 0 });
      });
    });
  }

  /** Decompresses what can be decompressed now (all of it when `final`), keeping the rest. */
  private async drain(final: boolean): Promise<void> {
    let input = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    while (final ? input.length > 0 : input.length >= this.maxMemberIn) {
      if (this.destroyed) return;
      // Pooled: the COPY writer of a restore hands it back once sent (see buffer-pool.ts).
      const output = takeBuffer(MEMBERS_PER_CALL * this.memberBytes);
      const { consumed, produced } = await this.gunzip(input, output, final);
      if (produced === 0) releaseBuffer(output);
      // Highly compressible data turns 1 MiB of input into gigabytes: never run ahead of the reader.
      else await this.pushPaced(output.subarray(0, produced));
      // No progress happens only with an output too small for one member, which the
      // allocation above rules out; guard against a loop all the same.
      if (consumed === 0) throw new Error('gzip: no progress decompressing (member larger than recorded?)');
      input = input.subarray(consumed);
    }
    if (input.length > 0) {
      this.pending = [input];
      this.pendingBytes = input.length;
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.maxMemberIn + MEMBERS_PER_CALL * this.memberBytes) {
      done();
      return;
    }
    this.drain(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.drain(true).then(() => done(), done);
  }

}

/** Which deflate a gzip stream uses here, for logs and the benchmark. */
export function gzipImplementation(): string {
  const { binding, reason } = loadLibdeflate();
  return binding ? 'libdeflate' : `node zlib (${reason ?? 'libdeflate unavailable'})`;
}

/** libdeflate's reader for members of at most `memberBytes`, or undefined without the addon. */
export function libdeflateGunzip(memberBytes: number): Transform | undefined {
  const { binding } = loadLibdeflate();
  return binding ? new LibdeflateGunzipStream(binding, memberBytes) : undefined;
}

/** libdeflate's stream when the addon is built, otherwise undefined (the caller uses zlib). */
export function libdeflateGzip(level: number): Transform | undefined {
  const { binding } = loadLibdeflate();
  return binding ? new LibdeflateGzipStream(binding, level) : undefined;
}

import { Transform, type TransformCallback } from 'node:stream';
import { type LibdeflateBinding, type LibdeflateCompressor, loadLibdeflate } from '@bk/libdeflate';

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
    private readonly blockBytes = GZIP_BLOCK_BYTES,
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
        if (err) {
          reject(err);
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

/** Which deflate a gzip stream uses here, for logs and the benchmark. */
export function gzipImplementation(): string {
  const { binding, reason } = loadLibdeflate();
  return binding ? 'libdeflate' : `node zlib (${reason ?? 'libdeflate unavailable'})`;
}

/** libdeflate's stream when the addon is built, otherwise undefined (the caller uses zlib). */
export function libdeflateGzip(level: number): Transform | undefined {
  const { binding } = loadLibdeflate();
  return binding ? new LibdeflateGzipStream(binding, level) : undefined;
}

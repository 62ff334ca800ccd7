import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';

type ZstdBinding = typeof import('zstd-napi/binding');
const binding = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;

/** Size of the buffers the compressor fills before passing them on. */
export const ZSTD_OUTPUT_CHUNK_BYTES = 256 * 1024;

/**
 * Streaming zstd compression straight on zstd-napi's `CCtx`, filling each output buffer
 * before pushing it.
 *
 * zstd-napi's own `CompressStream` pushes every block zstd emits (~30 KB at level 3) as a
 * subarray of a fresh 128 KiB buffer: 4.2x the output's size in backing memory, which a
 * consumer holding output (a multipart upload filling a part) keeps alive, and one stream
 * chunk (with its per-chunk costs downstream: hashing, encryption, the upload) per block.
 * Here every pushed chunk is a full `chunkBytes` buffer (the last one is copied to its
 * exact size), so held output costs what it weighs. The output bytes are identical.
 */
export class ZstdCompressStream extends Transform {
  private readonly cctx = new binding.CCtx();
  private out: Buffer;
  private pos = 0;

  constructor(
    opts: { level: number; checksum?: boolean },
    private readonly chunkBytes = ZSTD_OUTPUT_CHUNK_BYTES,
  ) {
    super();
    this.cctx.setParameter(binding.CParameter.compressionLevel, opts.level);
    if (opts.checksum) this.cctx.setParameter(binding.CParameter.checksumFlag, 1);
    this.out = Buffer.allocUnsafe(chunkBytes);
  }

  private compress(input: Buffer, op: number): void {
    let src = input;
    for (;;) {
      const [remaining, produced, consumed] = this.cctx.compressStream2(this.out.subarray(this.pos), src, op);
      this.pos += produced;
      src = src.subarray(consumed);
      const full = this.pos === this.out.length;
      if (full) {
        this.push(this.out);
        this.out = Buffer.allocUnsafe(this.chunkBytes);
        this.pos = 0;
      }
      if (src.length > 0) continue;
      // With `continue`, zstd leaves output pending only when it ran out of room; when
      // flushing or ending, `remaining` says what is still to be written (calling `end`
      // again after the frame is complete would start a new frame).
      if (op === binding.EndDirective.continue ? !full : remaining === 0) return;
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.compress(chunk, binding.EndDirective.continue);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    try {
      this.compress(Buffer.alloc(0), binding.EndDirective.end);
      // The last, partly filled buffer: copied, so its unused tail is not kept alive.
      if (this.pos > 0) this.push(Buffer.from(this.out.subarray(0, this.pos)));
      this.pos = 0;
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  }
}

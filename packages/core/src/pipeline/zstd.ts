import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import { releaseBuffer, takeBuffer } from './buffer-pool.ts';
import { PacedTransform } from './paced-transform.ts';

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

/** Size of the (pooled) buffers the decompressor fills before passing them on. */
export const ZSTD_DECODED_CHUNK_BYTES = 1024 * 1024;

/**
 * Streaming zstd decompression on zstd-napi's `DCtx`, into full pooled buffers.
 *
 * zstd-napi's own `DecompressStream` allocates a fresh 128 KiB buffer per call and pushes
 * whatever part of it was filled, whatever the reader wants. Here output fills 1 MiB
 * buffers taken from the shared pool (a restore's COPY writer returns them once sent, see
 * buffer-pool.ts), and decompression waits whenever push() says the reader has enough:
 * a small input can decompress to gigabytes (a run of zeros), which must not pile up.
 * Checked as zstd-napi checks: a frame's own checksum and structure by libzstd (errors are
 * thrown), and an input that ends inside a frame fails at the end.
 */
export class ZstdDecompressStream extends PacedTransform {
  private readonly dctx = new binding.DCtx();
  private out: Buffer | undefined;
  private pos = 0;
  /** Whether the input so far ended inside a frame. */
  private inFrame = false;

  constructor(private readonly chunkBytes = ZSTD_DECODED_CHUNK_BYTES) {
    super();
  }

  private async decompress(input: Buffer): Promise<void> {
    let src = input;
    for (;;) {
      if (this.destroyed) return;
      const out = (this.out ??= takeBuffer(this.chunkBytes));
      const room = out.length - this.pos;
      const [hint, produced, consumed] = this.dctx.decompressStream(out.subarray(this.pos), src);
      this.pos += produced;
      src = src.subarray(consumed);
      if (this.pos === out.length) {
        this.out = undefined;
        this.pos = 0;
        await this.pushPaced(out);
      }
      // All input taken and zstd had room to spare (or the frame is complete): nothing is
      // held back inside zstd. With the output full, more may be pending: go round again.
      if (src.length === 0 && (produced < room || hint === 0)) {
        this.inFrame = hint !== 0;
        return;
      }
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    // An empty chunk would read as "more of a frame expected" after a complete frame.
    if (chunk.length === 0) {
      done();
      return;
    }
    this.decompress(chunk).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.inFrame) {
      done(new Error('zstd: the data ends in the middle of a frame (truncated)'));
      return;
    }
    const out = this.out;
    this.out = undefined;
    if (out && this.pos > 0) this.push(out.subarray(0, this.pos));
    else if (out) releaseBuffer(out);
    this.pos = 0;
    done();
  }
}

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { ZSTD_OUTPUT_CHUNK_BYTES, ZstdCompressStream } from './zstd.ts';

/** The chunks as pushed ('data' events; an async iterator would concatenate buffered ones). */
function collectChunks(s: Readable): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => resolve(parts));
    s.once('error', reject);
  });
}

function sample(bytes: number): Buffer {
  // Half compressible text, half random: zstd emits blocks of very different sizes.
  const text = Buffer.from('1\tSYM001USDT\tbinance\t2024-01-01 00:00:00.031+00\t1000.1234\n'.repeat(Math.ceil(bytes / 110)));
  return Buffer.concat([text.subarray(0, bytes >> 1), randomBytes(bytes - (bytes >> 1))]);
}

function pieces(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('ZstdCompressStream', () => {
  for (const [label, bytes, chunkBytes] of [
    ['empty input', 0, ZSTD_OUTPUT_CHUNK_BYTES],
    ['one small chunk', 100, ZSTD_OUTPUT_CHUNK_BYTES],
    ['3 MB, default output chunks', 3_000_000, ZSTD_OUTPUT_CHUNK_BYTES],
    ['20 KB, output buffers of 7 bytes', 20_000, 7],
    ['3 MB, output buffers of 1000 bytes', 3_000_000, 1000],
    ['1 MB, output buffers of 4 KiB', 1_000_000, 4096],
  ] as const) {
    it(`writes the same bytes as zstd-napi's CompressStream: ${label}`, async () => {
      const raw = sample(bytes);
      const ours = await collectChunks(
        Readable.from(pieces(raw, 65536)).pipe(new ZstdCompressStream({ level: 3, checksum: true }, chunkBytes)),
      );
      const theirs = Buffer.concat(
        await collectChunks(Readable.from(pieces(raw, 65536)).pipe(new CompressStream({ compressionLevel: 3, checksumFlag: true }))),
      );
      expect(Buffer.concat(ours).equals(theirs)).toBe(true);
      // Every chunk but the last fills its buffer; none keeps a larger buffer alive.
      for (const c of ours.slice(0, -1)) expect(c.length).toBe(chunkBytes);
      for (const c of ours) expect(c.buffer.byteLength).toBeLessThanOrEqual(Math.max(chunkBytes, 8192));
      const back = Buffer.concat(await collectChunks(Readable.from(ours).pipe(new DecompressStream())));
      expect(back.equals(raw)).toBe(true);
    });
  }
});

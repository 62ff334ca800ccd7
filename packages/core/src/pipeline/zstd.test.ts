import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { CompressStream, DecompressStream, compress } from 'zstd-napi';
import { releaseBuffer } from './buffer-pool.ts';
import { ZSTD_DECODED_CHUNK_BYTES, ZSTD_OUTPUT_CHUNK_BYTES, ZstdCompressStream, ZstdDecompressStream } from './zstd.ts';

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

describe('ZstdDecompressStream', () => {
  const zst = (raw: Buffer) => compress(raw, { compressionLevel: 3, checksumFlag: true });

  for (const [label, bytes, inPiece, outBytes] of [
    ['an empty frame', 0, 65536, ZSTD_DECODED_CHUNK_BYTES],
    ['100 bytes', 100, 65536, ZSTD_DECODED_CHUNK_BYTES],
    ['3 MB in 64 KiB pieces', 3_000_000, 65536, ZSTD_DECODED_CHUNK_BYTES],
    ['300 KB fed a byte at a time into 1000-byte buffers', 300_000, 1, 1000],
    ['3 MB in 7-byte pieces into 4 KiB buffers', 3_000_000, 7, 4096],
  ] as const) {
    it(`reads back what zstd wrote: ${label}`, async () => {
      const raw = sample(bytes);
      const out = await collectChunks(Readable.from(pieces(zst(raw), inPiece)).pipe(new ZstdDecompressStream(outBytes)));
      expect(Buffer.concat(out).equals(raw)).toBe(true);
      // Every chunk but the last fills its buffer.
      for (const c of out.slice(0, -1)) expect(c.length).toBe(outBytes);
    });
  }

  it('reads concatenated frames as one stream (what zstd -d does)', async () => {
    const [a, b] = [sample(200_000), sample(1_500_000)];
    const out = await collectChunks(Readable.from(pieces(Buffer.concat([zst(a), zst(b)]), 5000)).pipe(new ZstdDecompressStream()));
    expect(Buffer.concat(out).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('gives the same bytes when every chunk goes back to the pool as soon as it is read', async () => {
    // A restore's COPY writer releases each chunk once sent; the next chunks reuse the buffers.
    const raw = sample(6_000_000);
    const s = Readable.from(pieces(zst(raw), 65536)).pipe(new ZstdDecompressStream());
    const hash = createHash('sha256');
    const buffers = new Set<ArrayBufferLike>();
    for await (const c of s) {
      const chunk = c as Buffer;
      hash.update(chunk);
      buffers.add(chunk.buffer);
      releaseBuffer(chunk);
    }
    expect(hash.digest('hex')).toBe(createHash('sha256').update(raw).digest('hex'));
    // 6 MB through 1 MiB buffers, reused: fewer backing buffers than chunks.
    expect(buffers.size).toBeLessThan(Math.ceil(raw.length / ZSTD_DECODED_CHUNK_BYTES));
  });

  it('fails on a truncated frame, a flipped byte (frame checksum) and trailing junk', async () => {
    const raw = sample(2_000_000);
    const good = zst(raw);
    const read = (bytes: Buffer) => collectChunks(Readable.from(pieces(bytes, 65536)).pipe(new ZstdDecompressStream()));
    await expect(read(good.subarray(0, good.length - 10))).rejects.toThrow(/ends in the middle of a frame/);
    await expect(read(good.subarray(0, 100))).rejects.toThrow(/ends in the middle of a frame/);
    const flipped = Buffer.from(good);
    flipped[good.length - 2]! ^= 0x40;
    await expect(read(flipped)).rejects.toThrow();
    await expect(read(Buffer.concat([good, Buffer.from('not zstd at all')]))).rejects.toThrow();
  });

  it('waits for its reader: highly compressible data does not pile up decompressed', async () => {
    // 256 MiB of zeros compress to a few KB.
    const total = 256 * 1024 * 1024;
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const frame = compress(zeros, { compressionLevel: 3 });
    const s = new ZstdDecompressStream();
    Readable.from(Array.from({ length: total / zeros.length }, () => frame)).pipe(s);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.readableLength).toBeLessThanOrEqual(2 * ZSTD_DECODED_CHUNK_BYTES);
    let got = 0;
    for await (const c of s) {
      const chunk = c as Buffer;
      expect(chunk.equals(zeros.subarray(0, chunk.length))).toBe(true);
      got += chunk.length;
    }
    expect(got).toBe(total);
  });
});

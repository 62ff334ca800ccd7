import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { loadLibdeflate } from '@bk/libdeflate';
import { describe, expect, it } from 'vitest';
import { compressor, decompressor } from './codec.ts';
import { releaseBuffer } from './buffer-pool.ts';
import { GZIP_BLOCK_BYTES, LibdeflateGunzipStream, LibdeflateGzipStream } from './gzip.ts';
import { decodeFromStorage, encodeForStorage } from './index.ts';
import { IntegrityError } from './counting.ts';

/** COPY-like text with some randomness, so blocks do not compress to nothing. */
function copyText(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line = `${i}\tSYM${i % 500}\t${(1000 + Math.random() * 5).toFixed(4)}\t\\N\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Feeds `raw` in pieces of the given sizes (cycled). */
function pieces(raw: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < raw.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    out.push(raw.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function gzipWithLibdeflate(raw: Buffer, sizes: number[], level = 6, blockBytes = GZIP_BLOCK_BYTES) {
  const { binding } = loadLibdeflate();
  if (!binding) throw new Error('libdeflate binding not built');
  return buffer(Readable.from(pieces(raw, sizes)).pipe(new LibdeflateGzipStream(binding, level, blockBytes)));
}

describe('libdeflate gzip stream', () => {
  // CI installs libdeflate-dev before npm ci: a silent fallback to zlib there would hide a
  // broken build (and the benchmark's figures depend on it).
  it('is built and chosen for gzip', () => {
    expect(loadLibdeflate().reason).toBeUndefined();
    expect(compressor({ codec: 'gzip', level: 6 })).toBeInstanceOf(LibdeflateGzipStream);
  });

  for (const size of [0, 1, GZIP_BLOCK_BYTES - 1, GZIP_BLOCK_BYTES, GZIP_BLOCK_BYTES + 1, 3 * GZIP_BLOCK_BYTES + 12345]) {
    it(`round-trips ${size} bytes through gunzip, Node's gunzip stream and the gzip command`, async () => {
      const raw = copyText(size);
      const gz = await gzipWithLibdeflate(raw, [1, 7, 4096, 65536, 300_000]);
      expect(gunzipSync(gz).equals(raw)).toBe(true);
      const dec = decompressor('gzip');
      if (!dec) throw new Error('no gzip decompressor');
      expect((await buffer(Readable.from([gz]).pipe(dec))).equals(raw)).toBe(true);
      expect(execFileSync('gzip', ['-d', '-c'], { input: gz, maxBuffer: 64 << 20 }).equals(raw)).toBe(true);
    });
  }

  it('writes one gzip member per block, each valid on its own', async () => {
    const raw = copyText(5 * 1000 + 17);
    const gz = await gzipWithLibdeflate(raw, [333], 6, 1000);
    // Members start with the gzip magic and method bytes; six blocks of input -> six members.
    let members = 0;
    for (let i = gz.indexOf(Buffer.from([0x1f, 0x8b, 8])); i >= 0; i = gz.indexOf(Buffer.from([0x1f, 0x8b, 8]), i + 1)) members++;
    expect(members).toBeGreaterThanOrEqual(6);
    expect(gunzipSync(gz).equals(raw)).toBe(true);
  });

  it('honours the level: 1 is larger than 9 on the same text', async () => {
    const raw = copyText(2 * GZIP_BLOCK_BYTES);
    const fast = await gzipWithLibdeflate(raw, [65536], 1);
    const best = await gzipWithLibdeflate(raw, [65536], 9);
    expect(fast.length).toBeGreaterThan(best.length);
    expect(gunzipSync(fast).equals(raw) && gunzipSync(best).equals(raw)).toBe(true);
  });

  it('keeps memory bounded: output flows while input is still being written', async () => {
    const { binding } = loadLibdeflate();
    if (!binding) throw new Error('libdeflate binding not built');
    const block = copyText(GZIP_BLOCK_BYTES);
    const total = 64; // blocks: 16 MiB of input
    let outBytes = 0;
    let outBeforeLastInput = 0;
    let fed = 0;
    const source = new Readable({
      read() {
        if (fed === total) {
          outBeforeLastInput = outBytes;
          this.push(null);
          return;
        }
        fed++;
        this.push(block);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        outBytes += chunk.length;
        done();
      },
    });
    await pipeline(source, new LibdeflateGzipStream(binding, 6), sink);
    // A stream that held everything until the end would have written nothing before then.
    expect(outBeforeLastInput).toBeGreaterThan(outBytes * 0.8);
  });

  it('fails cleanly when destroyed while a block is being compressed', async () => {
    const { binding } = loadLibdeflate();
    if (!binding) throw new Error('libdeflate binding not built');
    const s = new LibdeflateGzipStream(binding, 6, 1024);
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    s.write(randomBytes(4096));
    s.destroy(new Error('cancelled'));
    // The thread pool finishes the block after the destroy: its output must go nowhere and
    // no second error may follow.
    await new Promise((r) => setTimeout(r, 100));
    expect(s.destroyed).toBe(true);
    expect(errors.map((e) => e.message)).toEqual(['cancelled']);
  });

  it('rejects a level outside libdeflate range with RangeError', () => {
    const { binding } = loadLibdeflate();
    if (!binding) throw new Error('libdeflate binding not built');
    expect(() => binding.createCompressor(13)).toThrow(RangeError);
  });
});

async function gunzipWithLibdeflate(gz: Buffer, sizes: number[], memberBytes = GZIP_BLOCK_BYTES): Promise<Buffer> {
  const { binding } = loadLibdeflate();
  if (!binding) throw new Error('libdeflate binding not built');
  return buffer(Readable.from(pieces(gz, sizes)).pipe(new LibdeflateGunzipStream(binding, memberBytes)));
}

describe('libdeflate gunzip stream (objects that record memberBytes)', () => {
  for (const size of [0, 1, GZIP_BLOCK_BYTES, 5 * GZIP_BLOCK_BYTES + 999, 40 * GZIP_BLOCK_BYTES + 7]) {
    it(`reads back ${size} bytes whatever the read sizes`, async () => {
      const raw = copyText(size);
      const gz = await gzipWithLibdeflate(raw, [65536]);
      for (const sizes of [[1, 3, 65536], [4096], [1_000_000]]) {
        expect((await gunzipWithLibdeflate(gz, sizes)).equals(raw)).toBe(true);
      }
    });
  }

  it('reads incompressible data (members larger compressed than raw)', async () => {
    const raw = randomBytes(3 * GZIP_BLOCK_BYTES + 5);
    const gz = await gzipWithLibdeflate(raw, [65536]);
    expect(gz.length).toBeGreaterThan(raw.length);
    expect((await gunzipWithLibdeflate(gz, [7777])).equals(raw)).toBe(true);
  });

  it('fails on truncation at any point, on a flipped byte and on bytes after the last member', async () => {
    const raw = copyText(3 * GZIP_BLOCK_BYTES);
    const gz = await gzipWithLibdeflate(raw, [65536]);
    for (const cut of [1, 10, 1000, gz.length >> 1, gz.length - 1]) {
      await expect(gunzipWithLibdeflate(gz.subarray(0, cut), [65536])).rejects.toThrow(/invalid (or truncated )?gzip/);
    }
    const flipped = Buffer.from(gz);
    flipped[gz.length >> 1] = flipped[gz.length >> 1]! ^ 0x40;
    await expect(gunzipWithLibdeflate(flipped, [65536])).rejects.toThrow(/gzip/);
    await expect(gunzipWithLibdeflate(Buffer.concat([gz, Buffer.from('junk')]), [65536])).rejects.toThrow(/invalid (or truncated )?gzip/);
  });

  it('refuses a member larger than recorded, wherever it falls', async () => {
    const raw = copyText(8 * GZIP_BLOCK_BYTES);
    const gz = await gzipWithLibdeflate(raw, [65536], 6, 8 * GZIP_BLOCK_BYTES);
    await expect(gunzipWithLibdeflate(gz, [65536], 1024)).rejects.toThrow(/larger than its recorded size/);
    // Just over the recorded size (and after a member that fits) is refused too.
    const small = await gzipWithLibdeflate(copyText(1000), [1000], 6, 1000);
    const big = await gzipWithLibdeflate(copyText(2000), [2000], 6, 2000);
    await expect(gunzipWithLibdeflate(Buffer.concat([small, big]), [65536], 1000)).rejects.toThrow(/larger than its recorded size/);
  });

  it('gives the same bytes when every chunk goes back to the pool as soon as it is read', async () => {
    // A restore's COPY writer releases each chunk once sent; later members reuse the buffers.
    const raw = copyText(12 * GZIP_BLOCK_BYTES + 5);
    const gz = await gzipWithLibdeflate(raw, [65536]);
    const s = Readable.from(pieces(gz, [65536])).pipe(decompressor('gzip', { memberBytes: GZIP_BLOCK_BYTES })!);
    const hash = createHash('sha256');
    const buffers = new Set<ArrayBufferLike>();
    let chunks = 0;
    for await (const c of s) {
      const chunk = c as Buffer;
      hash.update(chunk);
      buffers.add(chunk.buffer);
      chunks++;
      releaseBuffer(chunk);
    }
    expect(hash.digest('hex')).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(buffers.size).toBeLessThan(chunks);
  });

  it('waits for its reader: highly compressible data does not pile up decompressed', async () => {
    const { binding } = loadLibdeflate();
    if (!binding) throw new Error('libdeflate binding not built');
    // 256 MiB of zeros as 256 KiB members compress to ~300 KB.
    const members = 1024;
    const member = await gzipWithLibdeflate(Buffer.alloc(GZIP_BLOCK_BYTES), [GZIP_BLOCK_BYTES]);
    const gz = Buffer.concat(Array.from({ length: members }, () => member));
    const s = new LibdeflateGunzipStream(binding, GZIP_BLOCK_BYTES);
    Readable.from(pieces(gz, [65536])).pipe(s);
    // Nobody reads for a while: what is decompressed ahead stays near one batch (4 members).
    await new Promise((r) => setTimeout(r, 500));
    expect(s.readableLength).toBeLessThanOrEqual(2 * 4 * GZIP_BLOCK_BYTES);
    // Then everything arrives.
    const zeros = Buffer.alloc(4 * GZIP_BLOCK_BYTES);
    let total = 0;
    for await (const c of s) {
      const chunk = c as Buffer;
      expect(chunk.equals(zeros.subarray(0, chunk.length))).toBe(true);
      total += chunk.length;
    }
    expect(total).toBe(members * GZIP_BLOCK_BYTES);
  });

  it('is used end to end: the manifest records memberBytes, the reader honours it, old objects still read', async () => {
    const raw = copyText(2 * GZIP_BLOCK_BYTES + 3);
    const enc = encodeForStorage(Readable.from([raw]), { compression: { codec: 'gzip', level: 6 } });
    const stored = await buffer(enc.stream);
    const stats = enc.stats();
    expect(stats.compression).toEqual({ codec: 'gzip', level: 6, memberBytes: GZIP_BLOCK_BYTES });
    const decode = (bytes: Buffer, sha256: string, memberBytes?: number) =>
      buffer(decodeFromStorage(Readable.from([bytes]), { codec: 'gzip', memberBytes, expected: { sha256, bytes: bytes.length }, label: 'obj' }).stream);
    expect((await decode(stored, stats.sha256, GZIP_BLOCK_BYTES)).equals(raw)).toBe(true);
    // Written by zlib (a worker without the addon, or before it existed): no memberBytes.
    const old = encodeForStorage(Readable.from([raw]), { compression: { codec: 'gzip', level: 6 }, gzipWith: 'zlib' });
    const oldStored = await buffer(old.stream);
    expect(old.stats().compression).toEqual({ codec: 'gzip', level: 6 });
    expect((await decode(oldStored, old.stats().sha256)).equals(raw)).toBe(true);
    // Corruption that keeps the SHA-256 check out of the way (expected hash of the bad bytes)
    // is reported by the decompressor as the object's corruption.
    const bad = Buffer.from(stored);
    bad[100] = bad[100]! ^ 0xff;
    const { createHash } = await import('node:crypto');
    await expect(decode(bad, createHash('sha256').update(bad).digest('hex'), GZIP_BLOCK_BYTES)).rejects.toBeInstanceOf(IntegrityError);
  });
});

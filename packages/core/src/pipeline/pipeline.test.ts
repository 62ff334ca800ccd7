import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Codec } from '../config/schema.ts';
import { IntegrityError } from './counting.ts';
import { DecryptStream, EncryptStream, newDataKey, unwrapDataKey, wrapDataKey } from './crypto.ts';
import { decodeFromStorage, encodeForStorage, resolveCompression } from './index.ts';

function copyText(rows: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(`${i}\tname ${i}\t${(i * 1.5).toFixed(2)}\t\\N\ttab\\there\n`);
  return Buffer.from(lines.join(''));
}

async function encode(raw: Buffer, codec: Codec, dataKey?: Buffer) {
  const enc = encodeForStorage(Readable.from([raw.subarray(0, 1000), raw.subarray(1000)]), {
    compression: resolveCompression(codec),
    ...(dataKey ? { dataKey } : {}),
  });
  const stored = await buffer(enc.stream);
  return { stored, stats: enc.stats() };
}

describe('encode/decode pipeline', () => {
  for (const codec of ['zstd', 'gzip', 'none'] as const) {
    for (const encrypted of [false, true]) {
      it(`round-trips with ${codec}${encrypted ? ' + AES-256-GCM' : ''}, counting rows and hashing stored bytes`, async () => {
        const raw = copyText(5000);
        const key = encrypted ? newDataKey() : undefined;
        const { stored, stats } = await encode(raw, codec, key);
        expect(stats.rows).toBe(5000);
        expect(stats.rawBytes).toBe(raw.length);
        expect(stats.bytes).toBe(stored.length);
        if (codec !== 'none' && !encrypted) expect(stored.length).toBeLessThan(raw.length / 2);
        const dec = decodeFromStorage(Readable.from([stored]), {
          codec,
          expected: { sha256: stats.sha256, bytes: stats.bytes },
          label: 'obj',
          ...(key ? { dataKey: key } : {}),
        });
        expect((await buffer(dec.stream)).equals(raw)).toBe(true);
        expect(dec.rows()).toBe(5000);
      });
    }
  }

  it('is readable by the zstd and gunzip command-line tools', async () => {
    const raw = copyText(2000);
    const z = await encode(raw, 'zstd');
    expect(execFileSync('zstd', ['-d', '-c'], { input: z.stored }).equals(raw)).toBe(true);
    const g = await encode(raw, 'gzip');
    expect(execFileSync('gzip', ['-d', '-c'], { input: g.stored }).equals(raw)).toBe(true);
  });

  it('fails loudly on a flipped byte in a compressed object', async () => {
    for (const codec of ['zstd', 'gzip'] as const) {
      const { stored, stats } = await encode(copyText(3000), codec);
      const bad = Buffer.from(stored);
      const mid = Math.floor(bad.length / 2);
      bad[mid] = (bad[mid] ?? 0) ^ 0xff;
      const dec = decodeFromStorage(Readable.from([bad]), { codec, expected: { sha256: stats.sha256, bytes: stats.bytes }, label: 'obj' });
      const err = await buffer(dec.stream).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Whichever check trips first (the codec's own or the SHA-256), it names the object.
      expect(err, codec).toBeInstanceOf(IntegrityError);
      expect((err as Error).message, codec).toMatch(/^obj: /);
    }
  });

  it('names the object when the decompressor finds the corruption before the SHA-256 can', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300000; i++) lines.push(`${i}\tname ${i}\t${(i * 1.5).toFixed(2)}\n`);
    const raw = Buffer.from(lines.join(''));
    for (const codec of ['zstd', 'gzip'] as const) {
      const { stored, stats } = await encode(raw, codec);
      const bad = Buffer.from(stored);
      bad[20] = (bad[20] ?? 0) ^ 0xff; // in the first block: found long before the end
      const pieces: Buffer[] = [];
      for (let i = 0; i < bad.length; i += 16384) pieces.push(bad.subarray(i, i + 16384));
      const dec = decodeFromStorage(Readable.from(pieces), { codec, expected: { sha256: stats.sha256, bytes: stats.bytes }, label: 'obj' });
      const err = await buffer(dec.stream).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, codec).toBeInstanceOf(IntegrityError);
      expect((err as Error).message, codec).toMatch(new RegExp(`^obj: corrupt ${codec} data: `));
    }
  });

  it('passes a read error of the stored object through as it is, not as corruption', async () => {
    for (const codec of ['zstd', 'gzip'] as const) {
      const { stored, stats } = await encode(copyText(3000), codec);
      const failing = new Readable({
        read() {
          this.push(stored.subarray(0, 100));
          this.destroy(new Error('connection reset by storage'));
        },
      });
      const dec = decodeFromStorage(failing, { codec, expected: { sha256: stats.sha256, bytes: stats.bytes }, label: 'obj' });
      const err = await buffer(dec.stream).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message, codec).toBe('connection reset by storage');
      expect(err).not.toBeInstanceOf(IntegrityError);
    }
  });

  it('fails with IntegrityError when the stored bytes do not match the manifest hash', async () => {
    const { stored, stats } = await encode(copyText(100), 'none');
    const bad = Buffer.from(stored);
    bad[10] = bad[10] === 65 ? 66 : 65;
    const dec = decodeFromStorage(Readable.from([bad]), {
      codec: 'none',
      expected: { sha256: stats.sha256, bytes: stats.bytes },
      label: 'obj',
    });
    await expect(buffer(dec.stream)).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('segmented AES-256-GCM', () => {
  const segment = 1024;
  async function seal(plain: Buffer, key: Buffer): Promise<Buffer> {
    return buffer(Readable.from([plain]).pipe(new EncryptStream(key, segment)));
  }
  async function open(sealed: Buffer, key: Buffer): Promise<Buffer> {
    return buffer(Readable.from([sealed]).pipe(new DecryptStream(key, 'obj')));
  }
  const key = newDataKey();
  const plain = randomBytes(segment * 4 + 100);

  it('round-trips, including empty input and exact segment multiples', async () => {
    for (const p of [plain, Buffer.alloc(0), randomBytes(segment * 3)]) expect((await open(await seal(p, key), key)).equals(p)).toBe(true);
  });
  it('detects a flipped bit', async () => {
    const s = await seal(plain, key);
    s[29] = (s[29] ?? 0) ^ 1;
    await expect(open(s, key)).rejects.toBeInstanceOf(IntegrityError);
  });
  it('detects truncation at a segment boundary', async () => {
    const s = await seal(plain, key);
    await expect(open(s.subarray(0, 24 + 2 * (segment + 16)), key)).rejects.toBeInstanceOf(IntegrityError);
  });
  it('detects two swapped segments', async () => {
    const s = await seal(plain, key);
    const a = 24;
    const b = 24 + segment + 16;
    const swapped = Buffer.concat([s.subarray(0, a), s.subarray(b, b + segment + 16), s.subarray(a, b), s.subarray(b + segment + 16)]);
    await expect(open(swapped, key)).rejects.toBeInstanceOf(IntegrityError);
  });
  it('detects a wrong key', async () => {
    await expect(open(await seal(plain, key), newDataKey())).rejects.toBeInstanceOf(IntegrityError);
  });
  it('wraps data keys bound to their key id', () => {
    const master = newDataKey();
    const w = wrapDataKey(key, master, 'k1');
    expect(unwrapDataKey(w, master, 'k1').equals(key)).toBe(true);
    expect(() => unwrapDataKey(w, master, 'k2')).toThrow(/k2/);
  });
});

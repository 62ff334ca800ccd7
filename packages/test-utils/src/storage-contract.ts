import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidKeyError, ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '@bk/storage';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** Larger than two default S3 parts (8 MiB), so failures hit a multipart upload in flight. */
const MIDWAY = 20 * MiB;
const BIG_SIZE = 200 * MiB;
const MAX_RSS_GROWTH = 150 * MiB;

interface GeneratedOptions {
  /** Destroy the stream with this error once `bytes` bytes were produced. */
  failAfter?: { bytes: number; error: Error };
  /** Called after each chunk with the running total. */
  onProgress?: (produced: number) => void;
}

/**
 * `size` pseudo-random bytes (5 bits of entropy per byte, so compressible-ish), produced
 * chunk by chunk on demand and hashed on the way out; never held whole.
 */
class GeneratedStream extends Readable {
  produced = 0;
  private state: number;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly size: number,
    seed: number,
    private readonly options: GeneratedOptions = {},
  ) {
    super({ highWaterMark: CHUNK });
    this.state = seed >>> 0 || 1;
  }

  override _read(): void {
    const { failAfter, onProgress } = this.options;
    if (failAfter !== undefined && this.produced >= failAfter.bytes) {
      this.destroy(failAfter.error);
      return;
    }
    if (this.produced >= this.size) {
      this.push(null);
      return;
    }
    const length = Math.min(CHUNK, this.size - this.produced);
    const words = new Uint32Array(Math.ceil(length / 4));
    let x = this.state;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = ((x & 0x1f1f1f1f) + 0x41414141) >>> 0;
    }
    this.state = x;
    const chunk = Buffer.from(words.buffer, 0, length);
    this.hash.update(chunk);
    this.produced += length;
    onProgress?.(this.produced);
    this.push(chunk);
  }

  /** SHA-256 of everything produced so far. */
  sha256(): string {
    return this.hash.copy().digest('hex');
  }
}

/** Tracks the peak RSS of this process while running. */
class RssSampler {
  peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => this.sample(), 20);
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

async function digestOf(stream: Readable, onChunk?: () => void): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    onChunk?.();
  }
  return { sha256: hash.digest('hex'), size };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function collect(items: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function keysOf(items: AsyncIterable<ObjectInfo>): Promise<string[]> {
  return (await collect(items)).map((info) => info.key);
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function rate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
}

/**
 * The `ObjectStore` contract (see `@bk/storage` types): every driver runs this suite
 * unchanged. `makeStore` gives a store over a fresh, empty namespace (bucket, prefix or
 * directory); `cleanup` removes it.
 */
export function storageContract(name: string, makeStore: () => Promise<{ store: ObjectStore; cleanup(): Promise<void> }>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
    }, 60_000);

    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    const putText = (key: string, text: string | Buffer): ReturnType<ObjectStore['put']> =>
      store.put(key, Readable.from([Buffer.from(text)]));

    /** Nothing of `prefix` remains: no object, no incomplete upload, no temp file. */
    async function expectNothingUnder(prefix: string): Promise<void> {
      expect(await keysOf(store.list(prefix))).toEqual([]);
      expect(await store.abortIncompleteUploads(prefix)).toBe(0);
    }

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it(`streams ${BIG_SIZE / MiB} MiB through put and get with matching SHA-256 and bounded memory`, async ({ annotate }) => {
      const key = 'big/object.bin';
      const baseline = process.memoryUsage.rss();
      const putRss = new RssSampler();
      const source = new GeneratedStream(BIG_SIZE, 0x5eed, {
        onProgress: (produced) => {
          if (produced % MiB === 0) putRss.sample();
        },
      });
      let started = performance.now();
      const result = await store.put(key, source, { contentType: 'application/octet-stream' });
      const putMs = performance.now() - started;
      const putPeak = putRss.stop();
      expect(result).toEqual({ key, bytes: BIG_SIZE });
      expect((await store.head(key))?.size).toBe(BIG_SIZE);

      const getRss = new RssSampler();
      let chunks = 0;
      started = performance.now();
      const read = await digestOf(await store.get(key), () => {
        if (++chunks % 16 === 0) getRss.sample();
      });
      const getMs = performance.now() - started;
      const getPeak = getRss.stop();
      expect(read).toEqual({ sha256: source.sha256(), size: BIG_SIZE });

      await annotate(
        `put ${rate(BIG_SIZE, putMs)}, get ${rate(BIG_SIZE, getMs)}; RSS baseline ${mb(baseline)} MB, ` +
          `peak growth put +${mb(putPeak - baseline)} MB, get +${mb(getPeak - baseline)} MB`,
        'measurement',
      );
      expect(putPeak - baseline).toBeLessThan(MAX_RSS_GROWTH);
      expect(getPeak - baseline).toBeLessThan(MAX_RSS_GROWTH);
      await store.deleteMany([key]);
      expect(await store.head(key)).toBeUndefined();
    }, 300_000);

    it('lists keys under a prefix in S3 order, across pages, relative to the store', async () => {
      const keys = ['order/a', 'order/a-', 'order/a.b', 'order/b-', 'order/b.c', 'order/b/c', 'order/b0'];
      // Written out of order, with neighbours that a prefix must tell apart.
      for (const key of [...keys].reverse()) await putText(key, key);
      await putText('order-x/y', 'order-x/y');
      await putText('orde', 'orde');

      const listed = await collect(store.list('order/', { pageSize: 2 }));
      expect(listed.map((info) => info.key)).toEqual(keys);
      expect(listed.map((info) => info.size)).toEqual(keys.map((key) => Buffer.byteLength(key)));
      for (const info of listed) expect(info.lastModified).toBeInstanceOf(Date);

      expect(await keysOf(store.list('order/', { pageSize: 1000 }))).toEqual(keys);
      expect(await keysOf(store.list('order/b', { pageSize: 2 }))).toEqual(['order/b-', 'order/b.c', 'order/b/c', 'order/b0']);
      expect(await keysOf(store.list('order/b/'))).toEqual(['order/b/c']);
      expect(await keysOf(store.list('order/a.'))).toEqual(['order/a.b']);
      expect(await keysOf(store.list('order', { pageSize: 3 }))).toEqual(['order-x/y', ...keys]);
      expect(await keysOf(store.list('nothing/'))).toEqual([]);
      expect(await keysOf(store.list('order/zzz'))).toEqual([]);
    });

    it('orders keys by their UTF-8 bytes, as S3 does', async () => {
      // UTF-16 code units would put U+1F600 (surrogates D83D DE00) before U+FF5E.
      const keys = ['utf8/caf\u00e9', 'utf8/z', 'utf8/\uff5e', 'utf8/\u{1f600}'];
      for (const key of [...keys].reverse()) await putText(key, 'x');
      expect(await keysOf(store.list('utf8/', { pageSize: 3 }))).toEqual(keys);
    });

    it('deletes many keys, ignoring missing ones, in batches', async () => {
      await putText('del/1', '1');
      await putText('del/2', '2');
      await putText('del/3', '3');
      await putText('del/sub/4', '4');
      await store.deleteMany(['del/1', 'del/missing', 'del/3', 'del/3']);
      expect(await keysOf(store.list('del/'))).toEqual(['del/2', 'del/sub/4']);
      await store.deleteMany([]);
      // More than one S3 batch (1000 keys), with the existing keys in both batches.
      const many = Array.from({ length: 1001 }, (_, i) => `del/none-${String(i).padStart(4, '0')}`);
      many[0] = 'del/2';
      many[1000] = 'del/sub/4';
      await store.deleteMany(many);
      await expectNothingUnder('del/');
    }, 120_000);

    it('reads byte ranges', async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      await putText('range/obj', data);
      const range = async (start: number, end?: number): Promise<Buffer> =>
        readAll(await store.get('range/obj', { range: end === undefined ? { start } : { start, end } }));
      expect(await range(10, 19)).toEqual(data.subarray(10, 20));
      expect(await range(0, 0)).toEqual(data.subarray(0, 1));
      expect(await range(990)).toEqual(data.subarray(990));
      expect(await range(0)).toEqual(data);
      expect(await range(995, 5000)).toEqual(data.subarray(995));
      expect(await range(999, 999)).toEqual(data.subarray(999));
      await expect(store.get('range/obj', { range: { start: 1000 } })).rejects.toBeInstanceOf(RangeError);
      await expect(store.get('range/obj', { range: { start: 5, end: 4 } })).rejects.toBeInstanceOf(RangeError);
      await expect(store.get('range/obj', { range: { start: -1 } })).rejects.toBeInstanceOf(RangeError);
    });

    it("rejects a put with the source stream's own error and leaves nothing behind (multipart)", async () => {
      const boom = new Error('source failed midway');
      const source = new GeneratedStream(10 * MIDWAY, 7, { failAfter: { bytes: MIDWAY, error: boom } });
      await expect(store.put('fail/big', source)).rejects.toBe(boom);
      expect(source.destroyed).toBe(true);
      expect(await store.head('fail/big')).toBeUndefined();
      await expect(store.get('fail/big')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expectNothingUnder('fail/');
    }, 120_000);

    it("rejects a put with the source stream's own error and leaves nothing behind (small)", async () => {
      const boom = new Error('source failed early');
      const source = new GeneratedStream(MiB, 8, { failAfter: { bytes: CHUNK, error: boom } });
      await expect(store.put('fail-small/obj', source)).rejects.toBe(boom);
      expect(source.destroyed).toBe(true);
      await expectNothingUnder('fail-small/');
    });

    it('stops a put on abort with the abort reason and leaves nothing behind', async () => {
      const controller = new AbortController();
      const reason = new Error('operator cancelled');
      const source = new GeneratedStream(50 * MIDWAY, 9, {
        onProgress: (produced) => {
          if (produced === MIDWAY) setImmediate(() => controller.abort(reason));
        },
      });
      await expect(store.put('abort/big', source, { signal: controller.signal })).rejects.toBe(reason);
      expect(source.destroyed).toBe(true);
      expect(source.produced).toBeLessThan(50 * MIDWAY);
      expect(await store.head('abort/big')).toBeUndefined();
      await expectNothingUnder('abort/');

      const already = new AbortController();
      already.abort(reason);
      const untouched = new GeneratedStream(MiB, 10);
      await expect(store.put('abort/early', untouched, { signal: already.signal })).rejects.toBe(reason);
      expect(untouched.destroyed).toBe(true);
      await expectNothingUnder('abort/');
    }, 120_000);

    it('replaces an existing object whole on put', async () => {
      const big = new GeneratedStream(MIDWAY, 11);
      expect((await store.put('over/obj', big)).bytes).toBe(MIDWAY);
      expect(await putText('over/obj', 'small')).toEqual({ key: 'over/obj', bytes: 5 });
      expect((await readAll(await store.get('over/obj'))).toString()).toBe('small');
      expect((await store.head('over/obj'))?.size).toBe(5);

      const again = new GeneratedStream(MIDWAY + 3, 12);
      await store.put('over/obj', again);
      expect(await digestOf(await store.get('over/obj'))).toEqual({ sha256: again.sha256(), size: MIDWAY + 3 });
      expect(await keysOf(store.list('over/'))).toEqual(['over/obj']);
    }, 120_000);

    it('stores an empty object', async () => {
      expect(await store.put('empty/obj', Readable.from([]))).toEqual({ key: 'empty/obj', bytes: 0 });
      expect((await store.head('empty/obj'))?.size).toBe(0);
      expect((await readAll(await store.get('empty/obj'))).length).toBe(0);
    });

    it('rejects a get of a missing key with ObjectNotFoundError', async () => {
      const error = await store.get('missing/obj').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect((error as ObjectNotFoundError).key).toBe('missing/obj');
      await expect(store.get('missing/obj', { range: { start: 0, end: 9 } })).rejects.toBeInstanceOf(ObjectNotFoundError);
    });

    it('heads an object', async () => {
      const before = Date.now();
      await putText('head/obj', Buffer.alloc(1234, 1));
      const info = await store.head('head/obj');
      expect(info?.key).toBe('head/obj');
      expect(info?.size).toBe(1234);
      // Generous bounds: server clocks and second-granular timestamps.
      expect(info?.lastModified.getTime()).toBeGreaterThan(before - 5 * 60_000);
      expect(info?.lastModified.getTime()).toBeLessThan(Date.now() + 5 * 60_000);
      expect(await store.head('head/missing')).toBeUndefined();
      expect(await store.head('head')).toBeUndefined();
    });

    it('refuses invalid keys and prefixes', async () => {
      for (const key of ['', '/abs', 'a//b', 'a/', '../up', 'a/../b', 'a/./b', 'nul\u0000byte']) {
        const body = Readable.from([Buffer.from('x')]);
        await expect(store.put(key, body)).rejects.toBeInstanceOf(InvalidKeyError);
        expect(body.destroyed).toBe(true);
        await expect(store.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.head(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.deleteMany(['ok', key])).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(collect(store.list('../'))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(collect(store.list('/abs'))).rejects.toBeInstanceOf(InvalidKeyError);
    });
  });
}

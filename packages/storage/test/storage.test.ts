import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageContract, testServices } from '@bk/test-utils';
import { createFileStore, createS3Store, type ObjectInfo, type ObjectStore, type S3StorageConfig } from '../src/index.ts';

async function keysOf(items: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of items) keys.push(item.key);
  return keys;
}

const text = (value: string): Readable => Readable.from([Buffer.from(value)]);

/** Every file and directory below `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('file driver', () => {
  storageContract('file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bk-storage-contract-'));
    return {
      store: createFileStore({ kind: 'file', root }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });

  describe('on disk', () => {
    let root: string;
    let store: ObjectStore;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'bk-storage-file-'));
      store = createFileStore({ kind: 'file', root: `${root}/` });
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    it('maps keys to paths under the root and describes itself as a file URL', async () => {
      await store.put('x/y/z.txt', text('hello'));
      expect(await tree(root)).toEqual(['x', 'x/y', 'x/y/z.txt']);
      expect(store.description).toBe(`file://${root}`);
    });

    it('removes directories left empty by deletes, never the root', async () => {
      await store.put('gone/deep/er/obj', text('1'));
      await store.put('gone/keep', text('2'));
      await store.deleteMany(['gone/deep/er/obj', 'gone/keep', 'x/y/z.txt']);
      expect(await tree(root)).toEqual([]);
      expect((await stat(root)).isDirectory()).toBe(true);
    });

    it('refuses a key that is also a prefix of other keys, with a clear message', async () => {
      await store.put('clash/a/b', text('1'));
      await expect(store.put('clash/a', text('2'))).rejects.toThrow(/prefix of other/);
      await store.put('clash/c', text('3'));
      await expect(store.put('clash/c/d', text('4'))).rejects.toThrow(/prefix of other/);
      expect(await keysOf(store.list('clash/'))).toEqual(['clash/a/b', 'clash/c']);
      expect(await store.abortIncompleteUploads('clash/')).toBe(0);
      await store.deleteMany(['clash/a/b', 'clash/c']);
    });

    it('hides temp files from listings and removes stale ones', async () => {
      await store.put('tmp/real', text('r'));
      const dir = join(root, 'tmp');
      const old = join(dir, '.old.0123456789abcdef.partial');
      const fresh = join(dir, '.fresh.fedcba9876543210.partial');
      await writeFile(old, 'o');
      await writeFile(fresh, 'f');
      const anHourAgo = new Date(Date.now() - 3_600_000);
      await utimes(old, anHourAgo, anHourAgo);
      expect(await keysOf(store.list('tmp/'))).toEqual(['tmp/real']);
      await expect(store.put('tmp/.x.0123456789abcdef.partial', text('x'))).rejects.toThrow(/reserved/);

      expect(await store.abortIncompleteUploads('tmp/', new Date(Date.now() - 60_000))).toBe(1);
      expect(await tree(dir)).toEqual(['.fresh.fedcba9876543210.partial', 'real']);
      expect(await store.abortIncompleteUploads('tmp/fr')).toBe(1);
      expect(await tree(dir)).toEqual(['real']);
      await store.deleteMany(['tmp/real']);
    });

    it('keeps a reader on the version it opened while a put replaces it', async () => {
      await store.put('swap/obj', Readable.from([Buffer.alloc(1 << 20, 1)]));
      const reading = await store.get('swap/obj');
      await store.put('swap/obj', text('new'));
      let size = 0;
      for await (const chunk of reading as AsyncIterable<Buffer>) size += chunk.length;
      expect(size).toBe(1 << 20);
      expect((await store.head('swap/obj'))?.size).toBe(3);
    });

    it('creates the root on ping', async () => {
      const fresh = join(root, 'not', 'yet');
      await createFileStore({ kind: 'file', root: fresh }).ping();
      expect((await stat(fresh)).isDirectory()).toBe(true);
    });

    it('normalises a root with trailing slashes', async () => {
      const sloppy = createFileStore({ kind: 'file', root: `${root}//` });
      await sloppy.put('trail/b', text('x'));
      expect(await keysOf(sloppy.list('trail/'))).toEqual(['trail/b']);
      expect(sloppy.description).toBe(`file://${root}`);
      await sloppy.deleteMany(['trail/b']);
    });

    it('refuses a relative root', () => {
      expect(() => createFileStore({ kind: 'file', root: 'data/backups' })).toThrow(/absolute/);
    });
  });
});

describe('s3 driver on Swift s3api', () => {
  // One Swift for the whole run (test/global-setup.ts); this file works in its own buckets.
  const services = testServices();
  const s3 = services.s3;

  const configFor = (bucket: string, prefix: string): S3StorageConfig => ({
    kind: 's3',
    bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
  });

  storageContract('s3 (Swift s3api)', async () => {
    const bucket = await services.createBucket('storage-contract');
    // A messy prefix on purpose: the driver normalises it to "runs/contract".
    return { store: createS3Store(configFor(bucket, '/runs//contract/')), cleanup: async () => {} };
  });

  describe('prefix and uploads', () => {
    let bucket: string;
    let stores: ObjectStore[] = [];
    const open = (prefix: string): ObjectStore => {
      const store = createS3Store(configFor(bucket, prefix));
      stores.push(store);
      return store;
    };
    beforeAll(async () => {
      bucket = await services.createBucket('storage-prefix');
    });
    afterAll(async () => {
      await Promise.all(stores.map((store) => store.close()));
      stores = [];
    });

    it('keeps objects under its prefix and lists them relative to it', async () => {
      const inner = open('p');
      const neighbour = open('p-x');
      const whole = open('');
      await inner.put('k/1', text('1'));
      await neighbour.put('k/2', text('2'));
      expect(await keysOf(whole.list(''))).toEqual(['p-x/k/2', 'p/k/1']);
      expect(await keysOf(inner.list(''))).toEqual(['k/1']);
      expect(await keysOf(neighbour.list('k'))).toEqual(['k/2']);
      expect((await whole.head('p/k/1'))?.size).toBe(1);
      await inner.deleteMany(['k/1', 'k/2']);
      expect(await keysOf(whole.list(''))).toEqual(['p-x/k/2']);
    });

    it('aborts incomplete uploads under a prefix, honouring olderThan', async () => {
      const store = open('mp');
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        forcePathStyle: true,
      });
      try {
        await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp/a/left-behind' }));
        await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp/b/left-behind' }));
      } finally {
        client.destroy();
      }
      expect(await store.abortIncompleteUploads('a/', new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await store.abortIncompleteUploads('a/', new Date(Date.now() + 3_600_000))).toBe(1);
      expect(await store.abortIncompleteUploads('')).toBe(1);
      expect(await store.abortIncompleteUploads('')).toBe(0);
    });

    it('describes itself without credentials', () => {
      const store = open('some/prefix');
      expect(store.description).toBe(`s3://${bucket}/some/prefix at ${s3.endpoint}`);
      expect(store.description).not.toContain(s3.secretAccessKey);
    });

    it('fails ping for a missing bucket', async () => {
      const store = createS3Store(configFor('no-such-bucket-here', ''));
      stores.push(store);
      await expect(store.ping()).rejects.toThrow();
    });
  });
});

import { describe, expect, it } from 'vitest';
import { createObjectStore, parseStorageUrl, StorageUrlError } from './index.ts';

const MiB = 1024 * 1024;

describe('parseStorageUrl', () => {
  it('reads an s3:// URL with defaults', () => {
    expect(parseStorageUrl('s3://my-bucket/backups/prod')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'backups/prod',
      region: 'us-east-1',
      forcePathStyle: false,
      partSize: 8 * MiB,
      queueSize: 2,
    });
  });

  it('takes the other S3 settings from the options', () => {
    expect(
      parseStorageUrl('s3://b.example/', {
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        accessKeyId: 'AKIA',
        secretAccessKey: 'secret',
        forcePathStyle: true,
        partSizeMiB: 16,
        queueSize: 4,
      }),
    ).toEqual({
      kind: 's3',
      bucket: 'b.example',
      prefix: '',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      accessKeyId: 'AKIA',
      secretAccessKey: 'secret',
      forcePathStyle: true,
      partSize: 16 * MiB,
      queueSize: 4,
    });
  });

  it('normalises the prefix and decodes percent-escapes', () => {
    expect(parseStorageUrl('s3://bkt//a//b%20c/')).toMatchObject({ bucket: 'bkt', prefix: 'a/b c' });
    expect(parseStorageUrl('s3://bkt')).toMatchObject({ prefix: '' });
  });

  it('reads an absolute file:// URL', () => {
    expect(parseStorageUrl('file:///var/lib/backups')).toEqual({ kind: 'file', root: '/var/lib/backups' });
    expect(parseStorageUrl('file:///data/with%20space')).toEqual({ kind: 'file', root: '/data/with space' });
    expect(parseStorageUrl('file://localhost/data')).toEqual({ kind: 'file', root: '/data' });
  });

  it.each([
    ['file://./data/backups', /not an absolute file URL/],
    ['file:data/backups', /not an absolute file URL/],
    ['file://server/share', /not an absolute file URL/],
    ['/data/backups', /plain path needs the file:\/\/ form/],
    ['data/backups', /plain path/],
    ['https://s3.amazonaws.com/bucket', /not a https: URL/],
    ['s3://', /not a valid (s3:\/\/ URL|bucket name)/],
    ['s3://UPPER/x', /not a valid bucket name/],
    ['s3://bucket:9000/x', /without port/],
    ['s3://bucket/x?versioning=1', /without port, query or fragment/],
    ['s3://bucket/a/../b', /"\." or "\.\."/],
  ])('refuses %j', (url, message) => {
    expect(() => parseStorageUrl(url)).toThrow(StorageUrlError);
    expect(() => parseStorageUrl(url)).toThrow(message);
  });

  it('refuses credentials in an s3:// URL without repeating them', () => {
    const attempt = (): unknown => parseStorageUrl('s3://AKIAXXXX:topsecret@bucket/prefix');
    expect(attempt).toThrow(/credentials do not belong/);
    expect(attempt).not.toThrow(/topsecret|AKIAXXXX/);
  });
});

describe('createObjectStore', () => {
  it('builds the file driver', async () => {
    const store = createObjectStore({ kind: 'file', root: '/tmp/bk-storage-unit-never-written' });
    expect(store.description).toBe('file:///tmp/bk-storage-unit-never-written');
    await store.close();
  });

  it('builds the S3 driver with a normalised prefix and a description without secrets', async () => {
    const store = createObjectStore({
      kind: 's3',
      bucket: 'bkt',
      prefix: '//a//b/',
      endpoint: 'http://user:pass@127.0.0.1:9/',
      region: 'us-east-1',
      accessKeyId: 'AKIA',
      secretAccessKey: 'topsecret',
      forcePathStyle: true,
    });
    expect(store.description).toBe('s3://bkt/a/b at http://127.0.0.1:9');
    await store.close();
  });

  it('refuses a relative file root', () => {
    expect(() => createObjectStore({ kind: 'file', root: 'relative/dir' })).toThrow(/absolute path/);
  });
});

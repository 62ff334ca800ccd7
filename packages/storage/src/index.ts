import { fileURLToPath } from 'node:url';
import { createFileStore } from './file.ts';
import { createS3Store, DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE } from './s3.ts';
import type { ObjectStore, StorageConfig } from './types.ts';

export * from './types.ts';
export { createFileStore, type FileStorageConfig } from './file.ts';
export { createS3Store, type S3StorageConfig } from './s3.ts';
export { MAX_PARTS, maxObjectSize, ObjectTooLargeError, partSizeFor } from './multipart.ts';

/** Builds the driver `cfg` names. */
export function createObjectStore(cfg: StorageConfig): ObjectStore {
  switch (cfg.kind) {
    case 's3':
      return createS3Store(cfg);
    case 'file':
      return createFileStore(cfg);
    default: {
      const unknown: never = cfg;
      throw new Error(`unknown storage kind ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
    }
  }
}

/** S3 settings that do not fit in a URL (the shape of the `storage.s3` config section). */
export interface S3Options {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  partSizeMiB?: number;
  queueSize?: number;
}

const MiB = 1024 * 1024;

/** A storage URL problem; the message never repeats credentials. */
export class StorageUrlError extends Error {
  override readonly name = 'StorageUrlError';
}

function parseS3Url(url: string, s3: S3Options): StorageConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StorageUrlError('storage URL: not a valid s3:// URL (expected s3://bucket/prefix)');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new StorageUrlError(
      'storage URL: credentials do not belong in the s3:// URL; set the S3 access key id and secret in the S3 settings',
    );
  }
  if (parsed.port !== '' || parsed.search !== '' || parsed.hash !== '') {
    throw new StorageUrlError('storage URL: an s3:// URL is s3://bucket/prefix, without port, query or fragment');
  }
  const bucket = parsed.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new StorageUrlError(
      `storage URL: ${JSON.stringify(bucket)} is not a valid bucket name (3-63 lowercase letters, digits, ".", "-")`,
    );
  }
  // The path as written: URL parsing would silently resolve "a/../b" to "b".
  const rawPath = /^s3:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] ?? '';
  let prefix: string;
  try {
    prefix = decodeURIComponent(rawPath);
  } catch {
    throw new StorageUrlError('storage URL: the prefix is not valid percent-encoding');
  }
  prefix = prefix
    .split('/')
    .filter((segment) => segment !== '')
    .join('/');
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new StorageUrlError('storage URL: the prefix may not contain "." or ".." segments');
  }
  return {
    kind: 's3',
    bucket,
    prefix,
    region: s3.region ?? 'us-east-1',
    forcePathStyle: s3.forcePathStyle ?? false,
    partSize: (s3.partSizeMiB ?? DEFAULT_PART_SIZE / MiB) * MiB,
    queueSize: s3.queueSize ?? DEFAULT_QUEUE_SIZE,
    ...(s3.endpoint !== undefined && { endpoint: s3.endpoint }),
    ...(s3.accessKeyId !== undefined && { accessKeyId: s3.accessKeyId }),
    ...(s3.secretAccessKey !== undefined && { secretAccessKey: s3.secretAccessKey }),
  };
}

function parseFileUrl(url: string): StorageConfig {
  // new URL() would turn `file:./x` and `file://x/y` into absolute paths: check the text.
  if (!/^file:\/\/(localhost)?\//i.test(url)) {
    throw new StorageUrlError(`storage URL: ${JSON.stringify(url)} is not an absolute file URL; write file:///absolute/path`);
  }
  let root: string;
  try {
    const parsed = new URL(url);
    if (parsed.search !== '' || parsed.hash !== '') throw new Error('query or fragment');
    root = fileURLToPath(parsed);
  } catch {
    throw new StorageUrlError(`storage URL: ${JSON.stringify(url)} is not a valid file URL; write file:///absolute/path`);
  }
  return { kind: 'file', root };
}

/**
 * Turns `s3://bucket/prefix` or `file:///absolute/path` into a `StorageConfig`; everything
 * else (other schemes, relative paths, credentials in the URL) is refused with a message
 * that says what to write instead.
 */
export function parseStorageUrl(url: string, s3: S3Options = {}): StorageConfig {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3') return parseS3Url(url, s3);
  if (scheme === 'file') return parseFileUrl(url);
  throw new StorageUrlError(
    'storage URL: expected s3://bucket/prefix or file:///absolute/path' +
      (scheme === undefined ? ' (a plain path needs the file:// form)' : `, not a ${scheme}: URL`),
  );
}

import type { Readable } from 'node:stream';

/** Metadata of one stored object. Keys are relative to the store's root/prefix. */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface PutOptions {
  signal?: AbortSignal;
  contentType?: string;
}

export interface PutResult {
  key: string;
  /** Bytes stored, counted while streaming. */
  bytes: number;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** Inclusive byte range; `end` omitted means to the end of the object. */
  range?: { start: number; end?: number };
}

/**
 * The object storage port. Every driver (S3, local files) passes the same contract suite.
 *
 * Contract:
 * - `put` streams `body` to `key` without buffering it whole. The object becomes visible
 *   only when the whole stream was stored (S3: multipart complete; files: rename). If the
 *   body errors or `signal` aborts, nothing is left behind (multipart aborted, temp file
 *   removed) and the body's own error (or the abort reason) is rethrown. A failed `put`
 *   destroys `body`, so its producer stops. The signal is honoured while the body is being
 *   read; once the body has ended the store may still complete the object.
 * - Keys and prefixes follow the rules of `InvalidKeyError` (below).
 * - `put` to an existing key replaces it whole (retried jobs rewrite their objects).
 * - `get` of a missing key rejects with `ObjectNotFoundError`.
 * - `list` yields every object under `prefix` in lexicographic key order, paging internally.
 * - `deleteMany` ignores keys that do not exist.
 */
export interface ObjectStore {
  /** Where objects go, without secrets (e.g. `s3://bucket/prefix`, `file:///data`). */
  readonly description: string;
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  get(key: string, opts?: GetOptions): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string, opts?: { pageSize?: number }): AsyncIterable<ObjectInfo>;
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Removes uploads that were started under `prefix` and never completed; returns how many. */
  abortIncompleteUploads(prefix: string, olderThan?: Date): Promise<number>;
  /** Cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
  }
}

export type StorageConfig =
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      endpoint?: string;
      region: string;
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
      /** Multipart part size in bytes (memory per upload is about partSize x queueSize). */
      partSize?: number;
      queueSize?: number;
    }
  | { kind: 'file'; root: string };

/**
 * A key, prefix or range the port refuses. Key rules (every driver applies them, so a key
 * that works on S3 also works on local files and the other way round):
 * - 1 to 1024 UTF-8 bytes, no control characters (U+0000-U+001F, U+007F);
 * - `/`-separated segments, none empty (no leading, trailing or double `/`), none `.` or `..`.
 *
 * A list prefix may be empty or end in `/` or in a partial segment (`a/b` matches `a/b`,
 * `a/bc`, `a/b/c`); its complete segments follow the key rules.
 */
export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
  }
}

const MAX_KEY_BYTES = 1024;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function checkSegments(value: string, segments: readonly string[]): void {
  for (const segment of segments) {
    if (segment === '') throw new InvalidKeyError(value, 'empty path segment (leading, trailing or double "/")');
    if (segment === '.' || segment === '..') throw new InvalidKeyError(value, `"${segment}" is not allowed as a segment`);
  }
}

function checkCharacters(value: string): void {
  if (CONTROL_CHARS.test(value)) throw new InvalidKeyError(value, 'control characters are not allowed');
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(value, `longer than ${MAX_KEY_BYTES} bytes`);
  }
}

/** Throws `InvalidKeyError` unless `key` follows the key rules above. */
export function assertValidKey(key: string): void {
  if (key === '') throw new InvalidKeyError(key, 'empty key');
  checkCharacters(key);
  checkSegments(key, key.split('/'));
}

/** Throws `InvalidKeyError` unless `prefix` is a valid list prefix (see above). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  checkCharacters(prefix);
  // The last segment may be partial (or empty after a trailing "/"): only the complete
  // segments before it must be valid.
  checkSegments(prefix, prefix.split('/').slice(0, -1));
}

/** Throws a `RangeError` unless `range` is a valid inclusive byte range. */
export function assertValidRange(range: { start: number; end?: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RangeError(`range start must be an integer >= 0, got ${String(start)}`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new RangeError(`range end must be an integer >= start (${start}), got ${String(end)}`);
  }
}

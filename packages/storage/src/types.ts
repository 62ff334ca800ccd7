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
 *   removed) and the body's own error (or the abort reason) is rethrown.
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

import { guardBody } from './body-guard.ts';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  InvalidKeyError,
  ObjectNotFoundError,
  type GetOptions,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  type StorageConfig,
} from './types.ts';

export type FileStorageConfig = Extract<StorageConfig, { kind: 'file' }>;

/**
 * An object being written lives next to its final path as `.<name>.<16 hex>.partial` until
 * it is complete; listings skip such names and keys may not take that form.
 */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{16}\.partial$/;
const TEMP_OVERHEAD_BYTES = '..0123456789abcdef.partial'.length;
/** File names are limited to 255 bytes; a temp name is longer than its target's name. */
const MAX_SEGMENT_BYTES = 255 - TEMP_OVERHEAD_BYTES;
/** Attempts to create a temp file when a concurrent delete prunes its fresh directory. */
const CREATE_ATTEMPTS = 5;
const DELETE_CONCURRENCY = 16;

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** The errors that mean "there is no such file" for a path built from a key. */
function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface DirEntry {
  name: string;
  isDir: boolean;
}

/**
 * The local-file driver: key `a/b/c` is the file `<root>/a/b/c`. Writes go to a temp file in
 * the same directory, are fsync'ed and renamed into place, so a reader sees a whole object
 * or none. A key cannot be both an object and the prefix of other keys (`a` and `a/b`):
 * a file cannot be a directory too, and such a `put` fails with a clear error.
 */
export function createFileStore(cfg: FileStorageConfig): ObjectStore {
  if (!isAbsolute(cfg.root)) {
    throw new Error(`file store root must be an absolute path, got ${JSON.stringify(cfg.root)}`);
  }
  const root = normalize(cfg.root).replace(/(.)\/+$/, '$1');

  const pathOf = (key: string): string => {
    assertValidKey(key);
    const segments = key.split('/');
    for (const segment of segments) {
      if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
        throw new InvalidKeyError(key, `the file store allows at most ${MAX_SEGMENT_BYTES} bytes per segment`);
      }
    }
    if (TEMP_NAME.test(segments[segments.length - 1]!)) {
      throw new InvalidKeyError(key, 'names of the form ".<name>.<16 hex digits>.partial" are reserved for temp files');
    }
    return join(root, ...segments);
  };
  /** `dirKey` is '' or ends in '/'. */
  const dirPathOf = (dirKey: string): string => join(root, ...dirKey.split('/').filter((s) => s !== ''));

  async function readSorted(dirKey: string): Promise<DirEntry[]> {
    let dirents;
    try {
      dirents = await readdir(dirPathOf(dirKey), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const entries = dirents
      .filter((d) => d.isDirectory() || d.isFile())
      .map((d) => ({
        name: d.name,
        isDir: d.isDirectory(),
        // Every key below directory `d` starts with `d/`: sorting it as `d/` among its
        // siblings yields the keys in S3 order (`a`, `a-`, `a.b`, `a/b`, `a0`).
        sortKey: Buffer.from(d.isDirectory() ? `${d.name}/` : d.name, 'utf8'),
      }));
    // S3 orders keys by their UTF-8 bytes (not by UTF-16 code units, as JS strings compare).
    entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    return entries;
  }

  /**
   * The files under `dirKey` in key order, recursively: objects, or temp files with the
   * key they are meant for. At the top level only names starting with `first` count.
   */
  async function* walk(dirKey: string, first: string, temps: boolean): AsyncGenerator<{ key: string; path: string }> {
    for (const entry of await readSorted(dirKey)) {
      if (entry.isDir) {
        if (entry.name.startsWith(first)) yield* walk(`${dirKey}${entry.name}/`, '', temps);
        continue;
      }
      const temp = TEMP_NAME.exec(entry.name);
      const target = temps ? temp?.[1] : temp === null ? entry.name : undefined;
      if (target === undefined || !target.startsWith(first)) continue;
      yield { key: `${dirKey}${target}`, path: join(dirPathOf(dirKey), entry.name) };
    }
  }

  /** Splits a list prefix into the directory to walk and the partial name to match there. */
  function splitPrefix(prefix: string): [dirKey: string, first: string] {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    return [prefix.slice(0, slash + 1), prefix.slice(slash + 1)];
  }

  /** Removes `dir` and its parents up to the root while they are empty. */
  async function pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.length > root.length && dir.startsWith(root)) {
      try {
        await rmdir(dir);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') return;
      }
      dir = dirname(dir);
    }
  }

  async function createTemp(key: string, path: string): Promise<{ handle: FileHandle; tempPath: string }> {
    const dir = dirname(path);
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOTDIR' || code === 'EEXIST') {
          throw new Error(
            `cannot store ${JSON.stringify(key)}: a parent of it is stored as an object, and the file store ` +
              'cannot hold a key that is also a prefix of other keys',
          );
        }
        throw error;
      }
      const tempPath = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.partial`);
      try {
        return { handle: await open(tempPath, 'wx'), tempPath };
      } catch (error) {
        // A concurrent deleteMany may have pruned the directory we just made.
        if (errorCode(error) === 'ENOENT' && attempt < CREATE_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async function syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  return {
    description: pathToFileURL(root).href,

    async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
      const { signal } = opts;
      const guard = guardBody(body, signal);
      const onAbort = guard.onAbort;
      let handle: FileHandle | undefined;
      let tempPath: string | undefined;
      try {
        const path = pathOf(key);
        signal?.throwIfAborted();
        signal?.addEventListener('abort', onAbort, { once: true });
        ({ handle, tempPath } = await createTemp(key, path));
        // `flush`: the stream fsyncs the file before it closes it (and so before the rename).
        const out = handle.createWriteStream({ flush: true });
        await pipeline(body, out);
        handle = undefined; // closed by the stream
        try {
          await rename(tempPath, path);
        } catch (error) {
          if (errorCode(error) === 'EISDIR' || errorCode(error) === 'ENOTEMPTY') {
            throw new Error(
              `cannot store ${JSON.stringify(key)}: it is a prefix of other stored keys, and the file store ` +
                'cannot hold a key that is also a prefix of other keys',
            );
          }
          throw error;
        }
        tempPath = undefined;
        await syncDir(dirname(path));
        return { key, bytes: out.bytesWritten };
      } catch (error) {
        body.destroy();
        await handle?.close().catch(() => undefined);
        if (tempPath !== undefined) await unlink(tempPath).catch(() => undefined);
        throw guard.errorOr(error);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },

    async get(key: string, opts: GetOptions = {}): Promise<Readable> {
      const path = pathOf(key);
      if (opts.range !== undefined) assertValidRange(opts.range);
      opts.signal?.throwIfAborted();
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (error) {
        if (isMissing(error)) throw new ObjectNotFoundError(key);
        throw error;
      }
      let stream: Readable;
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw new ObjectNotFoundError(key);
        const start = opts.range?.start ?? 0;
        if (opts.range !== undefined && start >= info.size) {
          throw new RangeError(`range start ${start} is not within ${JSON.stringify(key)} (${info.size} bytes)`);
        }
        // Reading through the handle keeps this object whole even if a put replaces it now.
        stream = handle.createReadStream({ start, ...(opts.range?.end !== undefined && { end: opts.range.end }) });
      } catch (error) {
        await handle.close();
        throw error;
      }
      if (opts.signal !== undefined) addAbortSignal(opts.signal, stream);
      return stream;
    },

    async head(key: string): Promise<ObjectInfo | undefined> {
      const path = pathOf(key);
      try {
        const info = await stat(path);
        return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      const [dirKey, first] = splitPrefix(prefix);
      for await (const file of walk(dirKey, first, false)) {
        let info;
        try {
          info = await stat(file.path);
        } catch (error) {
          if (isMissing(error)) continue; // deleted meanwhile
          throw error;
        }
        yield { key: file.key, size: info.size, lastModified: info.mtime };
      }
    },

    async deleteMany(keys: readonly string[]): Promise<void> {
      const paths = keys.map(pathOf);
      const deleteOne = async (path: string): Promise<void> => {
        try {
          await unlink(path);
        } catch (error) {
          // Missing, or a directory (a prefix, not an object): nothing to delete.
          if (isMissing(error) || errorCode(error) === 'EISDIR') return;
          throw error;
        }
        await pruneEmptyDirs(dirname(path));
      };
      for (let i = 0; i < paths.length; i += DELETE_CONCURRENCY) {
        await Promise.all(paths.slice(i, i + DELETE_CONCURRENCY).map(deleteOne));
      }
    },

    async abortIncompleteUploads(prefix: string, olderThan?: Date): Promise<number> {
      const [dirKey, first] = splitPrefix(prefix);
      let removed = 0;
      for await (const temp of walk(dirKey, first, true)) {
        try {
          if (olderThan !== undefined && (await stat(temp.path)).mtime >= olderThan) continue;
          await unlink(temp.path);
        } catch (error) {
          if (isMissing(error)) continue; // renamed into place or removed meanwhile
          throw error;
        }
        removed += 1;
        await pruneEmptyDirs(dirname(temp.path));
      }
      return removed;
    },

    async ping(): Promise<void> {
      await mkdir(root, { recursive: true });
      await access(root, constants.W_OK);
    },

    async close(): Promise<void> {},
  };
}

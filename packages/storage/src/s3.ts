import { guardBody } from './body-guard.ts';
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { addAbortSignal, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { uploadStream } from './multipart.ts';
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  ObjectNotFoundError,
  type GetOptions,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  type StorageConfig,
} from './types.ts';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

const MiB = 1024 * 1024;
export const DEFAULT_PART_SIZE = 8 * MiB;
export const DEFAULT_QUEUE_SIZE = 2;
/** S3 allows at most 1000 keys per DeleteObjects request. */
const DELETE_BATCH = 1000;
const CONNECTION_TIMEOUT_MS = 10_000;
/**
 * The request timeout runs from sending the request until the response headers arrive, so
 * it covers the upload of one whole part. It is sized for parts sent at no less than
 * 64 KiB/s, and never below two minutes.
 */
const MIN_UPLOAD_BYTES_PER_SECOND = 64 * 1024;
const MIN_REQUEST_TIMEOUT_MS = 120_000;
/**
 * A socket that moves no byte for this long fails the request. It also bounds how long a
 * consumer may leave a `get` stream unread (backpressure stops reading the socket).
 */
const SOCKET_IDLE_TIMEOUT_MS = 300_000;

/** The timeout of a request carrying `bytes` of body (parts grow; see multipart.ts). */
function requestTimeoutMs(bytes: number): number {
  return Math.max(MIN_REQUEST_TIMEOUT_MS, Math.ceil(bytes / MIN_UPLOAD_BYTES_PER_SECOND) * 1000);
}

/** `prefix` with leading, trailing and repeated slashes removed. */
function normalizePrefix(prefix: string): string {
  return prefix
    .split('/')
    .filter((segment) => segment !== '')
    .join('/');
}

function httpStatus(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isNoSuchKey(error: unknown): boolean {
  // GET answers 404 NoSuchKey; a missing bucket (NoSuchBucket) must not look like a missing key.
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound');
}

/**
 * Swift's s3api (and some other S3-compatible servers) insist on Content-MD5 for
 * DeleteObjects, while the SDK only sends a CRC32 checksum. AWS accepts both.
 */
function addContentMd5ToDeleteObjects(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && request.headers !== undefined) {
        const body = request.body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', name: 'bkDeleteObjectsContentMd5' },
  );
}

/**
 * The S3 driver. Objects go to `cfg.bucket` under `cfg.prefix`; `put` streams a multipart
 * upload (multipart.ts) holding at most `(queueSize + 1) x partSize` bytes per upload
 * (`queueSize` parts in flight, one filling), in reused buffers. An object may have up to
 * 1,000 parts (Swift's limit); parts grow after every 250 (see `partSizeFor`), so one
 * object can reach `maxObjectSize(partSize)`: 3,750 x partSize (29.3 GiB with 8 MiB
 * parts, 18.3 GiB with 5 MiB); a larger one fails with ObjectTooLargeError.
 */
export function createS3Store(cfg: S3StorageConfig): ObjectStore {
  const bucket = cfg.bucket;
  const rootPrefix = normalizePrefix(cfg.prefix);
  const partSize = cfg.partSize ?? DEFAULT_PART_SIZE;
  const queueSize = cfg.queueSize ?? DEFAULT_QUEUE_SIZE;
  const agentOptions = { keepAlive: true, maxSockets: 50 };

  const client = new S3Client({
    region: cfg.region,
    ...(cfg.endpoint !== undefined && { endpoint: cfg.endpoint }),
    forcePathStyle: cfg.forcePathStyle,
    ...(cfg.accessKeyId !== undefined &&
      cfg.secretAccessKey !== undefined && {
        credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      }),
    // With the defaults a streamed PutObject goes out aws-chunked with a trailing checksum,
    // which several S3-compatible servers reject or store corrupted.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: requestTimeoutMs(partSize),
      throwOnRequestTimeout: true,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  });
  addContentMd5ToDeleteObjects(client);

  const withRoot = (relative: string): string => (rootPrefix === '' ? relative : `${rootPrefix}/${relative}`);
  const fullKey = (key: string): string => {
    assertValidKey(key);
    return withRoot(key);
  };
  const fullPrefix = (prefix: string): string => {
    assertValidPrefix(prefix);
    return withRoot(prefix);
  };
  const rootLength = rootPrefix === '' ? 0 : rootPrefix.length + 1;
  const relativeKey = (key: string): string => key.slice(rootLength);

  let description = `s3://${bucket}${rootPrefix === '' ? '' : `/${rootPrefix}`}`;
  if (cfg.endpoint !== undefined) {
    // The origin never carries user info, so nothing secret ends up in the description.
    description += ` at ${new URL(cfg.endpoint).origin}`;
  }

  return {
    description,

    async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
      const { signal } = opts;
      const guard = guardBody(body, signal);
      const onAbort = guard.onAbort;
      let Key: string;
      try {
        Key = fullKey(key);
        signal?.throwIfAborted();
      } catch (error) {
        body.destroy();
        throw error;
      }
      signal?.addEventListener('abort', onAbort, { once: true });

      try {
        const bytes = await uploadStream(body, {
          client,
          bucket,
          key: Key,
          contentType: opts.contentType,
          partSize,
          queueSize,
          requestTimeoutMs,
          signal,
        });
        return { key, bytes };
      } catch (error) {
        // When an upload request failed first, nobody reads the body any more: stop its producer.
        body.destroy();
        throw guard.errorOr(error);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },

    async get(key: string, opts: GetOptions = {}): Promise<Readable> {
      const Key = fullKey(key);
      let Range: string | undefined;
      if (opts.range !== undefined) {
        assertValidRange(opts.range);
        Range = `bytes=${opts.range.start}-${opts.range.end ?? ''}`;
      }
      let output;
      try {
        output = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key, ...(Range !== undefined && { Range }) }),
          opts.signal === undefined ? {} : { abortSignal: opts.signal },
        );
      } catch (error) {
        if (isNoSuchKey(error)) throw new ObjectNotFoundError(key);
        if (error instanceof S3ServiceException && error.name === 'InvalidRange') {
          throw new RangeError(`range start ${opts.range?.start ?? 0} is not within ${JSON.stringify(key)}`);
        }
        throw error;
      }
      const stream = output.Body;
      if (!(stream instanceof Readable)) {
        throw new Error(`S3 GetObject ${key}: expected a Node.js stream as the body`);
      }
      if (opts.signal !== undefined) addAbortSignal(opts.signal, stream);
      return stream;
    },

    async head(key: string): Promise<ObjectInfo | undefined> {
      const Key = fullKey(key);
      try {
        const output = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        return { key, size: output.ContentLength ?? 0, lastModified: output.LastModified ?? new Date(0) };
      } catch (error) {
        // A HEAD response has no body: a missing bucket also reads as 404 here (ping tells).
        if (isNoSuchKey(error) || httpStatus(error) === 404) return undefined;
        throw error;
      }
    },

    async *list(prefix: string, opts: { pageSize?: number } = {}): AsyncIterable<ObjectInfo> {
      const Prefix = fullPrefix(prefix);
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix,
            MaxKeys: opts.pageSize ?? 1000,
            ...(ContinuationToken !== undefined && { ContinuationToken }),
          }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          yield {
            key: relativeKey(object.Key),
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? new Date(0),
          };
        }
        ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (ContinuationToken !== undefined);
    },

    async deleteMany(keys: readonly string[]): Promise<void> {
      const fullKeys = keys.map(fullKey);
      for (let i = 0; i < fullKeys.length; i += DELETE_BATCH) {
        const batch = fullKeys.slice(i, i + DELETE_BATCH);
        const output = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const errors = (output.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (errors.length > 0) {
          const sample = errors
            .slice(0, 3)
            .map((e) => `${relativeKey(e.Key ?? '?')}: ${e.Code ?? '?'} ${e.Message ?? ''}`.trim())
            .join('; ');
          throw new Error(`S3 DeleteObjects failed for ${errors.length} key(s): ${sample}`);
        }
      }
    },

    async abortIncompleteUploads(prefix: string, olderThan?: Date): Promise<number> {
      const Prefix = fullPrefix(prefix);
      let aborted = 0;
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix,
            ...(KeyMarker !== undefined && { KeyMarker }),
            ...(UploadIdMarker !== undefined && { UploadIdMarker }),
          }),
        );
        for (const upload of page.Uploads ?? []) {
          if (upload.Key === undefined || upload.UploadId === undefined) continue;
          if (olderThan !== undefined && !(upload.Initiated !== undefined && upload.Initiated < olderThan)) continue;
          try {
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
            aborted += 1;
          } catch (error) {
            // Completed or aborted by someone else meanwhile.
            if (!(error instanceof S3ServiceException && error.name === 'NoSuchUpload')) throw error;
          }
        }
        if (page.IsTruncated !== true) return aborted;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    },

    async ping(): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}

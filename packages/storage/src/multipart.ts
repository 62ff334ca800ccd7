import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

const MiB = 1024 * 1024;
/** S3's smallest part (all parts but the last). */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/**
 * Parts per object. AWS allows 10,000, but OpenStack Swift's s3api stops at 1,000 by
 * default (`max_upload_part_num`) and other S3-compatible servers vary: 1,000 works
 * everywhere.
 */
export const MAX_PARTS = 1000;

/**
 * The size of part `partNumber` (1-based): `partSize` for the first 250 parts, then
 * doubling every 250 parts (2x, 4x, 8x), capped at S3's 5 GiB. The size of a streamed
 * object is not known in advance; this keeps the memory of an upload at its configured
 * `partSize` for every object up to 250 parts (2 GiB with 8 MiB parts), and lets an object
 * grow to {@link maxObjectSize} (3,750 x `partSize`: 29.3 GiB with 8 MiB parts, 18.3 GiB
 * with 5 MiB) within 1,000 parts.
 */
export function partSizeFor(partNumber: number, partSize: number, maxParts = MAX_PARTS): number {
  const step = Math.min(3, Math.floor(((partNumber - 1) * 4) / maxParts));
  return Math.min(MAX_PART_SIZE, partSize * 2 ** step);
}

/** The largest object one upload can store with this base part size. */
export function maxObjectSize(partSize: number, maxParts = MAX_PARTS): number {
  let total = 0;
  for (let n = 1; n <= maxParts; n++) total += partSizeFor(n, partSize, maxParts);
  return total;
}

export class ObjectTooLargeError extends Error {
  override readonly name = 'ObjectTooLargeError';
}

export interface StreamUploadOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly contentType?: string | undefined;
  /** Base part size (>= 5 MiB). */
  readonly partSize: number;
  /** Parts uploaded at once. */
  readonly queueSize: number;
  /** Request timeout for a request carrying `bytes` of body. */
  readonly requestTimeoutMs: (bytes: number) => number;
  readonly signal?: AbortSignal | undefined;
  /** Default {@link MAX_PARTS}. */
  readonly maxParts?: number | undefined;
}

/**
 * Streams `body` into one object: a single PutObject when it fits in one part, else a
 * multipart upload. Each part is filled by copying the body's chunks into one buffer of
 * the part's size, and buffers are reused once their part is uploaded, so an upload holds
 * at most `queueSize + 1` part buffers (`queueSize` in flight, one filling), whatever the
 * size or shape of the body's chunks; there is no other copy of the data.
 *
 * On any failure (the body's error, a request's, the signal) the parts in flight are
 * cancelled, the multipart upload is aborted (nothing is left behind), and the first error
 * is thrown. Returns the bytes stored.
 */
export async function uploadStream(body: Readable, opts: StreamUploadOptions): Promise<number> {
  const { client, bucket: Bucket, key: Key } = opts;
  if (opts.partSize < MIN_PART_SIZE) throw new RangeError(`S3 part size must be at least 5 MiB, got ${opts.partSize}`);
  const queueSize = Math.max(1, Math.floor(opts.queueSize));
  const maxParts = opts.maxParts ?? MAX_PARTS;
  const cancel = new AbortController();
  const signal = opts.signal ? AbortSignal.any([cancel.signal, opts.signal]) : cancel.signal;
  const contentType = opts.contentType !== undefined ? { ContentType: opts.contentType } : {};

  let uploadId: Promise<string> | undefined;
  // The first error; in an object, as callbacks set it (TypeScript would narrow a `let`).
  const state: { failure?: { error: unknown } } = {};
  const fail = (error: unknown): void => {
    state.failure ??= { error };
    cancel.abort(error);
  };
  const throwIfFailed = (): void => {
    if (state.failure) throw state.failure.error;
  };
  const inFlight = new Set<Promise<void>>();
  const parts: { PartNumber: number; ETag: string }[] = [];
  /** Filled buffers whose upload finished, ready to be filled again (same size only). */
  const spare: Buffer[] = [];

  let partNumber = 1;
  let size = partSizeFor(1, opts.partSize, maxParts);
  let current: Buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  let total = 0;

  const startUpload = (): Promise<string> => {
    // Not under `signal`: a create aborted in flight may still be carried out by the server,
    // and an upload id we never learn cannot be aborted. The request is short; on failure
    // the id it returns is aborted below.
    uploadId ??= client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...contentType })).then((r) => {
      if (!r.UploadId) throw new Error(`S3 CreateMultipartUpload ${Key}: no UploadId in the response`);
      return r.UploadId;
    });
    return uploadId;
  };

  const sendPart = (buffer: Buffer, length: number, PartNumber: number): Promise<void> => {
    const task = (async () => {
      const UploadId = await startUpload();
      const r = await client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: buffer.subarray(0, length), ContentLength: length }),
        { abortSignal: signal, requestTimeout: opts.requestTimeoutMs(length) },
      );
      if (!r.ETag) throw new Error(`S3 UploadPart ${Key} part ${PartNumber}: no ETag in the response`);
      parts.push({ PartNumber, ETag: r.ETag });
      if (buffer.length === size) spare.push(buffer);
    })().catch(fail);
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return tracked;
  };

  /** Sends the full current part and starts the next one (waiting for a free slot first). */
  const nextPart = async (): Promise<void> => {
    if (partNumber >= maxParts) {
      throw new ObjectTooLargeError(
        `object ${Key} is larger than ${maxObjectSize(opts.partSize, maxParts)} bytes, the most ${maxParts} parts hold with a part size of ` +
          `${opts.partSize / MiB} MiB; configure a larger part size (storage.s3.partSizeMiB)`,
      );
    }
    void sendPart(current, filled, partNumber);
    partNumber += 1;
    const nextSize = partSizeFor(partNumber, opts.partSize, maxParts);
    if (nextSize !== size) {
      size = nextSize;
      spare.length = 0;
    }
    while (inFlight.size >= queueSize && !state.failure) await Promise.race(inFlight);
    throwIfFailed();
    current = spare.pop() ?? Buffer.allocUnsafe(size);
    filled = 0;
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      throwIfFailed();
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += data.length;
      while (data.length > 0) {
        // A full part goes out only once more data follows it: the end may come next,
        // and an object of exactly one part is a single PutObject.
        if (filled === current.length) await nextPart();
        const n = data.copy(current, filled);
        filled += n;
        data = data.subarray(n);
      }
    }
    throwIfFailed();
    if (partNumber === 1) {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: current.subarray(0, filled), ContentLength: filled, ...contentType }), {
        abortSignal: signal,
        requestTimeout: opts.requestTimeoutMs(filled),
      });
      return total;
    }
    void sendPart(current, filled, partNumber);
    while (inFlight.size > 0) await Promise.race(inFlight);
    throwIfFailed();
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: await startUpload(), MultipartUpload: { Parts: parts } }),
      { abortSignal: signal },
    );
    return total;
  } catch (error) {
    fail(error);
    await Promise.allSettled([...inFlight]);
    if (uploadId) {
      const id = await uploadId.catch(() => undefined);
      if (id !== undefined) {
        // Not under `signal` (aborted by now). Best effort: abortIncompleteUploads (cleanup)
        // removes what a failure here leaves.
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: id })).catch(() => undefined);
      }
    }
    throw state.failure?.error ?? error;
  }
}

import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { MAX_PARTS, maxObjectSize, ObjectTooLargeError, partSizeFor, uploadStream } from './multipart.ts';

const MiB = 1024 * 1024;

/** An S3 client that keeps what it is sent; parts take `delayMs` to "upload". */
function fakeClient(opts: { delayMs?: number; failPart?: number } = {}) {
  const parts = new Map<number, Buffer>();
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const bodies = new Set<ArrayBufferLike>();
  let stored: Buffer | undefined;
  const client = {
    async send(cmd: unknown): Promise<unknown> {
      if (cmd instanceof CreateMultipartUploadCommand) {
        log.push('create');
        return { UploadId: 'u1' };
      }
      if (cmd instanceof UploadPartCommand) {
        const n = cmd.input.PartNumber ?? 0;
        const body = cmd.input.Body as Buffer;
        bodies.add(body.buffer);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
        inFlight--;
        if (n === opts.failPart) throw new Error(`part ${n} failed`);
        parts.set(n, Buffer.from(body));
        return { ETag: `"e${n}"` };
      }
      if (cmd instanceof CompleteMultipartUploadCommand) {
        const list = cmd.input.MultipartUpload?.Parts ?? [];
        expect(list.map((p) => p.PartNumber)).toEqual(list.map((_, i) => i + 1));
        stored = Buffer.concat(list.map((p) => parts.get(p.PartNumber ?? 0)!));
        log.push(`complete ${list.length}`);
        return {};
      }
      if (cmd instanceof PutObjectCommand) {
        stored = Buffer.from(cmd.input.Body as Buffer);
        log.push('put');
        return {};
      }
      if (cmd instanceof AbortMultipartUploadCommand) {
        log.push('abort');
        return {};
      }
      throw new Error('unexpected command');
    },
  };
  return {
    client: client as unknown as S3Client,
    log,
    parts,
    get stored() {
      return stored;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get distinctBuffers() {
      return bodies.size;
    },
  };
}

/** `total` bytes in chunks of odd sizes (as a compressor's output comes). */
function body(total: number, chunk = 31_337): { stream: Readable; data: Buffer } {
  const data = Buffer.alloc(total);
  for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
  const pieces: Buffer[] = [];
  for (let i = 0; i < total; i += chunk) pieces.push(data.subarray(i, i + chunk));
  return { stream: Readable.from(pieces), data };
}

const base = { bucket: 'b', key: 'k', partSize: 5 * MiB, queueSize: 2, requestTimeoutMs: () => 1000 };

describe('uploadStream', () => {
  it('puts an object of at most one part with a single PutObject (empty included)', async () => {
    for (const size of [0, 1, 5 * MiB]) {
      const s3 = fakeClient();
      const { stream, data } = body(size);
      expect(await uploadStream(stream, { ...base, client: s3.client })).toBe(size);
      expect(s3.log).toEqual(['put']);
      expect(s3.stored?.equals(data)).toBe(true);
    }
  });

  it('uploads parts in order, at most queueSize at once, reusing queueSize + 1 buffers', async () => {
    const s3 = fakeClient({ delayMs: 5 });
    const { stream, data } = body(41 * MiB + 123);
    expect(await uploadStream(stream, { ...base, client: s3.client })).toBe(data.length);
    expect(s3.log).toEqual(['create', 'complete 9']);
    expect(s3.stored?.equals(data)).toBe(true);
    expect(s3.maxInFlight).toBe(2);
    expect(s3.distinctBuffers).toBeLessThanOrEqual(3);
  });

  it('grows parts every quarter of the part limit and fails clearly beyond it, aborting the upload', async () => {
    expect([1, 250, 251, 500, 501, 751, 1000].map((n) => partSizeFor(n, 8 * MiB) / MiB)).toEqual([8, 8, 16, 16, 32, 64, 64]);
    expect(MAX_PARTS).toBe(1000);
    expect(maxObjectSize(8 * MiB)).toBe(3750 * 8 * MiB);
    expect(maxObjectSize(5 * MiB, 8)).toBe((2 + 4 + 8 + 16) * 5 * MiB);

    const fits = fakeClient();
    const exact = body(maxObjectSize(5 * MiB, 8), MiB);
    expect(await uploadStream(exact.stream, { ...base, client: fits.client, maxParts: 8 })).toBe(exact.data.length);
    expect(fits.stored?.equals(exact.data)).toBe(true);
    expect([...fits.parts.values()].map((p) => p.length / MiB)).toEqual([5, 5, 10, 10, 20, 20, 40, 40]);

    const over = fakeClient();
    const tooBig = body(maxObjectSize(5 * MiB, 8) + 1, MiB);
    const err = await uploadStream(tooBig.stream, { ...base, client: over.client, maxParts: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectTooLargeError);
    expect((err as Error).message).toMatch(/larger than 157286400 bytes, the most 8 parts/);
    expect(over.log.at(-1)).toBe('abort');
    expect(tooBig.stream.destroyed).toBe(true);
    // 300 MiB through the fake client and a byte comparison: under the suite's parallel
    // integration load this took more than vitest's default 5 s (a CI run of 2026-12-06).
  }, 60_000);

  it("a failed part aborts the upload with that part's error", async () => {
    const s3 = fakeClient({ failPart: 3 });
    const { stream } = body(30 * MiB);
    await expect(uploadStream(stream, { ...base, client: s3.client })).rejects.toThrow('part 3 failed');
    expect(s3.log).toEqual(['create', 'abort']);
  });

  it("a failing body aborts the upload with the body's error", async () => {
    const s3 = fakeClient();
    const boom = new Error('source failed');
    const { data } = body(12 * MiB);
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= data.length) return this.destroy(boom);
        this.push(data.subarray(sent, sent + MiB));
        sent += MiB;
      },
    });
    await expect(uploadStream(failing, { ...base, client: s3.client })).rejects.toBe(boom);
    expect(s3.log).toEqual(['create', 'abort']);
  });
});

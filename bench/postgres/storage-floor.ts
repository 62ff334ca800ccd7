/**
 * The storage floor: how fast the platform's object store takes bytes that need no
 * database and no compression. `parallel` concurrent `store.put` of incompressible bytes
 * generated in memory, through the same driver and configuration the workers use (S3:
 * our multipart upload (packages/storage/src/multipart.ts), 8 MiB parts, queue size 2),
 * from this process.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Stack } from './platform.ts';

const BLOCK = randomBytes(8 * 1024 * 1024);

function bytesStream(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, total - sent);
      const off = sent % (BLOCK.length - n);
      sent += n;
      this.push(BLOCK.subarray(off, off + n));
    },
  });
}

export async function storageFloor(
  stack: Stack,
  totalBytes: number,
  parallel = 4,
): Promise<{ seconds: number; bytes: number; mbPerS: number }> {
  const each = Math.ceil(totalBytes / parallel);
  const keys = Array.from({ length: parallel }, (_, i) => `floor/${Date.now()}-${i}.bin`);
  const t0 = performance.now();
  await Promise.all(keys.map((k) => stack.platform.store.put(k, bytesStream(each))));
  const seconds = (performance.now() - t0) / 1000;
  await stack.platform.store.deleteMany(keys);
  return {
    seconds: Math.round(seconds * 100) / 100,
    bytes: each * parallel,
    mbPerS: Math.round(((each * parallel) / 1e6 / seconds) * 10) / 10,
  };
}

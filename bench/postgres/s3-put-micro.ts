/**
 * Memory of S3 uploads in one process, as a worker runs them: `--uploads` (2) concurrent
 * `store.put` of tick-like COPY text through `encodeForStorage` (zstd 3 by default), into a
 * private Swift (s3api) with the production defaults (8 MiB parts, queue size 2). Reports
 * the process's peak RSS above its RSS before the uploads (sampled every 20 ms, and VmHWM),
 * wall seconds and CPU-seconds of this process.
 *
 *   npx tsx bench/postgres/s3-put-micro.ts [--mib 150] [--uploads 2] [--codec zstd] [--level 3] [--part-mib 8] [--queue 2]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { type Codec, encodeForStorage } from '@bk/core';
import { createS3Store } from '@bk/storage';
import { startSwift } from '../../packages/test-utils/src/swift.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '150' },
    uploads: { type: 'string', default: '2' },
    codec: { type: 'string', default: 'zstd' },
    level: { type: 'string', default: '3' },
    'part-mib': { type: 'string', default: '8' },
    queue: { type: 'string', default: '2' },
  },
});

/** Random-ish tick rows, generated lazily in 64 KiB chunks (never held whole). */
function ticks(bytes: number, seed: number): Readable {
  let produced = 0;
  let g = seed * 1e7;
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  return new Readable({
    read() {
      if (produced >= bytes) return void this.push(null);
      let out = '';
      while (out.length < 65536) {
        g++;
        out += `${g}\tSYM${String(g % 500).padStart(3, '0')}USDT\tbinance\t2024-01-01 00:00:${String(g % 60).padStart(2, '0')}.031+00\t${(1000 + 5 * rnd()).toFixed(4)}\t${(rnd() * 20).toFixed(8)}\t${Math.floor(rnd() * 1e6)}\t${1e9 + g * 3}\t${rnd() < 0.5 ? 't' : 'f'}\t${g % 16}\n`;
      }
      produced += out.length;
      this.push(Buffer.from(out, 'latin1'));
    },
  });
}

async function vmHwm(): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

const swift = await startSwift();
try {
  await swift.createBucket('micro');
  const store = createS3Store({
    kind: 's3',
    bucket: 'micro',
    prefix: 'm',
    endpoint: swift.endpoint,
    region: swift.region,
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
    forcePathStyle: true,
    partSize: Number(values['part-mib']) * 1024 * 1024,
    queueSize: Number(values.queue),
  });
  await store.put('warmup', Readable.from([Buffer.from('x')]));
  const MiB = 1024 * 1024;
  for (let round = 0; round < 2; round++) {
    global.gc?.();
    await writeFile('/proc/self/clear_refs', '5').catch(() => undefined);
    const before = process.memoryUsage.rss();
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: Number(values.uploads) }, (_, i) => {
        const enc = encodeForStorage(ticks(Number(values.mib) * MiB, round * 10 + i + 1), {
          compression: { codec: values.codec as Codec, level: Number(values.level) },
        });
        return store.put(`obj-${round}-${i}`, enc.stream);
      }),
    );
    clearInterval(timer);
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const hwm = await vmHwm();
    console.log(
      JSON.stringify({
        round,
        storedMB: +(results.reduce((a, r) => a + r.bytes, 0) / 1e6).toFixed(1),
        wallS: +wall.toFixed(2),
        cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(2),
        rssBeforeMiB: Math.round(before / MiB),
        peakRssMiB: Math.round(peak / MiB),
        vmHwmMiB: Math.round(hwm / MiB),
        growthMiB: Math.round((Math.max(peak, hwm) - before) / MiB),
      }),
    );
  }
  await store.close();
} finally {
  await swift.stop();
}

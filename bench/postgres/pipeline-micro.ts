/**
 * Micro-benchmark of the write path alone: ~300 MB of tick-like COPY text (generated in
 * memory, 64 KiB chunks as pg-copy-streams delivers them) through `encodeForStorage` into a
 * sink that drops the bytes, or holds them like a multipart upload buffer does (`--hold`).
 *
 *   npx tsx bench/postgres/pipeline-micro.ts [--mib 300] [--codec zstd] [--level 3] [--runs 3] [--encrypt] [--hold 8]
 *   ... --prof /tmp/x.cpuprofile   # a CPU profile of the runs only (not of the sample's generation)
 *
 * Prints, per run: MB/s of input, MB per CPU-second of this process (all threads), output
 * ratio, output chunk count and mean size, and the bytes the sink's held chunks keep alive
 * (backing ArrayBuffers / bytes held: 1.00x means compact chunks).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { type Codec, encodeForStorage } from '@bk/core';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '300' },
    codec: { type: 'string', default: 'zstd' },
    level: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    encrypt: { type: 'boolean', default: false },
    hold: { type: 'string', default: '0' },
    prof: { type: 'string' },
  },
});

/** Tick-like COPY rows, deterministic, about like `public.ticks` in dataset.ts. */
function makeSample(bytes: number): Buffer[] {
  const parts: string[] = [];
  let size = 0;
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const ex = ['binance', 'okx', 'bybit', 'kraken'];
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  for (let g = 1; size < bytes; g++) {
    const ts = new Date(t0 + g * 31).toISOString().replace('T', ' ').replace('Z', '+00');
    const price = (1000 + 400 * Math.sin(g / 50000) + 5 * rnd()).toFixed(4);
    const row = `${g}\tSYM${String(g % 500).padStart(3, '0')}USDT\t${ex[g % 4]}\t${ts}\t${price}\t${(rnd() * 20).toFixed(8)}\t${Math.floor(
      rnd() * 1e6,
    )}\t${1e9 + g * 3 + (g % 7)}\t${rnd() < 0.5 ? 't' : 'f'}\t${g % 10 === 0 ? '\\N' : g % 16}\n`;
    parts.push(row);
    size += row.length;
  }
  const all = Buffer.from(parts.join(''), 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) out.push(all.subarray(i, i + 65536));
  return out;
}

async function run(input: Buffer[], codec: Codec, level: number, dataKey: Buffer | undefined, holdBytes: number) {
  const inputBytes = input.reduce((a, b) => a + b.length, 0);
  let chunks = 0;
  let outBytes = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  let maxBacking = 0;
  let maxHeld = 0;
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, done) {
      chunks++;
      outBytes += chunk.length;
      if (holdBytes > 0) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes >= holdBytes) {
          const backing = new Set(held.map((b) => b.buffer));
          let total = 0;
          for (const ab of backing) total += ab.byteLength;
          if (total > maxBacking) {
            maxBacking = total;
            maxHeld = heldBytes;
          }
          held = [];
          heldBytes = 0;
        }
      }
      done();
    },
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const enc = encodeForStorage(Readable.from(input, { objectMode: false, highWaterMark: 65536 }), {
    compression: { codec, level },
    ...(dataKey ? { dataKey } : {}),
  });
  await pipeline(enc.stream, sink);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const mb = inputBytes / 1e6;
  return {
    mbPerS: +(mb / s).toFixed(1),
    mbPerCpuS: +(mb / cpuS).toFixed(1),
    ratio: +(inputBytes / outBytes).toFixed(3),
    chunks,
    meanChunk: Math.round(outBytes / chunks),
    backingPerByte: maxHeld ? +(maxBacking / maxHeld).toFixed(2) : undefined,
    rows: enc.stats().rows,
  };
}

const input = makeSample(Number(values.mib) * 1024 * 1024);
const dataKey = values.encrypt ? randomBytes(32) : undefined;
console.log(
  `input ${(input.reduce((a, b) => a + b.length, 0) / 1e6).toFixed(1)} MB, ${values.codec} ${values.level}${dataKey ? ' + AES-GCM' : ''}`,
);
const session = values.prof ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
for (let i = 0; i < Number(values.runs); i++) {
  const r = await run(input, values.codec as Codec, Number(values.level), dataKey, Number(values.hold) * 1024 * 1024);
  console.log(JSON.stringify(r));
}
if (session && values.prof) {
  const { profile } = await session.post('Profiler.stop');
  await writeFile(values.prof, JSON.stringify(profile));
  session.disconnect();
}

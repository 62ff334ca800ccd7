/**
 * The per-codec table (issue 6): the tick table's COPY text (a sample held in memory)
 * through the project's own write path, `encodeForStorage` (row count -> compress ->
 * SHA-256), into a sink that drops the bytes. One codec at a time in this process, so the
 * figure is per core (zstd-napi and zlib run their work on the libuv thread pool; one
 * stream keeps one thread busy).
 */
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CompressionSpec, encodeForStorage, gzipImplementation } from '@bk/core';
import { findExecutable } from '../../packages/test-utils/src/processes.ts';
import { runTool } from './pgtools.ts';

export interface CodecResult {
  codec: string;
  level: number;
  /** Which library did the work (gzip: libdeflate or Node's zlib). */
  impl: string;
  inputBytes: number;
  outputBytes: number;
  seconds: number;
  /** CPU seconds of this process during the run (all threads). */
  cpu: number;
  mbPerS: number;
  /** Input MB per CPU-second of this process (all threads). */
  mbPerCpuS: number;
  ratio: number;
  /** MB/s of every run (the figures above are the median run's). */
  samplesMbPerS?: number[];
  /**
   * The command-line tool (`zstd -T1`, `gzip`) on the same bytes from a file to /dev/null:
   * MB per CPU-second of the bare library, to tell the library's cost from the pipeline's.
   */
  cli?: { command: string; mbPerCpuS: number; ratio: number };
}

type CodecRun = CompressionSpec & { gzipWith?: 'zlib' };

/** gzip twice: through libdeflate (what backups use when its addon is built) and through zlib. */
export const CODECS: CodecRun[] = [
  { codec: 'zstd', level: 1 },
  { codec: 'zstd', level: 3 },
  { codec: 'zstd', level: 6 },
  { codec: 'gzip', level: 1 },
  { codec: 'gzip', level: 6 },
  { codec: 'gzip', level: 1, gzipWith: 'zlib' },
  { codec: 'gzip', level: 6, gzipWith: 'zlib' },
  { codec: 'none', level: 0 },
];

function implOf(spec: CodecRun): string {
  if (spec.codec === 'zstd') return 'zstd-napi';
  if (spec.codec === 'none') return '-';
  return spec.gzipWith === 'zlib' ? 'node zlib' : gzipImplementation();
}

/** Re-slices the sample into 64 KiB chunks, as pg-copy-streams delivers them roughly. */
function chunks(sample: Buffer[]): Buffer[] {
  const all = Buffer.concat(sample);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) out.push(all.subarray(i, i + 65536));
  return out;
}

/**
 * Each codec `runs` times; the figures are the median run's (by wall time). On a shared
 * machine MB per CPU-second is the steadier figure: it does not count the time the thread
 * waited for a core.
 */
export async function codecTable(sample: Buffer[], log: (s: string) => void, runs = 3): Promise<CodecResult[]> {
  const input = chunks(sample);
  const results: CodecResult[] = [];
  for (const spec of CODECS) {
    const all: CodecResult[] = [];
    for (let i = 0; i < runs; i++) all.push(await codecRun(spec, input));
    all.sort((a, b) => a.seconds - b.seconds);
    const r = { ...all[all.length >> 1]!, samplesMbPerS: all.map((x) => x.mbPerS) };
    log(`  ${r.codec} ${r.level} (${r.impl}): ${r.mbPerS} MB/s (runs ${r.samplesMbPerS.join(', ')}), ${r.mbPerCpuS} MB per CPU-s, ratio ${r.ratio}`);
    results.push(r);
  }
  await cliReference(input, results, log);
  return results;
}

async function cliReference(input: Buffer[], results: CodecResult[], log: (s: string) => void): Promise<void> {
  const file = join(tmpdir(), `bk-bench-codec-sample-${process.pid}.txt`);
  const inputBytes = input.reduce((a, b) => a + b.length, 0);
  try {
    await writeFile(file, input);
    for (const r of results) {
      if (r.impl === 'node zlib') continue; // the CLI row is given once per level
      const bin = r.codec === 'zstd' ? findExecutable('zstd') : r.codec === 'gzip' ? findExecutable('gzip') : undefined;
      if (!bin) continue;
      const args = r.codec === 'zstd' ? [`-${r.level}`, '-T1', '-q', '-c', file] : [`-${r.level}`, '-c', file];
      // Through `sh -c` for the size of the output: `| wc -c` counts it without storing it.
      const out = await runTool('bash', ['-c', `"${bin}" ${args.map((a) => `'${a}'`).join(' ')} | wc -c >&2`]);
      const outBytes = Number(/(\d+)\s*$/.exec(out.stderr)?.[1] ?? 0);
      r.cli = {
        command: `${r.codec} ${args.slice(0, -2).join(' ')}`,
        mbPerCpuS: round(inputBytes / 1e6 / Math.max(0.001, out.cpu), 1),
        ratio: round(inputBytes / Math.max(1, outBytes), 3),
      };
      log(`  CLI ${r.cli.command}: ${r.cli.mbPerCpuS} MB per CPU-s, ratio ${r.cli.ratio}`);
    }
  } finally {
    await rm(file, { force: true });
  }
}

async function codecRun(spec: CodecRun, input: Buffer[]): Promise<CodecResult> {
  const inputBytes = input.reduce((a, b) => a + b.length, 0);
  let outputBytes = 0;
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _e, done) {
      outputBytes += chunk.length;
      done();
    },
  });
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const enc = encodeForStorage(Readable.from(input, { objectMode: false }), {
    compression: { codec: spec.codec, level: spec.level },
    ...(spec.gzipWith ? { gzipWith: spec.gzipWith } : {}),
  });
  await pipeline(enc.stream, sink);
  const seconds = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  const cpu = (u.user + u.system) / 1e6;
  const stats = enc.stats();
  if (stats.rawBytes !== inputBytes) throw new Error(`codec ${spec.codec}: read ${stats.rawBytes} of ${inputBytes} bytes`);
  return {
    codec: spec.codec,
    level: spec.level,
    impl: implOf(spec),
    inputBytes,
    outputBytes,
    seconds: round(seconds, 3),
    cpu: round(cpu, 2),
    mbPerS: round(inputBytes / 1e6 / seconds, 1),
    mbPerCpuS: round(inputBytes / 1e6 / Math.max(0.001, cpu), 1),
    ratio: round(inputBytes / outputBytes, 3),
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

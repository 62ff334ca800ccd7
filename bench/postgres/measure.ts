/**
 * One timed phase: wall seconds, CPU seconds per process group (server, each worker,
 * Swift, Redis, this process, the pg tool, everything else on the machine), WAL written,
 * load average at both ends, and each worker's peak RSS.
 */
import { type CpuDelta, Sampler, cpuDelta, cpuSnapshot, load, statusMiB } from './proc.ts';
import { type Services, waitForQuietServer, walBytesSince, walLsn } from './services.ts';

export interface Phase {
  label: string;
  seconds: number;
  cpu: CpuDelta;
  /** CPU use over the phase in cores (2 = both cores busy all the time). */
  cores: { total: number; server: number; workers: number; tool: number; swift: number; other: number };
  walBytes: number;
  load: { start: [number, number, number]; end: [number, number, number] };
  /** VmRSS per worker when the phase started, MiB. */
  startRssMiB: Record<string, number>;
  /** VmHWM (peak RSS) per worker at the end of the phase, MiB (reset at its start). */
  peakRssMiB: Record<string, number>;
  /** Highest VmRSS seen by the 200 ms sampler, MiB. */
  maxSampledRssMiB: Record<string, number>;
  /** Anonymous (heap, buffers) vs file-backed (code, mapped modules) RSS at that sample, MiB. */
  rssSplitAtMaxMiB: Record<string, { anon: number; file: number }>;
  timeline: { t: number; cores: Record<string, number>; serverBy?: Record<string, number> }[];
  /** Server CPU-s by backend activity (COPY, CREATE INDEX, autovacuum worker...): proc.ts ServerProfiler. */
  serverByActivity: Record<string, number>;
}

export interface MeasureOptions {
  svc: Services;
  /** Worker processes to account separately (label -> pid). */
  workers?: Record<string, number>;
  /** Called just before the phase starts (e.g. reset peak RSS). */
  before?: () => void;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Runs `fn` as a phase. `toolCpu` extracts the CPU seconds of an external tool from its
 * result (pg_dump / pg_restore report theirs through `times`).
 */
export async function measure<T>(
  label: string,
  opts: MeasureOptions,
  fn: () => Promise<T>,
  toolCpu?: (r: T) => number,
): Promise<{ result: T; phase: Phase }> {
  const groups = { ...opts.svc.groups, workers: opts.workers ?? {} };
  // Autovacuum of the previous phase's restored database must not be timed as this phase.
  const waited = await waitForQuietServer(opts.svc);
  if (waited > 3) console.log(`[quiet] waited ${waited.toFixed(1)} s for autovacuum to finish before "${label}"`);
  opts.before?.();
  const startRssMiB: Record<string, number> = {};
  for (const [k, pid] of Object.entries(groups.workers)) startRssMiB[k] = Math.round(statusMiB(pid, 'VmRSS') ?? 0);
  const lsn = await walLsn(opts.svc);
  const loadStart = load();
  const sampler = new Sampler(groups).start();
  const a = cpuSnapshot(groups);
  const t0 = performance.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    sampler.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const b = cpuSnapshot(groups);
  const peakRssMiB: Record<string, number> = {};
  for (const [k, pid] of Object.entries(groups.workers)) {
    const v = statusMiB(pid, 'VmHWM');
    if (v !== undefined) peakRssMiB[k] = Math.round(v);
  }
  const tool = toolCpu ? toolCpu(result) : 0;
  const cpu = cpuDelta(a, b, tool);
  const per = (x: number) => r2(x / seconds);
  return {
    result,
    phase: {
      label,
      seconds: r2(seconds),
      cpu,
      cores: {
        total: per(cpu.machineBusy),
        server: per(cpu.server),
        workers: per(cpu.workersTotal),
        tool: per(cpu.tool),
        swift: per(cpu.swift),
        other: per(cpu.other),
      },
      walBytes: await walBytesSince(opts.svc, lsn),
      startRssMiB,
      load: { start: loadStart, end: load() },
      peakRssMiB,
      maxSampledRssMiB: Object.fromEntries(Object.entries(sampler.maxRss).map(([k, v]) => [k, Math.round(v)])),
      rssSplitAtMaxMiB: sampler.atMax,
      timeline: sampler.timeline,
      serverByActivity: Object.fromEntries(Object.entries(sampler.server.seconds).map(([k, v]) => [k, r2(v)])),
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One timed phase of the PITR benchmark: wall seconds; CPU seconds of the source server,
 * the catalog server, each worker process (its tree: the recovery cluster a restore starts
 * and the pg_basebackup a base backup runs are its children), Redis, Swift, this process,
 * the reference tools this process ran (pg_basebackup, tar, the manual recovery cluster,
 * pg_dump, pg_restore: everything else under this process), and everything else on the
 * machine ("other": other people's work); each worker's peak RSS (VmHWM, reset at the
 * start) and the highest VmRSS sampled every 200 ms; WAL written on the source.
 */
import { load, machineCpu, resetPeakRss, scanProcesses, statusMiB, treeCpu } from '../postgres/proc.ts';
import { currentLsn, walBytesSince } from './services.ts';

export interface Groups {
  source: number;
  catalog: number;
  redis: number[];
  swift: number[];
  /** Worker processes, label -> pid. */
  workers: Record<string, number>;
  /** Other long-lived processes accounted on their own (pg_receivewal), label -> pid. */
  extra: Record<string, number>;
}

interface Snap {
  source: number;
  catalog: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  extra: Record<string, number>;
  /** This process alone (the API in-process, the load generators, the poller). */
  bench: number;
  /** This process and every descendant, live or reaped. */
  tree: number;
  /** Of the groups above, the part under this process (subtracted from `tree`). */
  groupsUnderMe: number;
  busy: number;
}

function snap(g: Groups): Snap {
  const procs = scanProcesses();
  const idx = new Map<number, number[]>();
  for (const p of procs.values()) idx.set(p.ppid, [...(idx.get(p.ppid) ?? []), p.pid]);
  const tree = (pid: number) => treeCpu(procs, pid, idx);
  const mine = (pid: number) => {
    for (let p = procs.get(pid); p; p = procs.get(p.ppid)) if (p.ppid === process.pid) return true;
    return false;
  };
  let under = 0;
  const acc = (pid: number) => {
    const c = tree(pid);
    if (mine(pid)) under += c;
    return c;
  };
  const u = process.cpuUsage();
  return {
    source: acc(g.source),
    catalog: acc(g.catalog),
    redis: g.redis.reduce((a, p) => a + acc(p), 0),
    swift: g.swift.reduce((a, p) => a + acc(p), 0),
    workers: Object.fromEntries(Object.entries(g.workers).map(([k, p]) => [k, acc(p)])),
    extra: Object.fromEntries(Object.entries(g.extra).map(([k, p]) => [k, acc(p)])),
    bench: (u.user + u.system) / 1e6,
    tree: tree(process.pid),
    groupsUnderMe: under,
    busy: machineCpu().busy,
  };
}

const r2 = (x: number) => Math.round(x * 100) / 100;

export interface Cpu {
  source: number;
  catalog: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  workersTotal: number;
  extra: Record<string, number>;
  bench: number;
  /** Reference tools run by this process during the phase (and their children). */
  tools: number;
  machineBusy: number;
  /** Busy CPU not accounted above: other people's work on this shared machine, the kernel. */
  other: number;
}

function delta(a: Snap, b: Snap): Cpu {
  const diff = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(Object.keys(y).map((k) => [k, r2((y[k] ?? 0) - (x[k] ?? 0))]));
  const workers = diff(a.workers, b.workers);
  const extra = diff(a.extra, b.extra);
  const workersTotal = r2(Object.values(workers).reduce((x, y) => x + y, 0));
  const extraTotal = Object.values(extra).reduce((x, y) => x + y, 0);
  const bench = r2(b.bench - a.bench);
  const tools = r2(Math.max(0, b.tree - a.tree - (b.groupsUnderMe - a.groupsUnderMe) - bench));
  const c = {
    source: r2(b.source - a.source),
    catalog: r2(b.catalog - a.catalog),
    redis: r2(b.redis - a.redis),
    swift: r2(b.swift - a.swift),
  };
  const machineBusy = r2(b.busy - a.busy);
  const accounted = c.source + c.catalog + c.redis + c.swift + workersTotal + extraTotal + bench + tools;
  return { ...c, workers, workersTotal, extra, bench, tools, machineBusy, other: r2(Math.max(0, machineBusy - accounted)) };
}

export interface Phase {
  label: string;
  seconds: number;
  cpu: Cpu;
  /** VmHWM per worker at the end (reset at the start), MiB. */
  peakRssMiB: Record<string, number>;
  /** Highest VmRSS sampled every 200 ms, MiB. */
  maxSampledRssMiB: Record<string, number>;
  /** VmRSS per worker when the phase started, MiB. */
  startRssMiB: Record<string, number>;
  /** WAL written on the source during the phase. */
  walBytes: number;
  load: { start: [number, number, number]; end: [number, number, number] };
}

/** Runs `fn` as a phase (see the file comment); `groups` names the processes to account. */
export async function measure<T>(
  label: string,
  sourceUrl: string,
  groups: Groups,
  fn: () => Promise<T>,
): Promise<{ result: T; phase: Phase }> {
  const startRssMiB: Record<string, number> = {};
  for (const [k, pid] of Object.entries(groups.workers)) {
    resetPeakRss(pid);
    startRssMiB[k] = Math.round(statusMiB(pid, 'VmRSS') ?? 0);
  }
  const maxRss: Record<string, number> = {};
  const sample = () => {
    for (const [k, pid] of Object.entries(groups.workers)) {
      const v = statusMiB(pid, 'VmRSS');
      if (v !== undefined && v > (maxRss[k] ?? 0)) maxRss[k] = v;
    }
  };
  const timer = setInterval(sample, 200);
  timer.unref();
  const lsn = await currentLsn(sourceUrl);
  const loadStart = load();
  const a = snap(groups);
  const t0 = performance.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  sample();
  const b = snap(groups);
  const peakRssMiB: Record<string, number> = {};
  for (const [k, pid] of Object.entries(groups.workers)) {
    const v = statusMiB(pid, 'VmHWM');
    if (v !== undefined) peakRssMiB[k] = Math.round(v);
  }
  return {
    result,
    phase: {
      label,
      seconds: r2(seconds),
      cpu: delta(a, b),
      peakRssMiB,
      maxSampledRssMiB: Object.fromEntries(Object.entries(maxRss).map(([k, v]) => [k, Math.round(v)])),
      startRssMiB,
      walBytes: await walBytesSince(sourceUrl, lsn),
      load: { start: loadStart, end: load() },
    },
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

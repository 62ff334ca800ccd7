/**
 * One timed phase of the TDengine benchmark: wall seconds; CPU seconds of the TDengine test
 * server, each worker process, the catalog PostgreSQL, Redis, Swift, this process and
 * everything else on the machine; each worker's peak RSS (VmHWM, reset at the start) and the
 * highest VmRSS sampled every 200 ms (the test server's too); a timeline of cores in use.
 */
import { readFileSync } from 'node:fs';
import { load, machineCpu, resetPeakRss, scanProcesses, statusMiB, treeCpu } from '../postgres/proc.ts';

/** CPU seconds of a process's main thread (its JavaScript thread, for Node): /proc/<pid>/task/<pid>/stat. */
function mainThreadCpu(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

export interface Groups {
  td: number;
  postmaster: number;
  redis: number[];
  swift: number[];
  /** label -> pid */
  workers: Record<string, number>;
}

interface Snap {
  at: number;
  td: number;
  tdMain: number;
  pg: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  bench: number;
  busy: number;
}

function snap(g: Groups): Snap {
  const procs = scanProcesses();
  const idx = new Map<number, number[]>();
  for (const p of procs.values()) idx.set(p.ppid, [...(idx.get(p.ppid) ?? []), p.pid]);
  const tree = (pid: number) => treeCpu(procs, pid, idx);
  const u = process.cpuUsage();
  return {
    at: performance.now(),
    td: tree(g.td),
    tdMain: mainThreadCpu(g.td),
    pg: tree(g.postmaster),
    redis: g.redis.reduce((a, p) => a + tree(p), 0),
    swift: g.swift.reduce((a, p) => a + tree(p), 0),
    workers: Object.fromEntries(Object.entries(g.workers).map(([k, p]) => [k, tree(p)])),
    bench: (u.user + u.system) / 1e6,
    busy: machineCpu().busy,
  };
}

const r2 = (x: number) => Math.round(x * 100) / 100;

export interface Cpu {
  td: number;
  /** The test server's JavaScript thread alone: near 1 core per second means it is saturated. */
  tdMain: number;
  pg: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  workersTotal: number;
  bench: number;
  machineBusy: number;
  /** Busy CPU of everything not listed: other people's work on this shared machine. */
  other: number;
}

function delta(a: Snap, b: Snap): Cpu {
  const workers = Object.fromEntries(Object.keys(b.workers).map((k) => [k, r2((b.workers[k] ?? 0) - (a.workers[k] ?? 0))]));
  const workersTotal = r2(Object.values(workers).reduce((x, y) => x + y, 0));
  const d = {
    td: r2(b.td - a.td),
    tdMain: r2(b.tdMain - a.tdMain),
    pg: r2(b.pg - a.pg),
    redis: r2(b.redis - a.redis),
    swift: r2(b.swift - a.swift),
    bench: r2(b.bench - a.bench),
  };
  const machineBusy = r2(b.busy - a.busy);
  const other = r2(Math.max(0, machineBusy - d.td - d.pg - d.redis - d.swift - d.bench - workersTotal));
  return { ...d, workers, workersTotal, machineBusy, other };
}

export interface Phase {
  label: string;
  seconds: number;
  cpu: Cpu;
  /** Average cores busy over the phase per group. */
  cores: { td: number; tdMain: number; workers: number; pg: number; bench: number; other: number; machine: number };
  load: { start: number[]; end: number[] };
  /** VmHWM per worker at the end (reset at the start), MiB. */
  peakRssMiB: Record<string, number>;
  /** Highest VmRSS sampled, MiB (workers and "td", the test server). */
  maxSampledRssMiB: Record<string, number>;
  startRssMiB: Record<string, number>;
  /** Cores in use each second: td server, workers, machine. */
  timeline: { t: number; td: number; tdMain: number; workers: number; machine: number }[];
}

export async function measure<T>(label: string, g: Groups, fn: () => Promise<T>): Promise<{ result: T; phase: Phase }> {
  for (const pid of Object.values(g.workers)) resetPeakRss(pid);
  const watched: Record<string, number> = { ...g.workers, td: g.td };
  const startRssMiB = Object.fromEntries(Object.entries(watched).map(([k, p]) => [k, Math.round(statusMiB(p, 'VmRSS') ?? 0)]));
  const maxRss: Record<string, number> = {};
  const timeline: Phase['timeline'] = [];
  const loadStart = load();
  const a = snap(g);
  let last = a;
  let ticks = 0;
  const timer = setInterval(() => {
    for (const [k, p] of Object.entries(watched)) {
      const v = statusMiB(p, 'VmRSS');
      if (v !== undefined && v > (maxRss[k] ?? 0)) maxRss[k] = v;
    }
    if (++ticks % 5) return;
    const now = snap(g);
    const secs = (now.at - last.at) / 1000;
    const d = delta(last, now);
    timeline.push({
      t: r2((now.at - a.at) / 1000),
      td: r2(d.td / secs),
      tdMain: r2(d.tdMain / secs),
      workers: r2(d.workersTotal / secs),
      machine: r2(d.machineBusy / secs),
    });
    last = now;
  }, 200);
  const t0 = performance.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = delta(a, snap(g));
  const peakRssMiB: Record<string, number> = {};
  for (const [k, p] of Object.entries(g.workers)) {
    const v = statusMiB(p, 'VmHWM');
    if (v !== undefined) peakRssMiB[k] = Math.round(v);
  }
  const per = (x: number) => r2(x / seconds);
  return {
    result,
    phase: {
      label,
      seconds: r2(seconds),
      cpu,
      cores: {
        td: per(cpu.td),
        tdMain: per(cpu.tdMain),
        workers: per(cpu.workersTotal),
        pg: per(cpu.pg),
        bench: per(cpu.bench),
        other: per(cpu.other),
        machine: per(cpu.machineBusy),
      },
      load: { start: loadStart, end: load() },
      peakRssMiB,
      maxSampledRssMiB: Object.fromEntries(Object.entries(maxRss).map(([k, v]) => [k, Math.round(v)])),
      startRssMiB,
      timeline,
    },
  };
}

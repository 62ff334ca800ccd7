/**
 * Linux /proc readers for the benchmark: CPU seconds of process trees, machine-wide busy
 * time, RSS of worker processes, load average.
 *
 * CPU of a process tree = for every live process in it: utime + stime (its own threads)
 * + cutime + cstime (its children that exited and were waited for). A PostgreSQL backend
 * that ends is reaped by the postmaster, so its CPU moves into the postmaster's cutime and
 * stays counted; the difference of two snapshots is the tree's CPU over that interval.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux we run on. */
const HZ = 100;

interface ProcInfo {
  pid: number;
  ppid: number;
  /** Own + reaped children's CPU, seconds. */
  cpu: number;
}

function parseStat(text: string, pid: number): ProcInfo | undefined {
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] = state (field 3), f[1] = ppid (4), f[11..14] = utime stime cutime cstime (14..17)
  const ppid = Number(f[1]);
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  if (!Number.isFinite(ppid) || !Number.isFinite(ticks)) return undefined;
  return { pid, ppid, cpu: ticks / HZ };
}

/** Every process visible now. */
export function scanProcesses(): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const info = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'), pid);
      if (info) out.set(pid, info);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function childrenIndex(procs: Map<number, ProcInfo>): Map<number, number[]> {
  const idx = new Map<number, number[]>();
  for (const p of procs.values()) {
    const list = idx.get(p.ppid) ?? [];
    list.push(p.pid);
    idx.set(p.ppid, list);
  }
  return idx;
}

/** CPU seconds of `root` and its live descendants (see the file comment). */
export function treeCpu(procs: Map<number, ProcInfo>, root: number, idx = childrenIndex(procs)): number {
  const self = procs.get(root);
  if (!self) return 0;
  let total = self.cpu;
  for (const c of idx.get(root) ?? []) total += treeCpu(procs, c, idx);
  return total;
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Direct children of `pid`. */
export function childrenOf(pid: number, procs = scanProcesses()): number[] {
  return [...procs.values()].filter((p) => p.ppid === pid).map((p) => p.pid);
}

/** Machine-wide CPU seconds: busy (everything but idle and iowait) and total. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / HZ, total: total / HZ };
}

/** A field of /proc/<pid>/status in MiB (VmRSS, VmHWM), or undefined once the process is gone. */
export function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the peak RSS (VmHWM) of a process we own (Linux >= 4.0: `5 > clear_refs`). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export const load = (): [number, number, number] => loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number];

/** The process groups the benchmark accounts CPU to. */
export interface Groups {
  /** The postmaster: every server process is its descendant. */
  server: number;
  redis: number[];
  /** Swift servers and memcached. */
  swift: number[];
  /** Our worker processes by label. */
  workers: Record<string, number>;
}

export interface CpuSnapshot {
  at: number;
  server: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  /** This process (the API in-process, the sampler, the bench driver). */
  bench: number;
  machineBusy: number;
  machineTotal: number;
}

export function cpuSnapshot(groups: Groups): CpuSnapshot {
  const procs = scanProcesses();
  const idx = childrenIndex(procs);
  const sum = (pids: number[]) => pids.reduce((a, p) => a + treeCpu(procs, p, idx), 0);
  const u = process.cpuUsage();
  const m = machineCpu();
  return {
    at: performance.now(),
    server: treeCpu(procs, groups.server, idx),
    redis: sum(groups.redis),
    swift: sum(groups.swift),
    workers: Object.fromEntries(Object.entries(groups.workers).map(([k, pid]) => [k, treeCpu(procs, pid, idx)])),
    bench: (u.user + u.system) / 1e6,
    machineBusy: m.busy,
    machineTotal: m.total,
  };
}

export interface CpuDelta {
  server: number;
  redis: number;
  swift: number;
  workers: Record<string, number>;
  workersTotal: number;
  bench: number;
  /** pg_dump / pg_restore themselves (from the shell's `times`), when a tool ran. */
  tool: number;
  machineBusy: number;
  /** Busy CPU not accounted to any group above: other engineers' tests, the kernel... */
  other: number;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot, tool = 0): CpuDelta {
  const workers = Object.fromEntries(Object.keys(b.workers).map((k) => [k, r2((b.workers[k] ?? 0) - (a.workers[k] ?? 0))]));
  const workersTotal = Object.values(workers).reduce((x, y) => x + y, 0);
  const d = {
    server: r2(b.server - a.server),
    redis: r2(b.redis - a.redis),
    swift: r2(b.swift - a.swift),
    bench: r2(b.bench - a.bench),
    machineBusy: r2(b.machineBusy - a.machineBusy),
  };
  const accounted = d.server + d.redis + d.swift + d.bench + workersTotal + tool;
  return { ...d, workers, workersTotal: r2(workersTotal), tool: r2(tool), other: r2(Math.max(0, d.machineBusy - accounted)) };
}

/**
 * Samples VmRSS of the watched processes every `rssMs` and CPU of the groups every
 * `cpuEvery` RSS ticks (a timeline of CPU use per group, in cores).
 */
export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private last: CpuSnapshot | undefined;
  readonly maxRss: Record<string, number> = {};
  /** RssAnon / RssFile (MiB) at the moment of each process's highest VmRSS sample. */
  readonly atMax: Record<string, { anon: number; file: number }> = {};
  readonly timeline: { t: number; cores: Record<string, number>; serverBy?: Record<string, number> }[] = [];
  private lastServerBy: Record<string, number> = {};
  private readonly t0 = performance.now();
  /** Server CPU by backend activity over the sampled interval (ServerProfiler). */
  readonly server: ServerProfiler;

  constructor(
    private readonly groups: Groups,
    private readonly rssMs = 200,
    private readonly cpuEvery = 5,
  ) {
    this.server = new ServerProfiler(groups.server);
  }

  start(): this {
    this.last = cpuSnapshot(this.groups);
    this.server.sample();
    this.timer = setInterval(() => this.tick(), this.rssMs);
    this.timer.unref();
    return this;
  }

  private tick(): void {
    this.server.sample();
    for (const [label, pid] of Object.entries(this.groups.workers)) {
      const rss = statusMiB(pid, 'VmRSS');
      if (rss !== undefined && rss > (this.maxRss[label] ?? 0)) {
        this.maxRss[label] = rss;
        this.atMax[label] = { anon: Math.round(statusMiB(pid, 'RssAnon') ?? 0), file: Math.round(statusMiB(pid, 'RssFile') ?? 0) };
      }
    }
    if (++this.ticks % this.cpuEvery !== 0 || !this.last) return;
    const now = cpuSnapshot(this.groups);
    const secs = (now.at - this.last.at) / 1000;
    const d = cpuDelta(this.last, now);
    const cores: Record<string, number> = {
      server: r2(d.server / secs),
      workers: r2(d.workersTotal / secs),
      swift: r2(d.swift / secs),
      redis: r2(d.redis / secs),
      bench: r2(d.bench / secs),
      machine: r2(d.machineBusy / secs),
    };
    // Server cores by backend activity over the same interval.
    const serverBy: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.server.seconds)) {
      const c = r2((v - (this.lastServerBy[k] ?? 0)) / secs);
      if (c > 0) serverBy[k] = c;
    }
    this.lastServerBy = { ...this.server.seconds };
    this.timeline.push({ t: r2((now.at - this.t0) / 1000), cores, serverBy });
    this.last = now;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.tick();
  }
}

/**
 * Where the server's CPU goes, by what each backend is doing: every sample reads each
 * server process's CPU and process title (PostgreSQL keeps `postgres: user db host(port)
 * COMMAND` up to date, update_process_title), and adds the CPU it used since the last
 * sample to the activity its title shows now (COPY, CREATE INDEX, ALTER TABLE, SELECT,
 * idle...). Parallel workers count under their leader's activity; autovacuum, the
 * checkpointer, the background and WAL writers under their own names. What a backend used
 * after its last sample, before it exited, is not attributed (it shows as the difference
 * to the server's total).
 */
export class ServerProfiler {
  /** CPU seconds of each server process at the last sample. */
  private last = new Map<number, number>();
  private started = false;
  readonly seconds: Record<string, number> = {};

  constructor(private readonly postmaster: number) {}

  sample(): void {
    const now = new Map<number, { cpu: number; title: string }>();
    for (const pid of serverChildren(this.postmaster)) {
      try {
        const info = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'), pid);
        if (info) now.set(pid, { cpu: info.cpu, title: cmdline(pid) });
      } catch {
        // exited meanwhile
      }
    }
    const titles = new Map([...now].map(([pid, p]) => [pid, p.title] as const));
    for (const [pid, { cpu, title }] of now) {
      const before = this.last.get(pid);
      // A process first seen now started after the last sample (backends start in a few
      // ms): all its CPU is new, except at the first sample, which only sets the baseline.
      const used = before === undefined ? (this.started ? cpu : 0) : cpu - before;
      if (used <= 0) continue;
      const activity = serverActivity(title, titles);
      this.seconds[activity] = (this.seconds[activity] ?? 0) + used;
    }
    this.last = new Map([...now].map(([pid, p]) => [pid, p.cpu] as const));
    this.started = true;
  }
}

/** The postmaster's children: /proc/<pid>/task/<pid>/children (Linux 4.2+), else a scan of /proc. */
function serverChildren(postmaster: number): number[] {
  try {
    return readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return childrenOf(postmaster);
  }
}

/** The activity a server process title shows (see ServerProfiler). */
export function serverActivity(title: string, titles: ReadonlyMap<number, string>): string {
  const leader = /^postgres: parallel worker for PID (\d+)/.exec(title);
  if (leader) {
    const t = titles.get(Number(leader[1]));
    return t && !t.includes('parallel worker') ? serverActivity(t, titles) : 'parallel worker';
  }
  const bg = /^postgres: (checkpointer|background writer|walwriter|autovacuum launcher|autovacuum worker|logical replication launcher)/.exec(
    title,
  );
  if (bg) return bg[1]!;
  // postgres: <user> <db> <host>(<port>) <command words> [waiting]
  const m = /^postgres: \S+ \S+ \S+ (.*)$/.exec(title.trim());
  if (!m) return 'other';
  const cmd = m[1]!.replace(/ waiting$/, '');
  if (cmd.startsWith('idle')) return cmd;
  const words = cmd.split(' ');
  const two = `${words[0]} ${words[1] ?? ''}`.trim();
  return ['CREATE INDEX', 'ALTER TABLE', 'CREATE TABLE', 'DROP DATABASE', 'CREATE DATABASE'].includes(two) ? two : (words[0] ?? 'other');
}

/**
 * Our platform against the TDengine test server: the API in-process (app.inject, as
 * bench/postgres does) on its own catalog database, Redis prefix and storage (a directory,
 * or an S3 bucket on Swift with --s3), and N worker processes started like
 * `npm run start:worker`, each consuming every queue (coordinate, export, restore, finalize,
 * maintenance) with the configured per-queue concurrency. The source is named `bench`, so the
 * PostgreSQL benchmark's runBackup / runRestore / deleteBackupObjects drive it unchanged.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@bk/core';
import { onCleanup } from '../postgres/cleanup.ts';
import { SOURCE, type Stack, type WorkerProcess, assembleStack, spawnWorker } from '../postgres/platform.ts';
import { statusMiB } from '../postgres/proc.ts';
import { type Services, createPgDatabase } from './services.ts';

export interface TdStackOptions {
  s3: boolean;
  childTablesPerJob?: number;
  concurrency?: number;
  /** Directory for `node --cpu-prof` profiles of the worker processes. */
  cpuProfDir?: string;
  /** Extra node flags for the worker processes, space-separated (e.g. --trace-gc; output goes to the worker logs). */
  workerNodeOptions?: string;
}

export async function startTdStack(svc: Services, opts: TdStackOptions): Promise<Stack> {
  const kind = opts.s3 ? 's3' : 'file';
  const label = `benchtd_${kind}_${randomBytes(3).toString('hex')}`;
  const stack = await assembleStack({
    kind,
    label,
    catalogUrl: await createPgDatabase(svc, `${label}_catalog`),
    redisUrl: svc.redis.url,
    swift: svc.swift,
    doc: {
      sources: { [SOURCE]: { kind: 'tdengine', url: svc.td.url } },
      ...(opts.childTablesPerJob ? { tdengine: { childTablesPerJob: opts.childTablesPerJob } } : {}),
      ...(opts.concurrency ? { workers: { concurrency: { export: opts.concurrency, restore: opts.concurrency } } } : {}),
    },
  });
  workerNodeArgs.set(stack, [
    ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
    ...(opts.workerNodeOptions ? opts.workerNodeOptions.split(' ').filter(Boolean) : []),
  ]);
  return stack;
}

const workerNodeArgs = new WeakMap<Stack, string[]>();

export interface TdWorkerSet {
  workers: WorkerProcess[];
  /** label (w1, w2...) -> pid */
  pids: Record<string, number>;
  /** VmRSS once started and idle, MiB. */
  idleRssMiB: Record<string, number>;
  stop(): Promise<void>;
}

/** N worker processes, each on every queue; started one after the other (migrations). */
export async function startTdWorkers(stack: Stack, n: number): Promise<TdWorkerSet> {
  const workers: WorkerProcess[] = [];
  const nodeArgs = workerNodeArgs.get(stack) ?? [];
  for (let i = 1; i <= n; i++) workers.push(await spawnWorker(stack, `w${i}`, [...QUEUES], nodeArgs));
  await sleep(1000);
  const set: TdWorkerSet = {
    workers,
    pids: Object.fromEntries(workers.map((w) => [w.label, w.pid])),
    idleRssMiB: Object.fromEntries(workers.map((w) => [w.label, Math.round(statusMiB(w.pid, 'VmRSS') ?? 0)])),
    stop: async () => {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
  onCleanup('td workers', () => set.stop());
  return set;
}

/** Rows and job seconds per worker process, from the finished child jobs (processedBy = host-pid). */
export async function rowsPerWorker(
  stack: Stack,
  queue: 'export' | 'restore',
  prefix: string,
  pids: Record<string, number>,
): Promise<Record<string, { jobs: number; rows: number; jobSeconds: number }>> {
  const byPid = new Map(Object.entries(pids).map(([k, p]) => [String(p), k]));
  const out: Record<string, { jobs: number; rows: number; jobSeconds: number }> = {};
  for (const j of await stack.platform.queues.queues[queue].getJobs(['completed'], 0, -1)) {
    if (!j.id?.startsWith(prefix)) continue;
    const pid = (j.processedBy ?? '').split('-').pop() ?? '';
    const label = byPid.get(pid) ?? (j.processedBy || '?');
    const e = (out[label] ??= { jobs: 0, rows: 0, jobSeconds: 0 });
    e.jobs++;
    e.rows += Number((j.returnvalue as { rows?: number } | undefined)?.rows ?? 0);
    e.jobSeconds += ((j.finishedOn ?? 0) - (j.processedOn ?? 0)) / 1000;
  }
  for (const e of Object.values(out)) e.jobSeconds = Math.round(e.jobSeconds * 10) / 10;
  return out;
}

/**
 * Our platform, assembled as test/support/stack.ts does: the API built in-process (driven
 * with app.inject, never on the critical path) on its own catalog database, Redis prefix
 * and storage (an S3 bucket on Swift, or a directory); the work runs in separate worker
 * processes started like `npm run start:worker` (node --import tsx apps/worker/src/main.ts).
 */
import { randomBytes } from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type App, buildApp } from '@bk/api';
import { type Config, backupPrefix, createLogger, jobIds, loadConfig } from '@bk/core';
import { type Platform, createPlatform } from '@bk/platform';
import { workerSpawnOptions } from '../../apps/worker/src/node-flags.ts';
import { stringify } from 'yaml';
import { onCleanup } from './cleanup.ts';
import { resetPeakRss, statusMiB } from './proc.ts';
import type { SwiftService } from '../../packages/test-utils/src/swift.ts';
import { type Services, createDatabase } from './services.ts';

export type StorageKind = 's3' | 'file';

export interface Stack {
  kind: StorageKind;
  app: App;
  platform: Platform;
  config: Readonly<Config>;
  env: Record<string, string>;
  yaml: string;
  auth: { authorization: string };
  dir: string;
  close(): Promise<void>;
}

export const SOURCE = 'bench';

export interface StackOptions {
  kind: StorageKind;
  sourceUrl: string;
  /** postgres.chunkMiB (default 256, the platform's default). */
  chunkMiB?: number;
  /** Worker concurrency for export and restore jobs per process (default: the config default, 2). */
  concurrency?: number;
}

export async function startStack(svc: Services, opts: StackOptions): Promise<Stack> {
  const label = `bench_${opts.kind}_${randomBytes(3).toString('hex')}`;
  return assembleStack({
    kind: opts.kind,
    label,
    catalogUrl: await createDatabase(svc, `${label}_catalog`),
    redisUrl: svc.redis.url,
    swift: svc.swift,
    doc: {
      postgres: { binDir: svc.postgres.binDir, ...(opts.chunkMiB ? { chunkMiB: opts.chunkMiB } : {}) },
      sources: { [SOURCE]: { kind: 'postgres', url: opts.sourceUrl } },
      ...(opts.concurrency ? { workers: { concurrency: { export: opts.concurrency, restore: opts.concurrency } } } : {}),
    },
  });
}

export interface StackParts {
  kind: StorageKind;
  /** Unique per stack: names the Redis prefix, the bucket and the logger. */
  label: string;
  catalogUrl: string;
  redisUrl: string;
  /** Needed for kind "s3". */
  swift?: SwiftService | undefined;
  /** Configuration beyond the Redis prefix (production defaults everywhere else). */
  doc: Record<string, unknown>;
}

/**
 * The API in-process on its own catalog, Redis prefix and storage (a directory, or a bucket
 * on Swift), with the YAML the worker processes read (BACKUP_CONFIG) written beside it;
 * closed (queues obliterated) by `close()` or at exit. Shared by both benchmarks.
 */
export async function assembleStack(parts: StackParts): Promise<Stack> {
  const { kind, label } = parts;
  const dir = await mkdtemp(join(tmpdir(), `bk-${label.replace(/_/g, '-')}-`));
  onCleanup(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const apiKey = randomBytes(24).toString('hex');
  const env: Record<string, string> = { REDIS_URL: parts.redisUrl, CATALOG_DATABASE_URL: parts.catalogUrl, API_KEYS: apiKey };
  if (kind === 's3') {
    const sw = parts.swift;
    if (!sw) throw new Error('an S3 stack needs the Swift service');
    const bucket = label.replace(/_/g, '-');
    await sw.createBucket(bucket);
    Object.assign(env, {
      STORAGE_URL: `s3://${bucket}/bench`,
      S3_ENDPOINT: sw.endpoint,
      S3_REGION: sw.region,
      S3_ACCESS_KEY_ID: sw.accessKeyId,
      S3_SECRET_ACCESS_KEY: sw.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
  } else {
    env.STORAGE_URL = `file://${join(dir, 'store')}`;
  }
  const yaml = stringify({ redis: { prefix: `{${label}}` }, ...parts.doc });
  const config = loadConfig({ yamlText: yaml, env });
  const log = createLogger({ name: label, level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
  // The file worker processes read (BACKUP_CONFIG); written once, before any of them starts.
  await writeFile(join(dir, 'backup.config.yaml'), yaml);
  const platform = await createPlatform(config, log);
  const app = await buildApp({ platform });
  await app.ready();
  const stack: Stack = {
    kind,
    app,
    platform,
    config,
    env,
    yaml,
    dir,
    auth: { authorization: `Bearer ${apiKey}` },
    async close() {
      await app.close();
      for (const q of Object.values(platform.queues.queues)) await q.obliterate({ force: true }).catch(() => undefined);
      await platform.close();
    },
  };
  onCleanup(`stack ${label}`, () => stack.close());
  return stack;
}

export interface WorkerProcess {
  label: string;
  pid: number;
  queues: string[];
  logPath: string;
  exited: Promise<number | null>;
  /** SIGTERM (graceful), SIGKILL after 30 s. */
  stop(): Promise<void>;
}

/**
 * A worker process joined to the stack, consuming `queues`. Ready once it logged
 * "workers started". `nodeArgs` are extra node flags (--cpu-prof is not allowed in NODE_OPTIONS).
 */
export async function spawnWorker(stack: Stack, label: string, queues: string[], nodeArgs: readonly string[] = []): Promise<WorkerProcess> {
  const configPath = join(stack.dir, 'backup.config.yaml');
  const logPath = join(stack.dir, `worker-${label}-${Date.now()}.log`);
  const out = createWriteStream(logPath);
  const { args, env } = workerSpawnOptions(
    { ...process.env, ...stack.env, BACKUP_CONFIG: configPath, WORKER_QUEUES: queues.join(','), LOG_LEVEL: 'info' },
    nodeArgs,
  );
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const undo = onCleanup(`worker ${label}`, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const log = () => readFile(logPath, 'utf8').catch(() => '');
  const until = Date.now() + 60_000;
  while (!(await log()).includes('workers started')) {
    if (child.exitCode !== null) {
      await sleep(200); // let the log stream flush the worker's last words
      throw new Error(`worker ${label} exited early: ${await log()}`);
    }
    if (Date.now() > until) throw new Error(`worker ${label} did not start: ${await log()}`);
    await sleep(100);
  }
  return {
    label,
    pid: child.pid as number,
    queues,
    logPath,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      undo();
    },
  };
}

export interface WorkerSet {
  workers: WorkerProcess[];
  /** label -> pid, for CPU accounting. */
  pids: Record<string, number>;
  resetPeaks(): void;
  /** VmHWM (peak RSS) of each, read now (before they stop). */
  peaks(): Record<string, number | undefined>;
  /** VmRSS of each once started and idle, MiB: what the process costs before any job. */
  baselineRssMiB: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * The bench layout: two data workers (export + restore queues) and a third, small process
 * for the coordinate and finalize queues (it holds the snapshot while exports run, runs
 * pg_dump --schema-only and, for restores, pg_restore of the pre- and post-data sections).
 */
export async function startWorkerSet(stack: Stack, dataWorkers = 2): Promise<WorkerSet> {
  const specs: [string, string[]][] = [['coord', ['coordinate', 'finalize']]];
  for (let i = 1; i <= dataWorkers; i++) specs.push([`w${i}`, ['export', 'restore']]);
  // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/wprof": profiles of the workers.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const workers = await Promise.all(specs.map(([label, queues]) => spawnWorker(stack, label, queues, nodeArgs)));
  await sleep(1000);
  const baselineRssMiB = Object.fromEntries(workers.map((w) => [w.label, Math.round(statusMiB(w.pid, 'VmRSS') ?? 0)]));
  return {
    baselineRssMiB,
    workers,
    pids: Object.fromEntries(workers.map((w) => [w.label, w.pid])),
    resetPeaks: () => workers.forEach((w) => resetPeakRss(w.pid)),
    peaks: () => Object.fromEntries(workers.map((w) => [w.label, statusMiB(w.pid, 'VmHWM')])),
    stop: async () => {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

export interface BackupView {
  id: string;
  status: string;
  error?: string;
  rows: number;
  bytes: number;
  rawBytes: number;
  manifestKey: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  tables: { name: string; status: string; rows: number | null; bytes: number | null; objects: { key: string; bytes: number | null }[] }[];
}

export interface RestoreView {
  id: string;
  status: string;
  error?: string;
  rows: number;
  durationMs: number | null;
  tables: { name: string; status: string; rows: number | null; expectedRows: number }[];
}

const isFinal = (b: { status: string }) => ['succeeded', 'failed', 'cancelled'].includes(b.status);

async function post(stack: Stack, url: string, payload: Record<string, unknown>): Promise<string> {
  const res = await stack.app.inject({ method: 'POST', url, payload, headers: stack.auth });
  if (res.statusCode !== 202) throw new Error(`POST ${url} answered ${res.statusCode}: ${res.body}`);
  return (res.json() as { id: string }).id;
}

async function waitFinal<T extends { status: string }>(stack: Stack, path: string, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.app.inject({ method: 'GET', url: path, headers: stack.auth });
    const body = res.json() as T;
    if (isFinal(body)) return body;
    if (Date.now() > until) throw new Error(`timed out waiting on ${path}: ${res.body.slice(0, 2000)}`);
    await sleep(100);
  }
}

/** Job timings from BullMQ (ms since epoch) for a breakdown of where the time went. */
export interface JobTimes {
  queuedAt: number;
  coordinator?: { start: number; end: number };
  children: { name: string; start: number; end: number; attempts: number; worker: string }[];
  finalize?: { start: number; end: number };
}

async function jobTimes(
  stack: Stack,
  coordId: string,
  finId: string,
  childPrefixes: readonly string[],
  childQueue: 'export' | 'restore',
): Promise<JobTimes> {
  const q = stack.platform.queues.queues;
  const coord = await q.coordinate.getJob(coordId);
  const fin = await q.finalize.getJob(finId);
  const children: JobTimes['children'] = [];
  for (const j of await q[childQueue].getJobs(['completed', 'failed'], 0, -1)) {
    const id = j.id;
    if (!id || !childPrefixes.some((p) => id.startsWith(p))) continue;
    const d = j.data as { table?: { name: string }; objectKey?: string; chunk?: { index: number; count: number } };
    const name = d.table ? `${d.table.name}${d.chunk ? ` ${d.chunk.index + 1}/${d.chunk.count}` : ''}` : (d.objectKey ?? id);
    // attemptsMade counts finished attempts (this one included); attemptsStarted also counts stalled ones.
    const attempts = Math.max(1, j.attemptsMade, j.attemptsStarted ?? 0);
    children.push({ name, start: j.processedOn ?? 0, end: j.finishedOn ?? 0, attempts, worker: j.processedBy ?? '' });
    if (attempts > 1) {
      // Why: failed attempts leave their error in the stack traces; a stalled one (lock lost) leaves none.
      const reasons = (j.stacktrace ?? []).map((t) => t.split('\n')[0]).join(' | ') || 'no error recorded (stalled or delayed)';
      console.log(`  [retry] ${name}: attemptsMade ${j.attemptsMade}, attemptsStarted ${j.attemptsStarted ?? '?'}: ${reasons}`);
    }
  }
  children.sort((a, b) => a.start - b.start);
  return {
    queuedAt: coord?.timestamp ?? 0,
    // The coordinator outlives the flow (it polls it once a second): only its start matters.
    ...(coord?.processedOn ? { coordinator: { start: coord.processedOn, end: coord.finishedOn ?? 0 } } : {}),
    children,
    ...(fin?.processedOn && fin.finishedOn ? { finalize: { start: fin.processedOn, end: fin.finishedOn } } : {}),
  };
}

export interface BackupRun {
  id: string;
  seconds: number;
  view: BackupView;
  /** Everything stored under the backup's prefix (data, schema, manifest). */
  storedBytes: number;
  objects: number;
  jobs: JobTimes;
}

export async function runBackup(stack: Stack, body: Record<string, unknown>, timeoutMs = 3_600_000): Promise<BackupRun> {
  const t0 = performance.now();
  const id = await post(stack, '/v1/backups', { source: SOURCE, ...body });
  const view = await waitFinal<BackupView>(stack, `/v1/backups/${id}`, timeoutMs);
  const seconds = (performance.now() - t0) / 1000;
  if (view.status !== 'succeeded') throw new Error(`backup ${id} ${view.status}: ${view.error ?? ''}`);
  let storedBytes = 0;
  let objects = 0;
  for await (const o of stack.platform.store.list(backupPrefix(SOURCE, id))) {
    storedBytes += o.size;
    objects++;
  }
  const jobs = await jobTimes(stack, jobIds.backupCoordinate(id), jobIds.backupFinalize(id), [`exp-${id}-`], 'export');
  return { id, seconds, view, storedBytes, objects, jobs };
}

export interface RestoreRun {
  id: string;
  seconds: number;
  view: RestoreView;
  jobs: JobTimes;
}

export async function runRestore(stack: Stack, body: Record<string, unknown>, timeoutMs = 3_600_000): Promise<RestoreRun> {
  const t0 = performance.now();
  const id = await post(stack, '/v1/restores', body);
  const view = await waitFinal<RestoreView>(stack, `/v1/restores/${id}`, timeoutMs);
  const seconds = (performance.now() - t0) / 1000;
  if (view.status !== 'succeeded') throw new Error(`restore ${id} ${view.status}: ${view.error ?? ''}`);
  const jobs = await jobTimes(stack, jobIds.restoreCoordinate(id), jobIds.restoreFinalize(id), [`load-${id}-`, `idx-${id}-`], 'restore');
  return { id, seconds, view, jobs };
}

/** Deletes a backup's objects from storage (the catalog row stays; the stack is thrown away). */
export async function deleteBackupObjects(stack: Stack, id: string): Promise<void> {
  const keys: string[] = [];
  for await (const o of stack.platform.store.list(backupPrefix(SOURCE, id))) keys.push(o.key);
  for (let i = 0; i < keys.length; i += 500) await stack.platform.store.deleteMany(keys.slice(i, i + 500));
}

/** Seconds from the first job start to the last job end, split in phases (see JobTimes). */
export function breakdown(j: JobTimes, t0Epoch?: number): Record<string, number> {
  const s = (ms: number) => Math.round(ms / 10) / 100;
  const out: Record<string, number> = {};
  const start = t0Epoch ?? j.queuedAt;
  if (j.coordinator) out.queueToCoordinator = s(j.coordinator.start - start);
  const firstChild = Math.min(...j.children.map((c) => c.start));
  const lastChild = Math.max(...j.children.map((c) => c.end));
  if (j.coordinator && j.children.length) out.coordinatorToFirstChild = s(firstChild - j.coordinator.start);
  if (j.children.length) out.children = s(lastChild - firstChild);
  if (j.finalize && j.children.length) {
    out.lastChildToFinalize = s(j.finalize.start - lastChild);
    out.finalize = s(j.finalize.end - j.finalize.start);
  }
  out.retries = j.children.reduce((a, c) => a + Math.max(0, c.attempts - 1), 0);
  out.childJobSeconds = s(j.children.reduce((a, c) => a + (c.end - c.start), 0));
  out.longestChild = s(Math.max(0, ...j.children.map((c) => c.end - c.start)));
  return out;
}

/**
 * `npm run bench:startup`: start-up time and idle memory of the API and the worker, run
 * through tsx (as `npm run start:api` / `start:worker` do) and from the compiled dist/
 * (`npm run start:api:prod` / `start:worker:prod`, the image). Builds dist/ first.
 *
 * Each run spawns one process against a private Redis and catalog PostgreSQL (started here,
 * stopped at the end) and file storage, times it from spawn to its ready log line ("Server
 * listening" / "workers started"), leaves it idle, then reads VmRSS and VmHWM from
 * /proc/<pid>/status of the process and its children (the tsx CLI runs the API in a child
 * process), and stops it with SIGTERM. Variants and processes are interleaved within each
 * round; one unmeasured warm-up round first (migrations, page cache, tsx's transform cache).
 * "tsx, cold cache" gives tsx an empty cache directory (TMPDIR), as a fresh container has.
 *
 *   npm run bench:startup -- [--runs 3] [--idle-seconds 10]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startPostgres, startRedis, stopAllDaemons } from '@bk/local-services';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '@bk/worker';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '10' },
  },
});
const RUNS = Number(opts.runs);
const IDLE_MS = Number(opts['idle-seconds']) * 1000;
const READY_TIMEOUT_MS = 60_000;

type Role = 'api' | 'worker';
type Variant = 'tsx' | 'tsx, cold cache' | 'compiled';
const ROLES: Role[] = ['api', 'worker'];
const VARIANTS: Variant[] = ['tsx', 'tsx, cold cache', 'compiled'];
const READY: Record<Role, string> = { api: 'Server listening', worker: 'workers started' };

/** The command line each npm script runs (package.json), without npm around it. */
function command(role: Role, variant: Variant): string[] {
  if (role === 'api') return variant === 'compiled' ? ['dist/api/main.js'] : [tsxCli, 'apps/api/src/main.ts'];
  return variant === 'compiled'
    ? [...WORKER_NODE_FLAGS, 'dist/worker/main.js']
    : [...WORKER_NODE_FLAGS, '--import', 'tsx', 'apps/worker/src/main.ts'];
}

interface Sample {
  role: Role;
  variant: Variant;
  startupMs: number;
  /** The process that runs the app (KiB): the spawned one, or the tsx CLI's child. */
  appRssKiB: number;
  appHwmKiB: number;
  /** VmRSS summed over the spawned process and all its descendants (KiB). */
  treeRssKiB: number;
  /** What the tree is: `node`, `tsx CLI`, `esbuild` (tsx's transform service). */
  members: string[];
}

function describe(pid: number): string {
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'node') return comm;
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tsx/dist/cli') ? 'tsx CLI' : 'node';
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/** The process and all its descendants (from /proc/<pid>/stat's ppid). */
function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // exited while we looked
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [p, pp] of parent) if (pp === tree[i]) tree.push(p);
  return tree;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function measure(role: Role, variant: Variant, baseEnv: NodeJS.ProcessEnv, scratch: string): Promise<Sample> {
  const env: NodeJS.ProcessEnv = { ...baseEnv, PORT: String(await freePort()) };
  if (role === 'worker') Object.assign(env, WORKER_ENV);
  if (variant === 'tsx, cold cache') {
    env.TMPDIR = await mkdtemp(join(scratch, 'tsx-cold-'));
  }
  let output = '';
  const started = performance.now();
  const child = spawn(process.execPath, command(role, variant), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${role} (${variant}) not ready in ${READY_TIMEOUT_MS} ms:\n${output}`)),
        READY_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(READY[role])) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${role} (${variant}) exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
    await sleep(IDLE_MS);
    const tree = processTree(child.pid as number);
    const members = tree.map(describe);
    const app = tree.filter((_, i) => members[i] === 'node');
    if (app.length !== 1) throw new Error(`${role} (${variant}): expected one app process, found ${members.join(', ')}`);
    const appPid = app[0] as number;
    return {
      role,
      variant,
      startupMs: readyMs,
      appRssKiB: statusKiB(appPid, 'VmRSS'),
      appHwmKiB: statusKiB(appPid, 'VmHWM'),
      treeRssKiB: tree.reduce((sum, p) => sum + statusKiB(p, 'VmRSS'), 0),
      members,
    };
  } finally {
    child.removeAllListeners('exit');
    await stop(child);
    if (env.TMPDIR !== baseEnv.TMPDIR && env.TMPDIR) await rm(env.TMPDIR, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const mib = (kib: number) => (kib / 1024).toFixed(1);

function report(samples: Sample[]): string {
  const lines = [
    `${RUNS} runs each, ${IDLE_MS / 1000} s idle after ready; median / worst. MiB. "app": the process running the app;`,
    '"all": VmRSS summed over it, the tsx CLI parent and the esbuild service tsx starts when it has to transform.',
    '',
    '| process | run as | start-up to ready (ms) | app VmRSS | app VmHWM | all VmRSS | processes seen |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  const pair = (xs: number[], f: (n: number) => string) => `${f(median(xs))} / ${f(Math.max(...xs))}`;
  const ms = (n: number) => n.toFixed(0);
  for (const role of ROLES) {
    for (const variant of VARIANTS) {
      const s = samples.filter((x) => x.role === role && x.variant === variant);
      const seen = [...new Set(s.map((x) => x.members.join(' + ')))].join('; ');
      const cells = [
        role,
        variant,
        pair(
          s.map((x) => x.startupMs),
          ms,
        ),
        pair(
          s.map((x) => x.appRssKiB),
          mib,
        ),
        pair(
          s.map((x) => x.appHwmKiB),
          mib,
        ),
        pair(
          s.map((x) => x.treeRssKiB),
          mib,
        ),
        seen,
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  console.log('building dist/ (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

  const scratch = await mkdtemp(join(tmpdir(), 'bk-bench-startup-'));
  const stopServices = async () => {
    await stopAllDaemons();
    await rm(scratch, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void stopServices().finally(() => process.exit(130));
  });
  try {
    const [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    const catalogUrl = await pg.createDatabase('bk_bench_startup');
    await mkdir(join(scratch, 'storage'));
    const configPath = join(scratch, 'backup.config.yaml');
    await writeFile(configPath, '# no sources: the processes start and idle\n');
    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_URL: redis.url,
      CATALOG_DATABASE_URL: catalogUrl,
      STORAGE_URL: `file://${join(scratch, 'storage')}`,
      API_KEYS: randomBytes(24).toString('hex'),
      BACKUP_CONFIG: configPath,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    };
    // Values from the caller's environment would skew the comparison.
    for (const name of Object.keys(WORKER_ENV)) delete baseEnv[name];

    console.log(
      `warm-up round, then ${RUNS} measured rounds of ${ROLES.length * VARIANTS.length} processes (~${IDLE_MS / 1000 + 2} s each)`,
    );
    for (const role of ROLES) for (const variant of VARIANTS) await measure(role, variant, baseEnv, scratch);
    const samples: Sample[] = [];
    for (let run = 1; run <= RUNS; run++) {
      for (const role of ROLES) {
        for (const variant of VARIANTS) {
          const s = await measure(role, variant, baseEnv, scratch);
          samples.push(s);
          console.log(
            `  round ${run}: ${role.padEnd(6)} ${variant.padEnd(15)} ready in ${s.startupMs.toFixed(0).padStart(5)} ms, app VmRSS ${mib(s.appRssKiB)} MiB (HWM ${mib(s.appHwmKiB)}), all ${mib(s.treeRssKiB)} MiB (${s.members.join(' + ')})`,
          );
        }
      }
    }
    console.log(`\n${report(samples)}`);
  } finally {
    await stopServices();
  }
}

await main();

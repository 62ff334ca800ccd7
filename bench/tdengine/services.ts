/**
 * What the TDengine benchmark runs against, all private to this run: the TDengine REST
 * *test* server in its own child process (one Node process, one core at most, like a real
 * server beside the workers), Redis and PostgreSQL (the catalog) from the project's harness,
 * and Swift (S3) only when asked for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../packages/test-utils/src/ports.ts';
import { type PostgresService, startPostgres } from '../../packages/test-utils/src/postgres.ts';
import { stopAllDaemons } from '../../packages/test-utils/src/processes.ts';
import { type RedisService, startRedis } from '../../packages/test-utils/src/redis.ts';
import { type SwiftService, startSwift } from '../../packages/test-utils/src/swift.ts';
import { onCleanup } from '../postgres/cleanup.ts';
import { childrenOf, cmdline, scanProcesses } from '../postgres/proc.ts';

export interface TdServer {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * `node --import tsx packages/tdengine-test-server/src/main.ts --port N --quiet` (as
 * packages/tdengine/test/bench-throughput.ts starts it), with a larger heap: the run keeps
 * two copies of the dataset in memory at times.
 */
export async function startTdServer(heapMiB: number): Promise<TdServer> {
  const port = await freePort();
  const main = fileURLToPath(new URL('../../packages/tdengine-test-server/src/main.ts', import.meta.url));
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMiB}`, '--import', 'tsx', main, '--port', String(port), '--quiet'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
  };
  onCleanup('tdengine test server', stop);
  const url = `http://root:taosdata@127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the TDengine test server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/rest/sql',
          headers: { Authorization: `Basic ${Buffer.from('root:taosdata').toString('base64')}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
        },
      );
      req.on('error', () => resolve(false));
      req.end('SELECT SERVER_VERSION()');
    });
    if (ok) break;
    if (i > 300) throw new Error('the TDengine test server did not start in 30 s');
    await sleep(100);
  }
  return { url, port, pid: child.pid as number, child, stop };
}

export interface Services {
  td: TdServer;
  redis: RedisService;
  postgres: PostgresService;
  swift?: SwiftService;
  /** pids for CPU accounting. */
  pids: { td: number; postmaster: number; redis: number[]; swift: number[] };
}

export async function startServices(opts: { s3: boolean; tdHeapMiB: number }): Promise<Services> {
  const results = await Promise.allSettled([
    startTdServer(opts.tdHeapMiB),
    startRedis(),
    startPostgres(),
    opts.s3 ? startSwift() : Promise.resolve(undefined),
  ] as const);
  const [td, redis, postgres, swift] = results;
  for (const r of [redis, postgres, swift]) if (r.status === 'fulfilled' && r.value) onCleanup('service', () => r.value!.stop());
  onCleanup('daemons', () => stopAllDaemons());
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
  if (td.status === 'rejected' || redis.status === 'rejected' || postgres.status === 'rejected' || swift.status === 'rejected')
    throw new Error(`services did not start:\n${failed.join('\n')}`);
  const c = new pg.Client({ connectionString: postgres.value.url });
  await c.connect();
  let postmaster: number | undefined;
  try {
    const me = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    postmaster = scanProcesses().get(me)?.ppid;
  } finally {
    await c.end();
  }
  if (!postmaster) throw new Error('cannot find the postmaster process');
  const mine = childrenOf(process.pid);
  return {
    td: td.value,
    redis: redis.value,
    postgres: postgres.value,
    ...(swift.value ? { swift: swift.value } : {}),
    pids: {
      td: td.value.pid,
      postmaster,
      redis: mine.filter((p) => cmdline(p).includes('redis-server')),
      swift: mine.filter((p) => /swift-|memcached/.test(cmdline(p))),
    },
  };
}

export async function createPgDatabase(svc: Services, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: svc.postgres.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await c.end();
  }
  return svc.postgres.urlFor(name);
}

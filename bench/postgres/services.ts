/**
 * Private Redis, PostgreSQL and Swift (S3) from the project's harness, started for this
 * run only. The harness files are imported directly: the test-utils index also loads
 * helpers that import vitest.
 */
import pg from 'pg';
import { type PostgresService, startPostgres } from '../../packages/test-utils/src/postgres.ts';
import { stopAllDaemons } from '../../packages/test-utils/src/processes.ts';
import { type RedisService, startRedis } from '../../packages/test-utils/src/redis.ts';
import { type SwiftService, startSwift } from '../../packages/test-utils/src/swift.ts';
import { onCleanup } from './cleanup.ts';
import { type Groups, childrenOf, cmdline, scanProcesses } from './proc.ts';

export interface Services {
  redis: RedisService;
  postgres: PostgresService;
  swift: SwiftService;
  /** Process ids for CPU accounting (workers are added per run). */
  groups: Omit<Groups, 'workers'>;
  /** `SHOW server_version`, and the settings that matter for the comparison. */
  serverInfo: Record<string, string>;
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

export async function startServices(): Promise<Services> {
  const results = await Promise.allSettled([startRedis(), startPostgres(), startSwift()] as const);
  const [redis, postgres, swift] = results;
  for (const r of results) if (r.status === 'fulfilled') onCleanup('service', () => r.value.stop());
  onCleanup('daemons', () => stopAllDaemons());
  if (redis.status === 'rejected' || postgres.status === 'rejected' || swift.status === 'rejected') {
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
    throw new Error(`services did not start:\n${reasons.join('\n')}`);
  }
  const pgUrl = postgres.value.url;
  // The backend's parent is the postmaster; look while the backend still exists.
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  let procs: ReturnType<typeof scanProcesses>;
  let postmaster: number | undefined;
  try {
    const me = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    procs = scanProcesses();
    postmaster = procs.get(me)?.ppid;
  } finally {
    await c.end();
  }
  if (!postmaster) throw new Error('cannot find the postmaster process');
  const mine = childrenOf(process.pid, procs);
  const groups = {
    server: postmaster,
    redis: mine.filter((p) => cmdline(p).includes('redis-server')),
    swift: mine.filter((p) => /swift-|memcached/.test(cmdline(p))),
  };
  const settings = await query<{ name: string; setting: string }>(
    pgUrl,
    `SELECT name, setting FROM pg_settings WHERE name IN ('server_version','shared_buffers','fsync','synchronous_commit','wal_level','full_page_writes','max_wal_size','maintenance_work_mem','max_parallel_maintenance_workers','max_parallel_workers','work_mem')`,
  );
  return {
    redis: redis.value,
    postgres: postgres.value,
    swift: swift.value,
    groups,
    serverInfo: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
  };
}

export function dbUrl(svc: Services, database: string): string {
  return svc.postgres.urlFor(database);
}

export async function dropDatabase(svc: Services, name: string): Promise<void> {
  await query(svc.postgres.url, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

export async function createDatabase(svc: Services, name: string): Promise<string> {
  await query(svc.postgres.url, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  return dbUrl(svc, name);
}

/** The server's current WAL position, for WAL bytes written during a phase. */
export async function walLsn(svc: Services): Promise<string> {
  const [r] = await query<{ lsn: string }>(svc.postgres.url, 'SELECT pg_current_wal_lsn()::text AS lsn');
  return r!.lsn;
}

export async function walBytesSince(svc: Services, lsn: string): Promise<number> {
  const [r] = await query<{ n: string }>(svc.postgres.url, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS n', [lsn]);
  return Number(r!.n);
}

/**
 * Waits until no autovacuum worker has run for `quietMs` (at most `maxMs`): a restored
 * database is vacuumed and analysed by autovacuum right after the load, and that work would
 * land in the next phase's timing and server CPU. Returns the seconds waited.
 */
export async function waitForQuietServer(svc: Services, quietMs = 2000, maxMs = 180_000): Promise<number> {
  const t0 = performance.now();
  let quietSince = performance.now();
  while (performance.now() - t0 < maxMs) {
    const [r] = await query<{ n: number }>(
      svc.postgres.url,
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
    );
    if ((r?.n ?? 0) > 0) quietSince = performance.now();
    else if (performance.now() - quietSince >= quietMs) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return (performance.now() - t0) / 1000;
}

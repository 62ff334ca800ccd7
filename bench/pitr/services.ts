/**
 * What the PITR benchmark runs against, all private to this run: the **source** PostgreSQL
 * (its own cluster with wal_level = replica, streamed, backed up and restored into), a second
 * PostgreSQL for the platform's **catalog** (on the source the catalog's own writes, one per
 * WAL put and coverage step, would be WAL that the streamer then has to cover: an idle
 * source would never be idle), Redis, and Swift (S3) for the base backups to S3.
 */
import pg from 'pg';
import { type PostgresService, startPostgres } from '../../packages/test-utils/src/postgres.ts';
import { stopAllDaemons } from '../../packages/test-utils/src/processes.ts';
import { type RedisService, startRedis } from '../../packages/test-utils/src/redis.ts';
import { type SwiftService, startSwift } from '../../packages/test-utils/src/swift.ts';
import { onCleanup } from '../postgres/cleanup.ts';
import { childrenOf, cmdline, scanProcesses } from '../postgres/proc.ts';

/**
 * The source's settings over the harness defaults (fsync=off, shared_buffers=128MB...):
 * what PITR needs, and the production defaults where they change WAL volume or commit
 * latency (full_page_writes and synchronous_commit are on in a default PostgreSQL; the
 * harness turns them off). fsync stays off: the disk is shared, and no figure here is about
 * the source's own durability.
 */
export const SOURCE_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'replica',
  max_wal_senders: '10',
  max_replication_slots: '10',
  full_page_writes: 'on',
  synchronous_commit: 'on',
};

export interface Services {
  source: PostgresService;
  catalog: PostgresService;
  redis: RedisService;
  swift: SwiftService;
  pids: { source: number; catalog: number; redis: number[]; swift: number[] };
  /** The source's settings that matter for the figures (from pg_settings). */
  sourceInfo: Record<string, string>;
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** The postmaster of the server `url` points at: the parent of one of its backends. */
async function postmasterOf(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const me = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const pid = scanProcesses().get(me)?.ppid;
    if (!pid) throw new Error(`cannot find the postmaster of ${url}`);
    return pid;
  } finally {
    await c.end();
  }
}

export async function startServices(): Promise<Services> {
  const results = await Promise.allSettled([
    startPostgres({ settings: SOURCE_SETTINGS }),
    startPostgres(),
    startRedis(),
    startSwift(),
  ] as const);
  for (const r of results) if (r.status === 'fulfilled') onCleanup('service', () => r.value.stop());
  onCleanup('daemons', () => stopAllDaemons());
  const [source, catalog, redis, swift] = results;
  if (source.status === 'rejected' || catalog.status === 'rejected' || redis.status === 'rejected' || swift.status === 'rejected') {
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
    throw new Error(`services did not start:\n${reasons.join('\n')}`);
  }
  const mine = childrenOf(process.pid);
  const settings = await query<{ name: string; setting: string }>(
    source.value.url,
    `SELECT name, setting FROM pg_settings WHERE name IN ('server_version','wal_level','fsync','synchronous_commit','full_page_writes',
       'shared_buffers','max_wal_size','checkpoint_timeout','wal_compression','max_wal_senders','max_replication_slots')`,
  );
  return {
    source: source.value,
    catalog: catalog.value,
    redis: redis.value,
    swift: swift.value,
    pids: {
      source: await postmasterOf(source.value.url),
      catalog: await postmasterOf(catalog.value.url),
      redis: mine.filter((p) => cmdline(p).includes('redis-server')),
      swift: mine.filter((p) => /swift-|memcached/.test(cmdline(p))),
    },
    sourceInfo: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
  };
}

export async function createDatabase(server: PostgresService, name: string): Promise<string> {
  await query(server.url, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  return server.urlFor(name);
}

export async function dropDatabase(server: PostgresService, name: string): Promise<void> {
  await query(server.url, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

export async function currentLsn(url: string): Promise<string> {
  const [r] = await query<{ lsn: string }>(url, 'SELECT pg_current_wal_lsn()::text AS lsn');
  return r!.lsn;
}

export async function walBytesSince(url: string, lsn: string): Promise<number> {
  const [r] = await query<{ n: string }>(url, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS n', [lsn]);
  return Number(r!.n);
}

/** The server's clock in milliseconds since the epoch (fractional). */
export async function serverMs(url: string): Promise<number> {
  const [r] = await query<{ ms: number }>(url, 'SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS ms');
  return r!.ms;
}

/**
 * Waits until no autovacuum worker has run for `quietMs` (at most `maxMs`): a database just
 * restored is vacuumed and analysed right after, and that would land in the next phase.
 */
export async function waitForQuiet(url: string, quietMs = 2000, maxMs = 180_000): Promise<number> {
  const t0 = performance.now();
  let quietSince = performance.now();
  while (performance.now() - t0 < maxMs) {
    const [r] = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'");
    if ((r?.n ?? 0) > 0) quietSince = performance.now();
    else if (performance.now() - quietSince >= quietMs) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return (performance.now() - t0) / 1000;
}

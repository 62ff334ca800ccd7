/**
 * A private, temporary PostgreSQL cluster recovered from a base backup and archived WAL to a
 * point in time: the first half of a point-in-time restore (the second half reads the
 * chosen databases or tables out of it with the logical restore path).
 *
 * It listens on a Unix socket in its own directory only (no TCP), trusts local connections
 * and is removed by stop(). PostgreSQL refuses to run as root, so as root the cluster runs
 * as the OS user postgres, as the Debian packages set it up.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
  readonly code = 'RECOVERY_FAILED';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface RecoveryOptions {
  /** An empty directory to build the cluster in; stop() removes what it made there. */
  readonly dir: string;
  /** The major version of the server that took the base backup: its binaries must be installed. */
  readonly serverMajor: number;
  /** Where the binaries of each major live (`<root>/<major>/bin`); default /usr/lib/postgresql. */
  readonly binRoot?: string | undefined;
  /** The base backup's tar stream (decoded: decrypted and decompressed). */
  readonly baseTar: Readable;
  /** The WAL segments to replay, prefetched and checked, as 16 MiB files named as PostgreSQL names them. */
  readonly walDir: string;
  /** Stop before the first transaction committed after this moment; absent: replay all the WAL given. */
  readonly targetTime?: Date | undefined;
  /** Each WAL segment PostgreSQL has restored from `walDir`, as it goes. */
  readonly onSegmentRestored?: ((name: string) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly readyTimeoutMs?: number | undefined;
  /**
   * Role names that exist in the source cluster (the source URL's user first): the first
   * one that connects finds the bootstrap superuser (OID 10), whatever its name.
   */
  readonly knownRoles?: readonly string[] | undefined;
}

export interface RecoveredCluster {
  /** A superuser URL (Unix socket) to database `postgres` of the recovered cluster. */
  readonly url: string;
  /**
   * Where recovery stopped, as PostgreSQL reported it: the commit time of the last
   * transaction replayed (undefined when the WAL held no transaction after the backup).
   */
  readonly lastTransactionAt: Date | undefined;
  /** True when the WAL ended before any transaction after targetTime (everything given was replayed). */
  readonly replayedToEnd: boolean;
  /** The tail of the server's log, for records and errors. */
  log(): string;
  stop(): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;
/** The port only names the socket file in the cluster's own directory (no TCP): any number works. */
const SOCKET_PORT = 5432;

/** `<binRoot>/<major>/bin/postgres` must exist: recovery needs the exact major that wrote the WAL. */
export async function recoveryBinDir(major: number, binRoot = '/usr/lib/postgresql'): Promise<string> {
  const binDir = join(binRoot, String(major), 'bin');
  try {
    await access(join(binDir, 'postgres'));
    return binDir;
  } catch {
    let installed: string[] = [];
    try {
      installed = (await readdir(binRoot)).filter((d) => /^\d+$/.test(d));
    } catch {
      // none at all
    }
    throw new RecoveryError(
      `point-in-time recovery of a PostgreSQL ${major} server needs the PostgreSQL ${major} server binaries on the worker ` +
        `(${binDir}/postgres; installed: ${installed.length ? installed.join(', ') : 'none'}); install the postgresql-${major} package`,
      true,
    );
  }
}

/**
 * Extracts the base backup, writes recovery settings and starts PostgreSQL on it; resolves
 * once recovery ended and the cluster was promoted (it then accepts connections). If the
 * WAL ends before any transaction after `targetTime`, PostgreSQL (13+) refuses to finish
 * ("recovery ended before configured recovery target was reached"); that means the WAL
 * given holds nothing after the target, so the cluster is started once more without a
 * target and replays it all, which is the same state.
 */
export async function recoverCluster(opts: RecoveryOptions): Promise<RecoveredCluster> {
  const binDir = await recoveryBinDir(opts.serverMajor, opts.binRoot);
  const owner = await recoveryOwner();
  const dataDir = join(opts.dir, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (owner) await chown(opts.dir, owner.uid, owner.gid).then(() => chown(dataDir, owner.uid, owner.gid));
  await extractTar(opts.baseTar, dataDir, owner, opts.signal);
  for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.conf']) await rm(join(dataDir, f), { force: true });
  await writeOwned(join(dataDir, 'recovery.signal'), '', owner);
  // Debian keeps postgresql.conf and pg_hba.conf in /etc, outside the data directory (and so
  // outside the backup): ours stand in, and the settings below override the source's.
  await access(join(dataDir, 'postgresql.conf')).catch(() => writeOwned(join(dataDir, 'postgresql.conf'), '', owner));
  await writeOwned(join(opts.dir, 'pg_hba.conf'), 'local all all trust\n', owner);
  await writeOwned(join(opts.dir, 'pg_ident.conf'), '', owner);
  if (owner) await chown(opts.walDir, owner.uid, owner.gid);

  const port = SOCKET_PORT;
  const base: Record<string, string> = {
    port: String(port),
    listen_addresses: '',
    unix_socket_directories: opts.dir,
    hba_file: join(opts.dir, 'pg_hba.conf'),
    ident_file: join(opts.dir, 'pg_ident.conf'),
    // %f / %p are PostgreSQL's; the directory holds only files we wrote and checked.
    restore_command: `cp "${opts.walDir}/%f" "%p"`,
    recovery_target_action: 'promote',
    recovery_target_timeline: 'latest',
    archive_mode: 'off',
    hot_standby: 'off',
    primary_conninfo: '',
    primary_slot_name: '',
    // A scratch copy: durability buys nothing here.
    fsync: 'off',
    synchronous_commit: 'off',
    max_wal_senders: '0',
    max_replication_slots: '0',
    wal_level: 'replica',
    logging_collector: 'off',
    log_destination: 'stderr',
    log_min_messages: 'log',
    shared_preload_libraries: '',
  };
  const withTarget = opts.targetTime
    ? { ...base, recovery_target_time: isoForPostgres(opts.targetTime), recovery_target_inclusive: 'true' }
    : base;

  let server = await startServer(binDir, dataDir, withTarget, owner, opts);
  let outcome = await waitRecovered(server, opts);
  let replayedToEnd = !opts.targetTime;
  if (outcome === 'target-not-reached') {
    server = await startServer(binDir, dataDir, base, owner, opts);
    outcome = await waitRecovered(server, opts);
    replayedToEnd = true;
  }
  if (outcome !== 'ready') {
    await stopServer(server.child);
    throw new RecoveryError(`the recovery cluster did not start: ${lastLines(server.log(), 8)}`, false);
  }
  const superuser = await bootstrapSuperuser(opts.dir, port, [...(opts.knownRoles ?? []), 'postgres']);
  const url = `postgres://${encodeURIComponent(superuser)}@localhost/postgres?host=${encodeURIComponent(opts.dir)}&port=${port}`;
  const log = server.log;
  return {
    url,
    lastTransactionAt: lastTransactionTime(log()),
    replayedToEnd,
    log,
    async stop() {
      await stopServer(server.child);
      await rm(opts.dir, { recursive: true, force: true });
    },
  };
}

interface Server {
  child: ChildProcess;
  exited: Promise<void>;
  log(): string;
}

async function startServer(
  binDir: string,
  dataDir: string,
  settings: Record<string, string>,
  owner: { uid: number; gid: number } | undefined,
  opts: RecoveryOptions,
): Promise<Server> {
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(join(binDir, 'postgres'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', LC_MESSAGES: 'C' },
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  let log = '';
  const onLog = (d: Buffer) => {
    const text = d.toString('utf8');
    log = (log + text).slice(-LOG_LIMIT);
    for (const m of text.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)) if (m[1]) opts.onSegmentRestored?.(m[1]);
  };
  child.stdout?.on('data', onLog);
  child.stderr?.on('data', onLog);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (e) => {
    log += `\ncould not start postgres: ${e.message}`;
  });
  return { child, exited, log: () => log };
}

/** Polls until the promoted cluster accepts connections, or the server exits. */
async function waitRecovered(server: Server, opts: RecoveryOptions): Promise<'ready' | 'target-not-reached' | 'exited'> {
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60 * 60_000);
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) {
      await stopServer(server.child);
      throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('recovery aborted');
    }
    if (exited) return /recovery ended before configured recovery target was reached/.test(server.log()) ? 'target-not-reached' : 'exited';
    if (/database system is ready to accept connections/.test(server.log())) {
      if (await promoted(opts.dir, SOCKET_PORT)) return 'ready';
    }
    await sleep(250);
  }
  await stopServer(server.child);
  throw new RecoveryError(`recovery did not finish in time: ${lastLines(server.log(), 5)}`, false);
}

async function promoted(dir: string, port: number): Promise<boolean> {
  // Any role works for this check: pg_is_in_recovery() is open to all, and trust applies.
  const c = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return r.rows[0]?.r === false;
  } catch (e) {
    // Role "postgres" may not exist in the source cluster. With hot_standby off the server
    // answers at all only once promoted, so any answer from it means it is up.
    return /role "postgres" does not exist/.test((e as Error).message);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The role with OID 10 (the bootstrap superuser), whatever it is called in the source cluster. */
async function bootstrapSuperuser(dir: string, port: number, roles: readonly string[]): Promise<string> {
  for (const user of new Set(roles)) {
    const c = new pg.Client({ host: dir, port, user, database: 'template1' });
    c.on('error', () => {});
    try {
      await c.connect();
      const r = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE oid = 10');
      if (r.rows[0]) return r.rows[0].rolname;
    } catch {
      // try the next name
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  throw new RecoveryError(
    `cannot find the superuser of the recovered cluster (connected as none of: ${[...new Set(roles)].join(', ')})`,
    true,
  );
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // SIGINT: fast shutdown (SIGTERM would wait for clients to go).
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await closed;
  clearTimeout(timer);
}

async function extractTar(
  tar: Readable,
  dataDir: string,
  owner: { uid: number; gid: number } | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const child = spawn('tar', ['-x', '-C', dataDir, '-f', '-'], {
    stdio: ['pipe', 'ignore', 'pipe'],
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4096);
  });
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const fed = pipeline(tar, child.stdin!, ...(signal ? [{ signal }] : [])).catch((e: unknown) => {
    child.kill('SIGTERM');
    throw e;
  });
  const [code] = await Promise.all([closed, fed]);
  if (code !== 0) throw new RecoveryError(`extracting the base backup failed (tar exit ${code}): ${stderr.trim()}`, false);
}

async function writeOwned(path: string, content: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** The OS user the recovery cluster runs as (postgres when we are root), for files it must read. */
export async function recoveryOwner(): Promise<{ uid: number; gid: number } | undefined> {
  return process.getuid?.() === 0 ? userIds('postgres') : undefined;
}

function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, user], (err, stdout) =>
        err ? reject(new RecoveryError(`running PostgreSQL as root needs the OS user ${user}`, true)) : resolve(Number(stdout.trim())),
      ),
    );
  return Promise.all([id('-u'), id('-g')]).then(([uid, gid]) => ({ uid, gid }));
}

/** `recovery_target_time` wants a timestamptz literal; ISO 8601 in UTC with microseconds reads exactly. */
function isoForPostgres(t: Date): string {
  return t.toISOString().replace('T', ' ').replace('Z', '+00');
}

/** "last completed transaction was at log time 2026-12-07 16:50:01.123456+00" (or "recovery stopping before commit ..., time ..."). */
function lastTransactionTime(log: string): Date | undefined {
  const all = [...log.matchAll(/last completed transaction was at log time ([0-9-]+ [0-9:.]+[+-][0-9:]+)/g)];
  const text = all.at(-1)?.[1];
  if (!text) return undefined;
  const d = new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

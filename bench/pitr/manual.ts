/**
 * The reference side of the PITR benchmark, done as a DBA would by hand with PostgreSQL's
 * own tools: `pg_basebackup` into a local directory, `pg_receivewal` keeping a local WAL
 * archive, and a restore to a moment of one database (or some tables) through a private
 * recovery cluster + `pg_dump -Fd -j2` + `pg_restore -j2`.
 *
 * The recovery cluster gets the settings our own recovery uses
 * (packages/postgres/src/physical/recovery.ts), so both sides replay the same WAL the same
 * way; the differences left are the ones that belong to each path.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { onCleanup } from '../postgres/cleanup.ts';
import { dirBytes, runTool } from '../postgres/pgtools.ts';
import { query } from './services.ts';

export type Owner = { uid: number; gid: number } | undefined;

/** Runs a command to completion (as `owner` when given); rejects with its stderr on a non-zero exit. */
function run(cmd: string, args: string[], owner: Owner): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
}

export async function ownedDir(path: string, owner: Owner): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (owner) await chown(path, owner.uid, owner.gid);
  return path;
}

export interface BasebackupRun {
  seconds: number;
  /** Everything written (base.tar[.gz], backup_manifest). */
  bytes: number;
  files: number;
}

/** `pg_basebackup -Ft -D <dir> -X fetch -c fast [-z]` into an empty `dir` (pg_basebackup fsyncs it, as our file storage does). */
export async function pgBasebackup(binDir: string, url: string, dir: string, gzip: boolean): Promise<BasebackupRun> {
  const r = await runTool(join(binDir, 'pg_basebackup'), [
    '-Ft',
    '-D',
    dir,
    '-X',
    'fetch',
    '-c',
    'fast',
    ...(gzip ? ['-z'] : []),
    '-d',
    url,
  ]);
  const size = await dirBytes(dir);
  return { seconds: r.seconds, ...size };
}

export interface ReceiveWal {
  pid: number;
  dir: string;
  /** Waits until pg_receivewal has written WAL up to `lsn` (its write position, status every second). */
  waitWritten(lsn: string, timeoutMs: number): Promise<void>;
  /** SIGINT (it keeps the segment in progress as .partial), then drops its slot. */
  stop(): Promise<void>;
}

/**
 * `pg_receivewal -D <dir> -S <slot> --status-interval=1 -n` on a physical slot of its own,
 * run as the server's OS user (its files are 0600: the recovery cluster, as that user, must
 * read them). Status every second so that its write position is current in pg_stat_replication.
 */
export async function startReceiveWal(binDir: string, url: string, dir: string, slot: string, owner: Owner): Promise<ReceiveWal> {
  await query(url, 'SELECT pg_create_physical_replication_slot($1, true)', [slot]);
  const log = createWriteStream(join(dir, '..', 'pg_receivewal.log'));
  const child: ChildProcess = spawn(join(binDir, 'pg_receivewal'), ['-D', dir, '-S', slot, '--status-interval=1', '-n', '-d', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
  };
  const dropSlot = () => query(url, 'SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const undo = onCleanup('pg_receivewal', kill);
  // Streaming, or an error right away (bad slot, no permission).
  for (let i = 0; ; i++) {
    const [r] = await query<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`,
    );
    if (r!.n > 0) break;
    if (child.exitCode !== null || i > 100) throw new Error(`pg_receivewal did not start (see ${join(dir, '..', 'pg_receivewal.log')})`);
    await sleep(100);
  }
  return {
    pid: child.pid as number,
    dir,
    async waitWritten(lsn, timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const [r] = await query<{ ok: boolean }>(
          url,
          `SELECT coalesce(bool_or(write_lsn >= $1::pg_lsn), false) AS ok FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`,
          [lsn],
        );
        if (r!.ok) return;
        if (child.exitCode !== null) throw new Error('pg_receivewal exited');
        if (Date.now() > until) throw new Error(`pg_receivewal did not reach ${lsn} in ${timeoutMs / 1000} s`);
        await sleep(200);
      }
    },
    async stop() {
      await kill();
      undo();
      await dropSlot();
    },
  };
}

export interface ManualRestoreOptions {
  binDir: string;
  /** base.tar of a `pg_basebackup -Ft -X fetch` (uncompressed). */
  baseTar: string;
  /** pg_receivewal's directory (complete segments, and the one in progress as .partial). */
  walDir: string;
  /** recovery_target_time, as given to our restore. */
  targetTime: string;
  database: string;
  /** `-t` patterns for pg_dump (schema.table); none: the whole database. */
  tables: string[];
  /** Extra pg_dump arguments (e.g. -Z0); none: pg_dump's defaults (gzip for -Fd). */
  dumpArgs: string[];
  /** Superuser URL of the target server, and the new database to load into. */
  targetServerUrl: string;
  targetUrl: string;
  targetDatabase: string;
  /** An empty scratch directory (removed by the caller). */
  work: string;
  owner: Owner;
}

export interface ManualRestoreRun {
  /** Seconds per step: extract, recover, dump, stop, load. */
  steps: Record<'extract' | 'recover' | 'dump' | 'stop' | 'load', number>;
  dumpBytes: number;
  /** PostgreSQL's "last completed transaction was at log time ..." after recovery. */
  recoveredTo: string | undefined;
}

/**
 * From "have a base backup and archived WAL" to "rows loaded": extract base.tar into a new
 * data directory, start PostgreSQL on it with recovery_target_time (restore_command copies
 * from pg_receivewal's directory; the segment in progress is its .partial, which
 * pg_receivewal keeps at full size), wait until it is promoted, pg_dump -Fd -j2 the
 * database, stop the cluster, CREATE DATABASE + pg_restore -j2 into the target server.
 */
export async function manualRestore(o: ManualRestoreOptions): Promise<ManualRestoreRun> {
  await ownedDir(o.work, o.owner);
  const dataDir = await ownedDir(join(o.work, 'data'), o.owner);
  const dumpDir = join(o.work, 'dump');
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = Math.round(now - t) / 1000;
    t = now;
    return s;
  };

  await run('tar', ['-x', '-f', o.baseTar, '-C', dataDir], o.owner);
  await writeFile(join(dataDir, 'recovery.signal'), '');
  if (o.owner) await chown(join(dataDir, 'recovery.signal'), o.owner.uid, o.owner.gid);
  const extract = lap();

  const port = 5432;
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: '',
    unix_socket_directories: o.work,
    restore_command: `cp "${o.walDir}/%f" "%p" 2>/dev/null || cp "${o.walDir}/%f.partial" "%p"`,
    recovery_target_time: o.targetTime.replace('T', ' ').replace('Z', '+00'),
    recovery_target_inclusive: 'true',
    recovery_target_action: 'promote',
    recovery_target_timeline: 'latest',
    archive_mode: 'off',
    hot_standby: 'off',
    fsync: 'off',
    synchronous_commit: 'off',
    max_wal_senders: '0',
    max_replication_slots: '0',
    wal_level: 'replica',
    logging_collector: 'off',
  };
  const server = spawn(join(o.binDir, 'postgres'), ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', LC_MESSAGES: 'C' },
    ...(o.owner ? { uid: o.owner.uid, gid: o.owner.gid } : {}),
  });
  let serverLog = '';
  const onLog = (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-65536));
  server.stdout?.on('data', onLog);
  server.stderr?.on('data', onLog);
  const serverExited = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const stopServer = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.kill('SIGINT');
    const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
    await serverExited;
    clearTimeout(timer);
  };
  const undo = onCleanup('manual recovery cluster', stopServer);
  try {
    const socket = { host: o.work, port, user: 'postgres', database: 'postgres' };
    for (;;) {
      if (server.exitCode !== null)
        throw new Error(`the manual recovery cluster exited: ${serverLog.trim().split('\n').slice(-6).join(' | ')}`);
      if (serverLog.includes('ready to accept connections')) {
        const c = new pg.Client(socket);
        c.on('error', () => undefined);
        try {
          await c.connect();
          const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
          if (r.rows[0]?.r === false) break;
        } catch {
          // not yet
        } finally {
          await c.end().catch(() => undefined);
        }
      }
      await sleep(250);
    }
    const recover = lap();
    const recoveredTo = [...serverLog.matchAll(/last completed transaction was at log time ([0-9-]+ [0-9:.]+[+-][0-9:]+)/g)].at(-1)?.[1];

    await runTool(join(o.binDir, 'pg_dump'), [
      '-Fd',
      '-j2',
      ...o.dumpArgs,
      ...o.tables.flatMap((x) => ['-t', x]),
      '-f',
      dumpDir,
      '-h',
      o.work,
      '-p',
      String(port),
      '-U',
      'postgres',
      o.database,
    ]);
    const dump = lap();
    await stopServer();
    const stop = lap();

    await query(o.targetServerUrl, `CREATE DATABASE ${pg.escapeIdentifier(o.targetDatabase)}`);
    await runTool(join(o.binDir, 'pg_restore'), ['-j2', '-d', o.targetUrl, dumpDir]);
    const load = lap();
    return { steps: { extract, recover, dump, stop, load }, dumpBytes: (await dirBytes(dumpDir)).bytes, recoveredTo };
  } finally {
    await stopServer();
    undo();
  }
}

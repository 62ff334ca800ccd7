import { access, chown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';
import { createTempDir, osUserIds, removeTempDir, runCommand, startDaemon, type Daemon } from './processes.ts';

export interface PostgresService {
  host: string;
  port: number;
  user: string;
  /** superuser URL to database "postgres" */
  url: string;
  /** Directory of the server's binaries (initdb, pg_ctl, postgres; also pg_dump of that major). */
  binDir: string;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string /* url */>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
/** Speed over durability: the cluster lives for one test run (unless `dir` is given). */
const SETTINGS: Record<string, string> = {
  listen_addresses: HOST,
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200',
  max_wal_senders: '0',
  wal_level: 'minimal',
  shared_buffers: '128MB',
};
const INSTALL_HINT = 'install the Debian package postgresql (apt-get install -y --no-install-recommends postgresql postgresql-client)';

/** `/usr/lib/postgresql/<major>/bin` of the newest major that has initdb and postgres. */
export async function findPostgresBinDir(root = '/usr/lib/postgresql'): Promise<string> {
  let majors: string[] = [];
  try {
    majors = (await readdir(root)).filter((name) => /^\d+$/.test(name));
  } catch {
    // no PostgreSQL at all
  }
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const binDir = join(root, major, 'bin');
    try {
      await Promise.all([access(join(binDir, 'initdb')), access(join(binDir, 'postgres'))]);
      return binDir;
    } catch {
      // client-only install of this major
    }
  }
  throw new Error(`PostgreSQL server binaries not found in ${root}/<major>/bin: ${INSTALL_HINT}`);
}

/** The URL of `database` on the server that `serverUrl` points at, same credentials. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Creates database `name` through a superuser URL and returns the new database's URL. */
export async function createDatabaseAt(superuserUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return databaseUrl(superuserUrl, name);
}

async function acceptsQueries(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  // An error event after a failed connect must not become an uncaught exception.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A private PostgreSQL cluster on a free port: trust authentication, tuned for speed, not
 * durability. PostgreSQL refuses to run as root, so as root it runs as the OS user postgres.
 */
export interface StartPostgresOptions {
  /**
   * Keep the cluster in this directory across runs (the quick start's catalog): it is
   * initialised once, durable (fsync on), and left in place by stop().
   */
  dir?: string;
  /**
   * Server settings over the defaults above (`-c name=value`), e.g. wal_level = replica for
   * the WAL streaming tests; everyone else keeps the defaults.
   */
  settings?: Readonly<Record<string, string>>;
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresService> {
  const binDir = await findPostgresBinDir();
  const runAs = process.getuid?.() === 0 ? 'postgres' : undefined;
  const owner =
    runAs === undefined
      ? undefined
      : await osUserIds(runAs).catch((error: unknown) => {
          throw new Error(`running PostgreSQL as root needs the OS user ${runAs} (${INSTALL_HINT})`, { cause: error });
        });
  const persistent = opts.dir !== undefined;
  const [port, dir] = await Promise.all([
    freePort(),
    persistent ? ensureOwnedDir(opts.dir as string, owner) : createTempDir('bk-pg-', owner),
  ]);
  const dataDir = join(dir, 'data');
  const url = `postgres://${SUPERUSER}@${HOST}:${port}/postgres`;
  const base = persistent ? { ...SETTINGS, fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' } : SETTINGS;
  const settings = { ...base, ...opts.settings };
  const cleanup = () => (persistent ? Promise.resolve() : removeTempDir(dir));

  let daemon: Daemon;
  try {
    const initialised = await access(join(dataDir, 'PG_VERSION')).then(
      () => true,
      () => false,
    );
    if (!initialised) {
      await runCommand(
        join(binDir, 'initdb'),
        ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', ...(persistent ? [] : ['--no-sync'])],
        { user: runAs, cwd: dir },
      );
    }
    daemon = await startDaemon({
      name: 'postgres',
      command: join(binDir, 'postgres'),
      args: [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        dir,
        ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
      ],
      dir,
      user: runAs,
      ready: () => acceptsQueries(url),
      readyTimeoutMs: 30_000,
      // SIGTERM would wait for every client to disconnect; SIGINT is a fast shutdown.
      stopSignal: 'SIGINT',
    });
  } catch (error) {
    await cleanup();
    throw error;
  }

  return {
    host: HOST,
    port,
    user: SUPERUSER,
    url,
    binDir,
    urlFor: (database) => databaseUrl(url, database),
    createDatabase: (name) => createDatabaseAt(url, name),
    async stop() {
      await daemon.stop();
      await cleanup();
    },
  };
}

/** Creates `dir` if needed, owned by the server's OS user when running as root. */
async function ensureOwnedDir(dir: string, owner: { uid: number; gid: number } | undefined): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  return dir;
}

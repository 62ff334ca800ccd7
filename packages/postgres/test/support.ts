/** Helpers for the connector's integration tests: databases on the harness PostgreSQL. */

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  createTempDir,
  findPostgresBinDir,
  freePort,
  osUserIds,
  removeTempDir,
  runCommand,
  startDaemon,
  testNamespace,
  testServices,
} from '@bk/test-utils';

export const FIDELITY_SQL = fileURLToPath(new URL('./fixtures/fidelity.sql', import.meta.url));

export interface TestPg {
  /** Superuser URL of the harness server's "postgres" database. */
  readonly url: string;
  readonly binDir: string;
  /** A new, empty, uniquely named database; dropped by `dropAll()`. */
  createDatabase(label: string): Promise<string>;
  /** URL of a database name that is not created (the code under test creates it). */
  reserveDatabase(label: string): string;
  dropAll(): Promise<void>;
}

export function testPg(): TestPg {
  const services = testServices();
  const created: string[] = [];
  return {
    url: services.postgres.url,
    binDir: services.postgres.binDir,
    async createDatabase(label) {
      const url = await services.createDatabase(label);
      created.push(url);
      return url;
    },
    reserveDatabase(label) {
      const u = new URL(services.postgres.url);
      u.pathname = `/${testNamespace(label)}`;
      created.push(u.toString());
      return u.toString();
    },
    async dropAll() {
      await withPg(services.postgres.url, async (c) => {
        for (const url of created.splice(0)) {
          const name = decodeURIComponent(new URL(url).pathname.slice(1));
          await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
        }
      });
    },
  };
}

/** Runs `fn` with a connected client, closed afterwards. */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function loadFidelityFixture(url: string): Promise<void> {
  const sql = await readFile(FIDELITY_SQL, 'utf8');
  await withPg(url, (c) => c.query(sql));
}

/** Reads a stream to its end. */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** A readable that yields `parts` one by one. */
export function readableOf(...parts: Buffer[]): Readable {
  return Readable.from(parts, { objectMode: false });
}

export interface PasswordServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  url(password?: string): string;
  stop(): Promise<void>;
}

/**
 * A private cluster that checks passwords (scram-sha-256), for the authentication tests:
 * the harness server trusts every connection.
 */
export async function startPasswordServer(): Promise<PasswordServer> {
  const binDir = await findPostgresBinDir();
  const runAs = process.getuid?.() === 0 ? 'postgres' : undefined;
  const owner = runAs === undefined ? undefined : await osUserIds(runAs);
  const [port, dir] = await Promise.all([freePort(), createTempDir('bk-pgpw-', owner)]);
  const user = 'postgres';
  const password = `pw'"\\ ${testNamespace('pw')}`;
  const pwFile = join(dir, 'pw');
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) await runCommand('chown', [`${owner.uid}:${owner.gid}`, pwFile]);
  const dataDir = join(dir, 'data');
  try {
    await runCommand(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwFile}`, '--no-sync', '--locale=C'],
      {
        user: runAs,
        cwd: dir,
      },
    );
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
  const url = (pw = password): string => `postgres://${user}:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`;
  const daemon = await startDaemon({
    name: 'postgres-pw',
    command: join(binDir, 'postgres'),
    args: ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    dir,
    user: runAs,
    ready: async () => {
      await withPg(url(), (c) => c.query('SELECT 1'));
      return true;
    },
    readyTimeoutMs: 30_000,
    stopSignal: 'SIGINT',
  });
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    url,
    async stop() {
      await daemon.stop();
      await removeTempDir(dir);
    },
  };
}

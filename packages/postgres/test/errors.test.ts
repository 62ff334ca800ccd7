import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatabaseMissingError,
  discover,
  dumpSchema,
  listDatabases,
  SnapshotSession,
  SourceAuthError,
  SourceUnreachableError,
  tableContentHash,
} from '@bk/postgres';
import { freePort } from '@bk/test-utils';
import { collect, startPasswordServer, testPg, type PasswordServer } from './support.ts';

/** Runs `fn`, returns what it threw. */
async function caught(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('connection failures become typed errors that never show the password', () => {
  const pg = testPg();
  let server: PasswordServer;

  beforeAll(async () => {
    server = await startPasswordServer();
  });
  afterAll(async () => {
    await server.stop();
    await pg.dropAll();
  });

  it('accepts the right password, pg_dump included (through PGPASSWORD, quotes and backslashes in it)', async () => {
    expect(await listDatabases(server.url())).toContain('postgres');
    const session = await SnapshotSession.open(server.url());
    try {
      const archive = await collect(
        dumpSchema({ url: server.url(), snapshotId: session.snapshotId, serverMajor: session.serverVersion.major }),
      );
      expect(archive.subarray(0, 5).toString()).toBe('PGDMP');
    } finally {
      await session.close();
    }
  });

  it('wrong password -> SourceAuthError naming the user, for queries and for pg_dump', async () => {
    const bad = server.url('not-the-password-x9');
    for (const run of [
      () => listDatabases(bad),
      () => SnapshotSession.open(bad),
      () => discover(bad),
      () => tableContentHash(bad, { schema: 'a', name: 'b' }),
    ]) {
      const e = await caught(run);
      expect(e).toBeInstanceOf(SourceAuthError);
      expect(e.message).toMatch(/password authentication failed for user "postgres" at 127\.0\.0\.1:\d+/);
      expect(e.message).not.toContain('not-the-password-x9');
      expect(e.message).not.toContain(server.password);
      expect((e as SourceAuthError).permanent).toBe(true);
    }
    // pg_dump gets the password through PGPASSWORD; its failure is mapped as well.
    const session = await SnapshotSession.open(server.url());
    try {
      const e = await caught(() =>
        collect(dumpSchema({ url: bad, snapshotId: session.snapshotId, serverMajor: session.serverVersion.major })),
      );
      expect(e).toBeInstanceOf(SourceAuthError);
      expect(e.message).not.toContain('not-the-password-x9');
    } finally {
      await session.close();
    }
  });

  it('an unknown role -> SourceAuthError', async () => {
    const u = new URL(pg.url);
    u.username = 'no_such_role';
    u.password = 'secret-pw-1';
    const e = await caught(() => listDatabases(u.toString()));
    expect(e).toBeInstanceOf(SourceAuthError);
    expect(e.message).toContain('"no_such_role"');
    expect(e.message).not.toContain('secret-pw-1');
  });

  it('closed port -> SourceUnreachableError naming host:port', async () => {
    const port = await freePort();
    const url = `postgres://postgres:secret-pw-2@127.0.0.1:${port}/postgres`;
    for (const run of [() => listDatabases(url), () => SnapshotSession.open(url)]) {
      const e = await caught(run);
      expect(e).toBeInstanceOf(SourceUnreachableError);
      expect(e.message).toContain(`127.0.0.1:${port}`);
      expect(e.message).not.toContain('secret-pw-2');
    }
    const session = await SnapshotSession.open(pg.url);
    try {
      const e = await caught(() =>
        collect(dumpSchema({ url, snapshotId: session.snapshotId, serverMajor: session.serverVersion.major, binDir: pg.binDir })),
      );
      expect(e).toBeInstanceOf(SourceUnreachableError);
    } finally {
      await session.close();
    }
  });

  it('unresolvable host -> SourceUnreachableError', async () => {
    const e = await caught(() => listDatabases('postgres://u:secret-pw-3@no-such-host.invalid:5432/db', { connectTimeoutMs: 3000 }));
    expect(e).toBeInstanceOf(SourceUnreachableError);
    expect(e.message).toContain('no-such-host.invalid:5432');
    expect(e.message).not.toContain('secret-pw-3');
  });

  it('missing database -> DatabaseMissingError', async () => {
    const e = await caught(() => SnapshotSession.open(pg.reserveDatabase('missing')));
    expect(e).toBeInstanceOf(DatabaseMissingError);
    expect(e.message).toMatch(/database "t_missing_[a-z0-9]+" does not exist on 127\.0\.0\.1:\d+/);
  });
});

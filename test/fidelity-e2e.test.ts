import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { compareDatabases } from '@bk/postgres';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * The fidelity fixture (every type and object kind issue 3 lists) through the whole
 * platform: API -> workers -> file storage, gzip, encrypted; restored into a new database
 * and compared object by object and row by row with the source.
 */
describe('fidelity through the platform (file storage, gzip, AES-256-GCM)', () => {
  let stack: Stack;
  let sourceUrl: string;

  beforeAll(async () => {
    sourceUrl = await testServices().createDatabase('fid_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    await c.query(await readFile('packages/postgres/test/fixtures/fidelity.sql', 'utf8'));
    await c.end();
    stack = await startStack({
      label: 'fidelity',
      storage: 'file',
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
      extra: { compression: { codec: 'gzip', level: 6 }, encryption: { keys: { 'k-2026': randomBytes(32).toString('base64') } } },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('restores every table, row, sequence, view, function, index and constraint exactly', async () => {
    const b = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      payload: { source: 'pg-main', type: 'database' },
    });
    expect(b.statusCode).toBe(202);
    const backup = await waitFor<{ status: string; error?: string; encryption: { keyId: string } | null; compression: unknown }>(
      stack,
      `/v1/backups/${b.json().id}`,
      isFinal,
    );
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.encryption).toEqual({ keyId: 'k-2026' });
    expect(backup.compression).toEqual({ codec: 'gzip', level: 6 });

    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: b.json().id, targetDatabase: 'fid_restored' },
    });
    expect(r.statusCode).toBe(202);
    const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal);
    expect(restore.status, restore.error).toBe('succeeded');
    const target = new URL(sourceUrl);
    target.pathname = '/fid_restored';
    expect(await compareDatabases(sourceUrl, target.toString())).toEqual([]);
  });
});

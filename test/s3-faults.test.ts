import { listBackupObjects } from '@bk/catalog';
import { compareDatabases } from '@bk/postgres';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';
import { type CuttingProxy, startCuttingProxy } from './support/tcp-proxy.ts';

/**
 * The connection to S3 drops in the middle of a multipart upload: the upload is aborted
 * (no incomplete upload remains), the job is retried, and the backup restores identically.
 */
describe('S3 error mid-upload', () => {
  let stack: Stack;
  let proxy: CuttingProxy;
  let sourceUrl: string;

  beforeAll(async () => {
    const svc = testServices();
    sourceUrl = await svc.createDatabase('s3fault_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    // ~45 MB of COPY text: with no compression, several 8 MiB parts.
    await c.query(`CREATE TABLE wide (id bigint PRIMARY KEY, a text, b text)`);
    await c.query(`INSERT INTO wide SELECT g, md5(g::text) || md5((g+1)::text), md5((g*3)::text) FROM generate_series(1, 400000) g`);
    await c.end();
    proxy = await startCuttingProxy(svc.s3.endpoint);
    stack = await startStack({
      label: 's3fault',
      storage: 's3',
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
      env: { S3_ENDPOINT: proxy.endpoint },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it('aborts the multipart upload, retries the table, and the backup is complete', async () => {
    // Every part upload is cut 1 MiB in, until the SDK's own retries (3 per request) give
    // up: the upload fails, is aborted, and the job is retried.
    proxy.cutAfter(1024 * 1024, 6);
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      payload: { source: 'pg-main', type: 'database', compression: { codec: 'none' } },
    });
    expect(res.statusCode).toBe(202);
    const backup = await waitFor<{ id: string; status: string; error?: string; rows: number }>(
      stack,
      `/v1/backups/${res.json().id}`,
      isFinal,
    );
    expect(proxy.cuts).toBe(6);
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(400000);
    const wide = (await listBackupObjects(stack.platform.db, backup.id)).find((o) => o.tableName === 'wide');
    expect(wide?.attempts).toBeGreaterThanOrEqual(2);
    // Nothing half-written is left: no incomplete multipart upload under the backup.
    expect(await stack.platform.store.abortIncompleteUploads(`backups/pg-main/${backup.id}/`)).toBe(0);

    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: backup.id, targetDatabase: 's3fault_restored' },
    });
    const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal);
    expect(restore.status, restore.error).toBe('succeeded');
    const target = new URL(sourceUrl);
    target.pathname = '/s3fault_restored';
    expect(await compareDatabases(sourceUrl, target.toString())).toEqual([]);
  });
});

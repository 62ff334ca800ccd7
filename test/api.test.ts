import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/**
 * The HTTP surface on the real platform: authentication, the uniform error body, and bad
 * input that must be refused with a 4xx without enqueueing or recording anything.
 */
describe('HTTP API', () => {
  let stack: Stack;
  let sourceUrl: string;

  beforeAll(async () => {
    sourceUrl = await testServices().createDatabase('api_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    await c.query('CREATE TABLE public.orders (id int)');
    await c.end();
    // No workers: anything enqueued would stay in the queue, where the test can see it.
    stack = await startStack({
      label: 'api',
      storage: 'file',
      workers: false,
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = stack.auth) =>
    stack.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });

  async function expectNothingChanged() {
    const { rows } = await stack.platform.db.query('SELECT (SELECT count(*) FROM backups) AS b, (SELECT count(*) FROM restores) AS r');
    expect(rows[0]).toEqual({ b: 0, r: 0 });
    for (const q of Object.values(stack.platform.queues.queues)) {
      const counts = await q.getJobCounts();
      expect(Object.values(counts).reduce((a, n) => a + n, 0)).toBe(0);
    }
  }

  it('refuses requests without a key or with a wrong key', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-key-wrong-key' },
      { authorization: `Basic ${Buffer.from(`x:${stack.apiKey}`).toString('base64')}` },
    ]) {
      const res = await stack.app.inject({ method: 'GET', url: '/v1/backups', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    const bad = await post('/v1/backups', { source: 'pg-main', type: 'full' }, {});
    expect(bad.statusCode).toBe(401);
    await expectNothingChanged();
  });

  it.each([
    ['malformed JSON', '{"source": "pg-main", "type": ', 400, 'invalid_json'],
    ['an unknown field', { source: 'pg-main', type: 'full', colour: 'blue' }, 400, 'validation_failed'],
    ['a wrong type', { source: 'pg-main', type: 7 }, 400, 'validation_failed'],
    ['an unknown backup type', { source: 'pg-main', type: 'weekly' }, 400, 'validation_failed'],
    ['an unknown source', { source: 'nope', type: 'full' }, 400, 'unknown_source'],
    ['a table backup without tables', { source: 'pg-main', type: 'table' }, 400, 'missing_tables'],
    ['a malformed table name', { source: 'pg-main', type: 'table', tables: ['"unterminated.x'] }, 400, 'invalid_table_name'],
    ['an incremental PostgreSQL backup', { source: 'pg-main', type: 'incremental' }, 400, 'unsupported_type'],
    [
      'an out-of-range compression level',
      { source: 'pg-main', type: 'full', compression: { codec: 'gzip', level: 12 } },
      400,
      'invalid_compression',
    ],
    ['encryption without a key', { source: 'pg-main', type: 'full', encrypt: true }, 400, 'encryption_unavailable'],
    ['a base backup of a source without pitr', { source: 'pg-main', type: 'base' }, 400, 'pitr_not_enabled'],
    ['a database that does not exist', { source: 'pg-main', type: 'database', databases: ['api_srx'] }, 400, 'unknown_database'],
    ['a table that does not exist', { source: 'pg-main', type: 'table', tables: ['public.ordrs'] }, 400, 'unknown_table'],
    [
      'a table in a database that does not exist',
      { source: 'pg-main', type: 'table', tables: ['nodb.public.orders'] },
      400,
      'unknown_database',
    ],
    ['a system catalog', { source: 'pg-main', type: 'table', tables: ['pg_catalog.pg_class'] }, 400, 'system_object'],
    ['information_schema', { source: 'pg-main', type: 'table', tables: ['information_schema.tables'] }, 400, 'system_object'],
    ['a template database', { source: 'pg-main', type: 'database', databases: ['template1'] }, 400, 'system_object'],
  ])('POST /v1/backups with %s is a 4xx that changes nothing', async (_what, payload, status, code) => {
    const res =
      typeof payload === 'string'
        ? await stack.app.inject({
            method: 'POST',
            url: '/v1/backups',
            payload,
            headers: { ...stack.auth, 'content-type': 'application/json' },
          })
        : await post('/v1/backups', payload);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error: { code, message: expect.any(String) } });
    await expectNothingChanged();
  });

  it('takes a POST without a body as {} (defaults apply, missing fields are named)', async () => {
    const dry = await stack.app.inject({ method: 'POST', url: '/v1/catalog/rescan', headers: stack.auth });
    expect(dry.statusCode, dry.body).toBe(200);
    const backup = await stack.app.inject({ method: 'POST', url: '/v1/backups', headers: stack.auth });
    expect(backup.statusCode).toBe(400);
    expect(backup.json().error.message).toContain('source');
    await expectNothingChanged();
  });

  it('answers a malformed URL with the same error body as every other error', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/backups/%zz', headers: stack.auth });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'bad_url', message: expect.any(String) } });
  });

  it('names the nearest existing tables when a backup names one that does not exist', async () => {
    const res = await post('/v1/backups', { source: 'pg-main', type: 'table', tables: ['public.ordrs', 'public.orders'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe('tables not found: public.ordrs (did you mean public.orders?)');
    await expectNothingChanged();
  });

  it.each([
    ['an unknown backup id', { backupId: 'bk_0000000000000000000000' }, 404, 'not_found'],
    ['a malformed backup id', { backupId: '../../etc' }, 400, 'validation_failed'],
    ['replace without confirm', { backupId: 'bk_0000000000000000000000', mode: 'replace' }, 400, 'confirmation_required'],
    ['neither backup nor time', { dryRun: true }, 400, 'invalid_restore_request'],
    [
      'a point-in-time restore of a source without pitr',
      { source: 'pg-main', targetTime: '2026-01-01T00:00:00Z' },
      400,
      'pitr_not_enabled',
    ],
    ['an unknown field', { backupId: 'bk_0000000000000000000000', tables: ['a.b'], colour: 1 }, 400, 'validation_failed'],
  ])('POST /v1/restores with %s is a 4xx that changes nothing', async (_what, payload, status, code) => {
    const res = await post('/v1/restores', payload);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
    await expectNothingChanged();
  });

  it.each([
    ['POST', '/v1/cleanup', { source: 'nope' }, 400, 'unknown_source'],
    ['POST', '/v1/cleanup', { dryRun: 'yes' }, 400, 'validation_failed'],
    ['POST', '/v1/drills', {}, 400, 'validation_failed'],
    ['POST', '/v1/drills', { source: 'nope' }, 400, 'unknown_source'],
    ['POST', '/v1/drills', { source: 'pg-main' }, 409, 'nothing_to_drill'],
    ['POST', '/v1/backups/bk_0000000000000000000000/verify', {}, 404, 'not_found'],
    ['POST', '/v1/backups/bk_0000000000000000000000/cancel', {}, 404, 'not_found'],
    ['POST', '/v1/restores/rs_0000000000000000000000/cancel', {}, 404, 'not_found'],
    ['POST', '/v1/backups/bk_0000000000000000000000/pin', {}, 404, 'not_found'],
    ['GET', '/v1/backups/bk_0000000000000000000000/download', undefined, 404, 'not_found'],
    ['GET', '/v1/backups/bk_0000000000000000000000/download?decrypt=maybe', undefined, 400, 'validation_failed'],
    ['GET', '/v1/storage/usage?days=1', undefined, 400, 'validation_failed'],
    ['GET', '/v1/audit?since=yesterday', undefined, 400, 'validation_failed'],
    ['POST', '/v1/catalog/rescan', { deep: true }, 400, 'validation_failed'],
    ['POST', '/v1/keys', { name: 'x', scopes: ['superuser'] }, 400, 'validation_failed'],
    ['DELETE', '/v1/keys/not-a-key', undefined, 400, 'validation_failed'],
  ] as const)('%s %s with bad input is a clear 4xx that changes nothing', async (method, url, payload, status, code) => {
    const res = await stack.app.inject({ method, url, headers: stack.auth, ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().error.code).toBe(code);
    await expectNothingChanged();
  });

  it('answers unknown ids and routes with 404 and bad ids with 400', async () => {
    const get = (url: string) => stack.app.inject({ method: 'GET', url, headers: stack.auth });
    expect((await get('/v1/backups/bk_0000000000000000000000')).statusCode).toBe(404);
    expect((await get('/v1/restores/rs_0000000000000000000000')).statusCode).toBe(404);
    expect((await get('/v1/backups/nope')).json().error.code).toBe('validation_failed');
    expect((await get('/v1/backups?limit=0')).statusCode).toBe(400);
    expect((await get('/v1/backups?status=bogus')).statusCode).toBe(400);
    expect((await get('/v1/nothing-here')).statusCode).toBe(404);
    const del = await stack.app.inject({ method: 'DELETE', url: '/v1/backups/bk_0000000000000000000000', headers: stack.auth });
    expect(del.statusCode).toBe(404);
  });

  it('lists configured sources without credentials, with their databases', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/sources', headers: stack.auth });
    expect(res.statusCode).toBe(200);
    const [src] = res.json().items;
    expect(src).toMatchObject({ name: 'pg-main', kind: 'postgres', reachable: true });
    expect(src.databases).toContain(new URL(sourceUrl).pathname.slice(1));
    expect(res.body).not.toContain('postgres://');
  });

  it('serves health, readiness and the OpenAPI document', async () => {
    expect((await stack.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toEqual({ redis: { ok: true }, catalog: { ok: true }, storage: { ok: true } });
    expect((await stack.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(401);
    const doc = await stack.app.inject({ method: 'GET', url: '/docs/json', headers: stack.auth });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toEqual(
      expect.arrayContaining(['/v1/backups', '/v1/backups/{id}', '/v1/restores', '/v1/sources']),
    );
  });

  it('guards the dashboard and serves it with HTTP Basic (API key as password)', async () => {
    const denied = await stack.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Basic/);
    const basic = `Basic ${Buffer.from(`ops:${stack.apiKey}`).toString('base64')}`;
    const page = await stack.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/html/);
    const api = await stack.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: basic } });
    expect(api.statusCode).toBe(200);
    expect(
      api
        .json()
        .queues.map((q: { name: string }) => q.name)
        .sort(),
    ).toEqual(['coordinate', 'export', 'finalize', 'maintenance', 'restore']);
    const apiDenied = await stack.app.inject({ method: 'GET', url: '/admin/queues/api/queues' });
    expect(apiDenied.statusCode).toBe(401);
  });
});

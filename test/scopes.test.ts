import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_SCOPES } from '../apps/api/src/plugins/auth.ts';
import { type Stack, startStack } from './support/stack.ts';

type Scope = 'read' | 'backup' | 'restore' | 'admin';
const SCOPES: Scope[] = ['read', 'backup', 'restore', 'admin'];

/** Every /v1 route against a key of every single scope: allowed or 403, per the table (every key can read). */
describe('API key scopes', () => {
  let stack: Stack;
  const keys = {} as Record<Scope, string>;

  beforeAll(async () => {
    stack = await startStack({ label: 'scopes', storage: 'file', workers: false });
    for (const scope of SCOPES) {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: stack.auth,
        payload: { name: `${scope} key`, scopes: [scope] },
      });
      expect(res.statusCode).toBe(201);
      keys[scope] = res.json().key;
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  const fill = (url: string) =>
    url
      .replace(/\/backups\/:id/, '/backups/bk_0000000000000000000000')
      .replace(/\/restores\/:id/, '/restores/rs_0000000000000000000000')
      .replace(/\/schedules\/:id/, '/schedules/sc_0000000000000000000000')
      .replace(/\/keys\/:id/, '/keys/ak_0000000000000000000000')
      .replace(/:name/, 'nope');

  const routes = Object.entries(ROUTE_SCOPES).map(([route, needed]) => {
    const [method, url] = route.split(' ') as ['GET' | 'POST' | 'PUT' | 'DELETE', string];
    return { method, url, needed };
  });

  it.each(routes)('$method $url needs "$needed"', async ({ method, url, needed }) => {
    for (const scope of SCOPES) {
      const res = await stack.app.inject({
        method,
        url: fill(url),
        headers: { authorization: `Bearer ${keys[scope]}` },
        ...(method === 'POST' || method === 'PUT' ? { payload: {} } : {}),
      });
      const allowed = scope === 'admin' || scope === needed || needed === 'read';
      if (allowed) expect([401, 403], `${scope} on ${method} ${url}: ${res.body}`).not.toContain(res.statusCode);
      else {
        expect(res.statusCode, `${scope} on ${method} ${url}`).toBe(403);
        expect(res.json().error.code).toBe('forbidden');
      }
    }
  });

  it('downloading decrypted data needs the restore scope', async () => {
    const url = '/v1/backups/bk_0000000000000000000000/download?decrypt=true';
    const asRead = await stack.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${keys.read}` } });
    expect(asRead.statusCode).toBe(403);
    const asRestore = await stack.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${keys.restore}` } });
    expect(asRestore.statusCode).toBe(404);
  });

  it('running a schedule needs the scope of what it runs, and is audited', async () => {
    const made = await stack.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: stack.auth,
      payload: { name: 'nightly cleanup', kind: 'cleanup', cron: '0 4 * * *', timezone: 'UTC' },
    });
    expect(made.statusCode, made.body).toBe(201);
    const url = `/v1/schedules/${made.json().id}/run`;
    for (const scope of ['read', 'backup', 'restore'] as const) {
      const res = await stack.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${keys[scope]}` }, payload: {} });
      expect(res.statusCode, `${scope}: ${res.body}`).toBe(403);
      expect(res.json().error.message).toContain('"admin"');
    }
    const ok = await stack.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${keys.admin}` }, payload: {} });
    expect(ok.statusCode, ok.body).toBe(202);
    const audit = await stack.app.inject({ method: 'GET', url: '/v1/audit?action=schedule.run', headers: stack.auth });
    expect(audit.json().items[0]).toMatchObject({ target: made.json().id, outcome: 'ok' });
  });

  it('tells each key its own scopes (GET /v1/whoami)', async () => {
    for (const scope of SCOPES) {
      const res = await stack.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${keys[scope]}` } });
      expect(res.statusCode).toBe(200);
      const expected = scope === 'admin' ? [...SCOPES] : scope === 'read' ? ['read'] : ['read', scope];
      expect([...res.json().scopes].sort()).toEqual(expected.sort());
    }
  });

  it('a read key downloads no table data, encrypted or not', async () => {
    for (const q of ['', '?decrypt=true']) {
      const res = await stack.app.inject({
        method: 'GET',
        url: `/v1/backups/bk_0000000000000000000000/download${q}`,
        headers: { authorization: `Bearer ${keys.read}` },
      });
      expect(res.statusCode).toBe(403);
    }
  });

  it('lists keys without the keys or their hashes, and revocation takes effect at once', async () => {
    const list = await stack.app.inject({ method: 'GET', url: '/v1/keys', headers: stack.auth });
    expect(list.json().items).toHaveLength(4);
    for (const k of Object.values(keys)) expect(list.body).not.toContain(k);
    const { rows } = await stack.platform.db.query('SELECT key_hash FROM api_keys');
    for (const r of rows) expect(list.body).not.toContain(r.key_hash);
    const victim = list.json().items.find((k: { name: string }) => k.name === 'read key');
    const before = await stack.app.inject({ method: 'GET', url: '/v1/backups', headers: { authorization: `Bearer ${keys.read}` } });
    expect(before.statusCode).toBe(200);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/keys/${victim.id}`, headers: stack.auth })).json()).toEqual({
      id: victim.id,
      revoked: true,
    });
    const after = await stack.app.inject({ method: 'GET', url: '/v1/backups', headers: { authorization: `Bearer ${keys.read}` } });
    expect(after.statusCode).toBe(401);
    const audit = await stack.app.inject({ method: 'GET', url: '/v1/audit?action=key.revoke', headers: stack.auth });
    expect(audit.json().items[0].target).toBe(victim.id);
  });

  it('bad key requests are 4xx: unknown scope, no scopes, unknown id', async () => {
    for (const payload of [{ name: 'x', scopes: ['root'] }, { name: 'x', scopes: [] }, { scopes: ['read'] }]) {
      const res = await stack.app.inject({ method: 'POST', url: '/v1/keys', headers: stack.auth, payload });
      expect(res.statusCode).toBe(400);
    }
    expect((await stack.app.inject({ method: 'DELETE', url: '/v1/keys/ak_0000000000000000000000', headers: stack.auth })).statusCode).toBe(
      404,
    );
  });

  it('lets only admin keys into the dashboard', async () => {
    const basic = (k: string) => `Basic ${Buffer.from(`ops:${k}`).toString('base64')}`;
    const denied = await stack.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(keys.backup) } });
    expect(denied.statusCode).toBe(403);
    const ok = await stack.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(keys.admin) } });
    expect(ok.statusCode).toBe(200);
  });
});

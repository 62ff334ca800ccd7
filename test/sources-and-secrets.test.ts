import { freePort } from '@bk/test-utils';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PasswordServer, startPasswordServer } from '../packages/postgres/test/support.ts';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * A source that checks passwords: a wrong password or an unreachable server fails the
 * backup with a message that says so, and the password never reaches Redis job data, the
 * catalog, API responses or logs.
 */
describe('source failures and secrets', () => {
  let server: PasswordServer;
  let stack: Stack;
  const logLines: string[] = [];
  let secretForms: string[];

  beforeAll(async () => {
    server = await startPasswordServer();
    const c = new pg.Client({ connectionString: server.url() });
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g');
    await c.end();
    secretForms = [server.password, encodeURIComponent(server.password), JSON.stringify(server.password).slice(1, -1)];
    stack = await startStack({
      label: 'secrets',
      storage: 'file',
      logLines,
      sources: {
        'pg-ok': { kind: 'postgres', url: server.url() },
        'pg-badpw': { kind: 'postgres', url: server.url('wrong-password-123') },
        'pg-down': { kind: 'postgres', url: `postgres://postgres:x@127.0.0.1:${await freePort()}/postgres` },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  async function backup(source: string) {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/backups', headers: stack.auth, payload: { source, type: 'database' } });
    expect(res.statusCode).toBe(202);
    return waitFor<{ id: string; status: string; error?: string }>(stack, `/v1/backups/${res.json().id}`, isFinal);
  }

  it('fails a backup with a wrong password, saying so without the password', async () => {
    const b = await backup('pg-badpw');
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/password authentication failed for user "postgres"/);
    expect(b.error).not.toContain('wrong-password-123');
  });

  it('fails a backup of an unreachable server, naming it', async () => {
    const b = await backup('pg-down');
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/127\.0\.0\.1:\d+/);
    expect(b.error).toMatch(/unreachable|refused|connect/i);
  });

  it('keeps the password out of Redis, the catalog, API responses and logs', async () => {
    const ok = await backup('pg-ok');
    expect(ok.status, ok.error).toBe('succeeded');
    const seen: string[] = [];

    // Redis: every value of every key under this stack's prefix (job data, events, results).
    const redis = new Redis(stack.config.redis.url as string, { protocol: 2 });
    try {
      const keys = await redis.keys(`${stack.config.redis.prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') seen.push(String(await redis.get(key)));
        else if (type === 'hash') seen.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') seen.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') seen.push(JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') seen.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
        else if (type === 'stream') seen.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      }
    } finally {
      redis.disconnect();
    }
    // The catalog, every table.
    for (const table of ['backups', 'backup_objects', 'restores', 'restore_tables', 'audit_log']) {
      const { rows } = await stack.platform.db.query(`SELECT * FROM ${table}`);
      seen.push(JSON.stringify(rows));
    }
    // API responses.
    for (const url of ['/v1/backups', `/v1/backups/${ok.id}`, '/v1/sources', '/v1/sources/pg-ok', '/v1/sources/pg-badpw']) {
      seen.push((await stack.app.inject({ method: 'GET', url, headers: stack.auth })).body);
    }
    // Logs of the API and the workers.
    expect(logLines.length).toBeGreaterThan(10);
    seen.push(...logLines);

    const all = seen.join('\n');
    for (const form of secretForms) expect(all).not.toContain(form);
    expect(all).not.toContain('wrong-password-123');
    expect(all).not.toContain(stack.apiKey);
  });
});

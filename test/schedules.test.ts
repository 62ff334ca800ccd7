import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '@bk/api';
import { createQueueSet, createRedis, enqueue } from '@bk/core';
import { createPlatform, syncSchedulers } from '@bk/platform';
import { createLogger, loadConfig } from '@bk/core';
import { testServices } from '@bk/test-utils';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';
import { startCuttingProxy } from './support/tcp-proxy.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';

const SECRET = 'webhook-secret-0123456789';

interface ScheduleView {
  id: string;
  name: string;
  enabled: boolean;
  nextRunAt: string | null;
  nextRuns: string[];
  lastRun?: { id: string; status: string };
  missedRunAt: string | null;
  problem: string | null;
  notify: { url: string; signed: boolean }[];
}

describe('schedules, webhooks and recovery objectives', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let sourceUrl: string;

  beforeAll(async () => {
    sourceUrl = await testServices().createDatabase('sched_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    await c.query('CREATE TABLE t (id int primary key, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g');
    await c.end();
    receiver = await startWebhookReceiver(SECRET, { failFirst: 1 });
    stack = await startStack({
      label: 'sched',
      storage: 'file',
      scheduler: true,
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
      extra: {
        sources: { 'pg-main': { kind: 'postgres', url: sourceUrl, rpoTargetMinutes: 60, rtoTargetMinutes: 30 } },
        // The receiver listens on loopback, which webhooks may reach only when allowed.
        notifications: { allowedHosts: ['127.0.0.1', 'localhost'] },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
    stack.app.inject({ method, url, headers: stack.auth, ...(payload ? { payload } : {}) });
  const schedulerKeys = async () => (await stack.platform.queues.queues.maintenance.getJobSchedulers(0, -1)).map((s) => s.key).sort();
  const scheduleCount = async () => Number((await stack.platform.db.query('SELECT count(*) AS n FROM schedules')).rows[0].n);

  it.each([
    ['an invalid cron', { cron: '61 * * * *' }, 'invalid_cron', /61/],
    ['a cron with too many fields', { cron: '* * * * * * *' }, 'invalid_cron', /fields/],
    ['an unknown time zone', { timezone: 'Mars/Olympus' }, 'invalid_timezone', /Mars\/Olympus/],
    ['an unknown source', { source: 'nope' }, 'unknown_source', /nope/],
    ['a negative keepLast', { retention: { keepLast: -1 } }, 'validation_failed', /retention/],
    ['an unknown retention rule', { retention: { forever: 1 } }, 'validation_failed', /forever|retention/],
    ['a webhook without http(s)', { notify: [{ url: 'ftp://x/y' }] }, 'validation_failed', /notify/],
    ['an unknown field', { colour: 'red' }, 'validation_failed', /colour|Unrecognized/],
  ])('refuses a schedule with %s (4xx, nothing created)', async (_what, patch, code, message) => {
    const res = await api('POST', '/v1/schedules', { name: 'bad', source: 'pg-main', type: 'database', cron: '0 3 * * *', timezone: 'UTC', ...patch });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe(code);
    expect(res.json().error.message).toMatch(message);
    expect(await scheduleCount()).toBe(0);
    expect(await schedulerKeys()).toEqual(['schedule-check']);
  });

  let fast: ScheduleView;

  it('creates a schedule that fires (every 2 s here), shows its next runs and notifies a signed webhook', async () => {
    const res = await api('POST', '/v1/schedules', {
      name: 'pg every 2s',
      source: 'pg-main',
      type: 'database',
      cron: '*/2 * * * * *',
      timezone: 'Europe/Berlin',
      retention: { keepLast: 2 },
      notify: [{ url: receiver.url, secret: SECRET }],
    });
    expect(res.statusCode, res.body).toBe(201);
    fast = res.json();
    expect(fast.nextRunAt).not.toBeNull();
    expect(fast.nextRuns).toHaveLength(3);
    expect(fast.notify).toEqual([{ url: receiver.url, signed: true }]);
    expect(res.body).not.toContain(SECRET);
    expect(await schedulerKeys()).toEqual(['schedule-check', `schedule-${fast.id}`].sort());

    // Two scheduled backups succeed...
    const until = Date.now() + 60_000;
    let done: { id: string }[] = [];
    while (Date.now() < until) {
      const { rows } = await stack.platform.db.query(`SELECT id FROM backups WHERE schedule_id = $1 AND status = 'succeeded'`, [fast.id]);
      done = rows;
      if (done.length >= 2) break;
      await sleep(250);
    }
    expect(done.length).toBeGreaterThanOrEqual(2);
    // ... and the webhook got signed events for them (the first delivery failed and was retried).
    const hookUntil = Date.now() + 30_000;
    while (Date.now() < hookUntil && receiver.received.filter((h) => h.event.type === 'backup.succeeded').length < 2) await sleep(200);
    const hooks = receiver.received.filter((h) => h.event.type === 'backup.succeeded');
    expect(hooks.length).toBeGreaterThanOrEqual(2);
    expect(hooks.every((h) => h.signatureValid)).toBe(true);
    expect(receiver.attempts()).toBeGreaterThan(receiver.received.length);
    const ids = hooks.map((h) => h.event.data.backupId);
    expect(ids).toEqual(expect.arrayContaining([done[0]?.id]));

    const list = (await api('GET', '/v1/schedules')).json().items as ScheduleView[];
    expect(list.find((s) => s.id === fast.id)?.lastRun?.status).toMatch(/queued|running|succeeded/);
  });

  it('recreates schedulers lost with a Redis flush, and several API processes syncing at once make no duplicates', async () => {
    // "Flush" this stack's namespace (the Redis is shared by other test files).
    const redis = new Redis(stack.config.redis.url as string, { protocol: 2 });
    const keys = await redis.keys(`${stack.config.redis.prefix}:maintenance*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    expect(await schedulerKeys()).toEqual([]);

    // Three more "API processes" start at the same moment.
    const started = await Promise.allSettled(
      [1, 2, 3].map(() => createPlatform(loadConfig({ yamlText: stack.yaml, env: stack.env }), createLogger({ name: 'other-api', level: 'silent' }))),
    );
    const platforms = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(started.filter((s) => s.status === 'rejected')).toEqual([]);
      await Promise.all([...platforms.map((p) => syncSchedulers(p)), syncSchedulers(stack.platform)]);
      expect(await schedulerKeys()).toEqual(['schedule-check', `schedule-${fast.id}`].sort());
    } finally {
      for (const p of platforms) await p.close();
    }
    // And it fires again.
    const before = Number((await stack.platform.db.query('SELECT count(*) AS n FROM backups WHERE schedule_id = $1', [fast.id])).rows[0].n);
    const until = Date.now() + 30_000;
    let after = before;
    while (Date.now() < until && after <= before) {
      await sleep(250);
      after = Number((await stack.platform.db.query('SELECT count(*) AS n FROM backups WHERE schedule_id = $1', [fast.id])).rows[0].n);
    }
    expect(after).toBeGreaterThan(before);
  });

  it('disables, enables and deletes: the schedulers follow the catalog', async () => {
    expect((await api('POST', `/v1/schedules/${fast.id}/disable`)).json().enabled).toBe(false);
    expect(await schedulerKeys()).toEqual(['schedule-check']);
    const enabled = (await api('POST', `/v1/schedules/${fast.id}/enable`)).json();
    expect(enabled.enabled).toBe(true);
    expect(await schedulerKeys()).toContain(`schedule-${fast.id}`);
    const del = await api('DELETE', `/v1/schedules/${fast.id}`);
    expect(del.statusCode).toBe(200);
    expect(await schedulerKeys()).toEqual(['schedule-check']);
    expect((await api('GET', `/v1/schedules/${fast.id}`)).statusCode).toBe(404);
    // Let any run that had started finish before the next test counts backups.
    await sleep(1500);
    await waitFor<{ items: { status: string }[] }>(stack, '/v1/backups?limit=100', (p) => p.items.every(isFinal), 60_000);
  });

  it('reports a missed run and notifies it once', async () => {
    const res = await api('POST', '/v1/schedules', {
      name: 'minutely',
      source: 'pg-main',
      type: 'database',
      cron: '* * * * *',
      timezone: 'UTC',
      notify: [{ url: receiver.url, secret: SECRET }],
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().id as string;
    // Its scheduler was lost and it has not run for ten minutes.
    await stack.platform.queues.queues.maintenance.removeJobScheduler(`schedule-${id}`);
    await stack.platform.db.query(`UPDATE schedules SET updated_at = now() - interval '10 minutes' WHERE id = $1`, [id]);
    const view = ((await api('GET', '/v1/schedules')).json().items as ScheduleView[]).find((s) => s.id === id);
    expect(view?.missedRunAt).not.toBeNull();
    expect(view?.problem).toMatch(/missed the run due at/);
    const src = ((await api('GET', '/v1/sources')).json().items as { name: string; health: { schedulesNeedingAttention: { name: string }[] } }[])[0];
    expect(src?.health.schedulesNeedingAttention.map((x) => x.name)).toEqual(['minutely']);
    for (const n of [1, 2]) await enqueue(stack.platform.queues, stack.config, 'schedule.check', {}, `check-now-${n}-${Date.now()}`);
    const until = Date.now() + 30_000;
    while (Date.now() < until && !receiver.received.some((h) => h.event.type === 'schedule.missed')) await sleep(200);
    await sleep(1000);
    const missed = receiver.received.filter((h) => h.event.type === 'schedule.missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]?.event.data.name).toBe('minutely');
    expect(missed[0]?.signatureValid).toBe(true);
    await api('DELETE', `/v1/schedules/${id}`);
  });

  it('creates the documents\' policy as a preset', async () => {
    const res = await api('POST', '/v1/schedules/presets/standard', { postgresSource: 'pg-main', timezone: 'Asia/Shanghai' });
    expect(res.statusCode, res.body).toBe(201);
    const items = res.json().items as { name: string; cron: string; kind: string }[];
    expect(items.map((i) => [i.name, i.cron])).toEqual([
      ['pg-main full daily', '0 3 * * *'],
      ['cleanup daily', '0 4 * * *'],
    ]);
    const again = await api('POST', '/v1/schedules/presets/standard', { postgresSource: 'pg-main' });
    expect(again.statusCode).toBe(409);
    for (const i of (await api('GET', '/v1/schedules')).json().items as { id: string }[]) await api('DELETE', `/v1/schedules/${i.id}`);
  });

  it('cleanup: a dry run says what and why, the real run deletes objects then records, and finishes an interrupted deletion', async () => {
    const take = async () => {
      const r = await api('POST', '/v1/backups', { source: 'pg-main', type: 'database' });
      return waitFor<{ id: string; status: string }>(stack, `/v1/backups/${r.json().id}`, isFinal);
    };
    // Hand-made backups have no policy: nothing of them is deleted.
    const manual = await take();
    expect(manual.status).toBe('succeeded');
    const dry0 = await api('POST', '/v1/cleanup', { dryRun: true });
    const manualItem = dry0.json().items.find((i: { id: string }) => i.id === manual.id);
    expect(manualItem.action).toBe('keep');
    expect(manualItem.reasons).toContain('no retention policy for backups taken by hand');

    // Scheduled backups of a schedule that keeps 1.
    const sched = await api('POST', '/v1/schedules', { name: 'keep one', source: 'pg-main', type: 'database', cron: '0 3 * * *', timezone: 'UTC', retention: { keepLast: 1 }, enabled: false });
    const sid = sched.json().id as string;
    const runs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api('POST', `/v1/schedules/${sid}/run`);
      expect(r.statusCode).toBe(202);
      runs.push((await waitFor<{ id: string; status: string }>(stack, `/v1/backups/${r.json().id}`, isFinal)).id);
    }
    // The oldest one is pinned: no rule deletes it.
    const pin = await api('POST', `/v1/backups/${runs[0]}/pin`);
    expect(pin.json()).toEqual({ id: runs[0], pinned: true });
    runs.shift();
    const pinnedId = pin.json().id as string;
    const dry = await api('POST', '/v1/cleanup', { dryRun: true, source: 'pg-main' });
    expect((dry.json().items as { id: string; reasons: string[] }[]).find((i) => i.id === pinnedId)?.reasons).toContain('pinned');
    expect(dry.statusCode).toBe(200);
    const del = (dry.json().items as { id: string; action: string; reasons: string[] }[]).filter((i) => i.action === 'delete');
    expect(del.map((d) => d.id).sort()).toEqual(expect.arrayContaining([runs[0], runs[1]]));
    expect(del.find((d) => d.id === runs[0])?.reasons).toEqual(['not kept by keepLast=1']);
    // The dry run changed nothing.
    expect((await api('GET', `/v1/backups/${runs[0]}`)).statusCode).toBe(200);

    // A crash mid-deletion: objects gone, record still there (marked deleting).
    const victim = runs[1] as string;
    await stack.platform.db.query('UPDATE backups SET deleting_at = now() WHERE id = $1', [victim]);
    const keys: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${victim}/`)) keys.push(o.key);
    await stack.platform.store.deleteMany(keys);

    const run = await api('POST', '/v1/cleanup', {});
    expect(run.statusCode).toBe(202);
    const until = Date.now() + 60_000;
    let gone = false;
    while (Date.now() < until && !gone) {
      await sleep(250);
      const { rows } = await stack.platform.db.query('SELECT id FROM backups WHERE id = ANY($1)', [[runs[0], victim]]);
      gone = rows.length === 0;
    }
    expect(gone).toBe(true);
    for (const id of [runs[0], victim]) {
      const left: string[] = [];
      for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) left.push(o.key);
      expect(left).toEqual([]);
    }
    // The kept ones are still complete.
    expect((await api('GET', `/v1/backups/${runs[2]}`)).json().status).toBe('succeeded');
    expect((await api('GET', `/v1/backups/${manual.id}`)).json().status).toBe('succeeded');
    expect((await api('GET', `/v1/backups/${pinnedId}`)).json()).toMatchObject({ status: 'succeeded', pinned: true });
    const audit = await stack.platform.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'backup.delete' AND details->>'by' = 'cleanup'`);
    expect(audit.rows[0].n).toBeGreaterThanOrEqual(2);
  });

  it('runs a restore drill: restores into a scratch database, compares, drops it, and records the time', async () => {
    const res = await api('POST', '/v1/drills', { source: 'pg-main' });
    expect(res.statusCode, res.body).toBe(202);
    const drill = await waitFor<{ status: string; error?: string; targetDatabase: string; durationMs: number; plan: { drill?: { status: string; tablesCompared: number; differences: string[] } } }>(
      stack,
      `/v1/restores/${res.json().id}`,
      (r) => isFinal(r) && Boolean(r.plan?.drill),
    );
    expect(drill.status, drill.error).toBe('succeeded');
    expect(drill.plan.drill).toMatchObject({ status: 'passed', tablesCompared: 1, differences: [] });
    expect(drill.durationMs).toBeGreaterThan(0);
    const { rows } = await stack.platform.db.query('SELECT 1');
    expect(rows).toHaveLength(1);
    const admin = new pg.Client({ connectionString: testServices().postgres.url });
    await admin.connect();
    try {
      const left = await admin.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [drill.targetDatabase]);
      expect(left.rows[0].n).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('verifies and drills on schedules too', async () => {
    const verify = await api('POST', '/v1/schedules', { name: 'verify nightly', kind: 'verify', source: 'pg-main', cron: '0 5 * * *', timezone: 'UTC', enabled: false });
    expect(verify.statusCode, verify.body).toBe(201);
    const run = await api('POST', `/v1/schedules/${verify.json().id}/run`);
    expect(run.statusCode).toBe(202);
    const newest = (await api('GET', '/v1/backups?status=succeeded&limit=1')).json().items[0].id as string;
    const v = await waitFor<{ verification?: { status: string } }>(stack, `/v1/backups/${newest}`, (b) => b.verification?.status === 'verified');
    expect(v.verification?.status).toBe('verified');
    const bad = await api('POST', '/v1/schedules', { name: 'drill bad', kind: 'drill', source: 'pg-main', type: 'full', cron: '0 5 * * *' });
    expect(bad.statusCode).toBe(400);
    await api('DELETE', `/v1/schedules/${verify.json().id}`);
  });

  it('reports storage usage and recovery objectives from measured values', async () => {
    const r = await api('POST', '/v1/restores', { backupId: (await api('GET', '/v1/backups?status=succeeded&limit=1')).json().items[0].id, targetDatabase: 'sched_restored' });
    expect(r.statusCode).toBe(202);
    const restore = await waitFor<{ status: string }>(stack, `/v1/restores/${r.json().id}`, isFinal);
    expect(restore.status).toBe('succeeded');

    const usage = (await api('GET', '/v1/storage/usage?days=7')).json();
    const { rows } = await stack.platform.db.query(`SELECT count(*)::int AS n, coalesce(sum(bytes), 0)::bigint AS b FROM backups WHERE deleting_at IS NULL`);
    expect(usage.totals.backups).toBe(rows[0].n);
    expect(usage.totals.bytes).toBe(Number(rows[0].b));
    expect(usage.bySource[0].key).toBe('pg-main');
    expect(usage.byDay.length).toBeGreaterThanOrEqual(1);
    expect(typeof usage.trend.bytesPerDay).toBe('number');

    const ro = (await api('GET', '/v1/recovery-objectives')).json().items[0];
    expect(ro.source).toBe('pg-main');
    expect(ro.rpo.targetMinutes).toBe(60);
    expect(ro.rpo.measuredMinutes).toBeLessThan(5);
    expect(ro.rpo.status).toBe('ok');
    expect(ro.rto.samples).toBeGreaterThanOrEqual(1);
    expect(ro.rto.status).toBe('ok');
  });

  it('a drill whose job cannot be queued (Redis gone) ends failed and answers 503', async () => {
    // An API whose producer connection reaches Redis through a proxy that then goes away:
    // Redis is down for this API only, while the stack's own connections stay up.
    const proxy = await startCuttingProxy(testServices().redis.url);
    const redis = createRedis(`redis://127.0.0.1:${new URL(proxy.endpoint).port}`, 'producer');
    const queues = createQueueSet(redis, stack.config.redis.prefix);
    const app = await buildApp({ platform: { ...stack.platform, redis, queues } });
    try {
      await Promise.all(Object.values(queues.queues).map((q) => q.waitUntilReady()));
      await proxy.close();
      const res = await app.inject({ method: 'POST', url: '/v1/drills', payload: { source: 'pg-main' }, headers: stack.auth });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({ error: { code: 'unavailable', message: expect.stringMatching(/job queue \(Redis\) is unavailable/) } });
      // Nothing stays "queued": the drill's record ended failed, saying why.
      const { rows } = await stack.platform.db.query(
        `SELECT status, error FROM restores WHERE request->>'drill' = 'true' AND status <> 'succeeded'`,
      );
      expect(rows).toEqual([{ status: 'failed', error: expect.stringMatching(/^could not enqueue: /) }]);
    } finally {
      await app.close();
      redis.disconnect();
      await queues.close();
      await proxy.close(); // again, if the test failed before it went away
    }
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { parseLsn, segNoOf } from '@bk/postgres';
import { type PostgresService, startPostgres } from '@bk/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/sql.ts';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * Point-in-time recovery end to end on a real PostgreSQL with wal_level = replica: WAL
 * streamed by the fleet into S3 (Swift), a base backup, and restores to moments between
 * writes that hold exactly the rows of those moments.
 */

/** The server's clock (restores are to server commit times). */
async function serverNow(url: string): Promise<Date> {
  const [row] = await sql<{ now: Date }>(url, 'SELECT clock_timestamp() AS now');
  return row!.now;
}

interface Window {
  windows: { from: string; to: string; timeline: number }[];
  gaps: { from: string; to: string; reason: string }[];
  streaming: { state: string; lagSeconds: number | null; coveredAt: string | null; holder: string | null };
}
interface RestoreView {
  id: string;
  status: string;
  error?: string;
  backupId: string;
  plan: Record<string, unknown> | null;
}

describe('PostgreSQL point-in-time recovery (WAL streaming, base backups, restore to a moment)', () => {
  let server: PostgresService;
  let app: string;
  let stack: Stack;
  const marks: Record<string, Date> = {};

  beforeAll(async () => {
    server = await startPostgres({ settings: { wal_level: 'replica', max_wal_senders: '4', max_replication_slots: '4' } });
    app = await server.createDatabase('app');
    await sql(app, `CREATE TABLE public.t (id int PRIMARY KEY, note text NOT NULL); CREATE TABLE public.u (id int, v text)`);
    await sql(app, `INSERT INTO public.t SELECT g, 'before base ' || g FROM generate_series(1, 100) g`);
    stack = await startStack({
      label: 'pitr',
      storage: 's3',
      sources: { 'pg-pitr': { kind: 'postgres', url: app, pitr: { enabled: true, partialUploadSeconds: 1 } } },
      extra: { postgres: { binDir: server.binDir, walLockSeconds: 3 } },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  const get = async <T>(url: string) => (await stack.app.inject({ method: 'GET', url, headers: stack.auth })).json() as T;
  const post = (url: string, payload: unknown) =>
    stack.app.inject({ method: 'POST', url, headers: stack.auth, payload: payload as object });

  it('reports the source set up for streaming, and streams within seconds', async () => {
    const detail = await get<{ pitr?: { problems: string[]; slot: string } }>('/v1/sources/pg-pitr');
    expect(detail.pitr?.problems).toEqual([]);
    expect(detail.pitr?.slot).toBe('bk_pg_pitr');
    const w = await waitFor<Window>(
      stack,
      '/v1/sources/pg-pitr/recovery-window',
      (b) => b.streaming.state === 'streaming' && b.streaming.coveredAt !== null,
      60_000,
    );
    expect(w.windows).toEqual([]); // no base backup yet: nothing is restorable
    const [slot] = await sql<{ active: boolean }>(app, `SELECT active FROM pg_replication_slots WHERE slot_name = 'bk_pg_pitr'`);
    expect(slot?.active).toBe(true);
  });

  it('refuses a restore to a time before any base backup with 400 time_not_covered', async () => {
    const res = await post('/v1/restores', { source: 'pg-pitr', targetTime: new Date().toISOString(), targetDatabase: 'nope' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('time_not_covered');
  });

  it('takes a base backup, then restores one database and two tables to moments between writes', async () => {
    const base = await post('/v1/backups', { source: 'pg-pitr', type: 'base' });
    expect(base.statusCode).toBe(202);
    const done = await waitFor<{ status: string; error?: string }>(stack, `/v1/backups/${base.json().id}`, isFinal, 120_000);
    expect(done.error ?? '').toBe('');
    expect(done.status).toBe('succeeded');

    await sql(app, `INSERT INTO public.t SELECT g, 'batch A ' || g FROM generate_series(101, 200) g`);
    await sql(app, `INSERT INTO public.u VALUES (1, 'A')`);
    await sleep(1100);
    marks.t1 = await serverNow(app);
    await sleep(1100);
    await sql(app, `INSERT INTO public.t SELECT g, 'batch B ' || g FROM generate_series(201, 300) g`);
    await sql(app, `UPDATE public.u SET v = 'B'`);
    await sleep(1100);
    marks.t2 = await serverNow(app);
    await sleep(1100);
    await sql(app, `DELETE FROM public.t; DELETE FROM public.u`);

    const w = await waitFor<Window>(
      stack,
      '/v1/sources/pg-pitr/recovery-window',
      (b) => (b.windows[0]?.to ?? '') > marks.t2!.toISOString(),
      60_000,
    );
    expect(w.windows).toHaveLength(1);
    expect(w.windows[0]!.from <= marks.t1!.toISOString()).toBe(true);

    const r1 = await post('/v1/restores', {
      source: 'pg-pitr',
      targetTime: marks.t1!.toISOString(),
      databases: ['app'],
      targetDatabase: 'app_t1',
    });
    expect(r1.statusCode, r1.body).toBe(202);
    const v1 = await waitFor<RestoreView>(stack, `/v1/restores/${r1.json().id}`, isFinal, 180_000);
    expect(v1.error ?? '').toBe('');
    expect(v1.status).toBe('succeeded');
    const pit = (v1.plan as { pointInTime?: { baseBackupId: string; recoveryPoint: string | null; wal: { segments: number } } })
      .pointInTime;
    expect(pit?.baseBackupId).toBe(base.json().id);
    expect(pit?.wal.segments).toBeGreaterThan(0);
    const t1 = await sql<{ n: string; batches: string }>(
      server.urlFor('app_t1'),
      `SELECT count(*)::text AS n, string_agg(DISTINCT split_part(note, ' ', 1) || ' ' || split_part(note, ' ', 2), ',' ORDER BY split_part(note, ' ', 1) || ' ' || split_part(note, ' ', 2)) AS batches FROM public.t`,
    );
    expect(t1[0]).toEqual({ n: '200', batches: 'batch A,before base' });
    expect(await sql(server.urlFor('app_t1'), 'SELECT id, v FROM public.u')).toEqual([{ id: 1, v: 'A' }]);
    // The extract read out of the recovered cluster is removed once the restore ended.
    await waitFor<{ error?: { code: string } }>(stack, `/v1/backups/${v1.backupId}`, (b) => b.error?.code === 'not_found', 30_000);

    const r2 = await post('/v1/restores', {
      source: 'pg-pitr',
      targetTime: marks.t2!.toISOString(),
      tables: ['app.public.t', 'app.public.u'],
      targetDatabase: 'app_t2',
    });
    expect(r2.statusCode, r2.body).toBe(202);
    const v2 = await waitFor<RestoreView>(stack, `/v1/restores/${r2.json().id}`, isFinal, 180_000);
    expect(v2.error ?? '').toBe('');
    expect(await sql(server.urlFor('app_t2'), `SELECT count(*)::int AS n, max(id) AS top FROM public.t`)).toEqual([{ n: 300, top: 300 }]);
    expect(await sql(server.urlFor('app_t2'), 'SELECT id, v FROM public.u')).toEqual([{ id: 1, v: 'B' }]);
  }, 420_000);

  it('keeps the recovery point seconds behind an idle server', async () => {
    await sleep(3000);
    const w = await get<Window>('/v1/sources/pg-pitr/recovery-window');
    expect(w.streaming.state).toBe('streaming');
    // partialUploadSeconds is 1 here: the covered moment follows the server's clock closely.
    expect(w.streaming.lagSeconds).not.toBeNull();
    expect(w.streaming.lagSeconds!).toBeLessThan(30);
  });

  it('verifies the base backup, drills the newest moment, and reports RPO from the WAL', async () => {
    const w = await get<Window & { baseBackups: { id: string }[] }>('/v1/sources/pg-pitr/recovery-window');
    const baseId = w.baseBackups[0]!.id;
    const v = await post(`/v1/backups/${baseId}/verify`, {});
    expect(v.statusCode, v.body).toBe(202);
    const verified = await waitFor<{ verification?: { status: string } }>(
      stack,
      `/v1/backups/${baseId}`,
      (b) => b.verification !== undefined && b.verification.status !== 'running',
      60_000,
    );
    expect(verified.verification?.status).toBe('verified');

    const d = await post('/v1/drills', { source: 'pg-pitr' });
    expect(d.statusCode, d.body).toBe(202);
    const drill = await waitFor<RestoreView>(stack, `/v1/restores/${d.json().id}`, (r) => isFinal(r) && Boolean(r.plan?.drill), 180_000);
    expect(drill.error ?? '').toBe('');
    expect(drill.status).toBe('succeeded');
    expect((drill.plan as { pointInTime?: unknown }).pointInTime).toBeDefined();
    expect(drill.plan?.drill).toMatchObject({ status: 'passed', differences: [] });
    expect((drill.plan?.drill as { tablesCompared: number }).tablesCompared).toBe(2);
    // The scratch database is gone again.
    expect(await sql(server.url, `SELECT datname FROM pg_database WHERE datname LIKE 'bk_drill_%'`)).toEqual([]);

    const ro = await get<{ items: { source: string; rpo: { basis: string; measuredMinutes: number | null }; rto: { samples: number } }[] }>(
      '/v1/recovery-objectives',
    );
    const mine = ro.items.find((i) => i.source === 'pg-pitr');
    expect(mine?.rpo.basis).toBe('wal');
    expect(mine?.rpo.measuredMinutes).not.toBeNull();
    expect(mine!.rpo.measuredMinutes!).toBeLessThan(1);
    expect(mine?.rto.samples).toBeGreaterThanOrEqual(3);
  }, 240_000);

  it('rebuilds the base backup and the WAL archive from storage after the catalog lost them', async () => {
    const before = await get<Window>('/v1/sources/pg-pitr/recovery-window');
    const catalog = stack.config.catalog.url!;
    const segs = await sql<{ n: number }>(catalog, `SELECT count(*)::int AS n FROM wal_segments WHERE source = 'pg-pitr'`);
    await sql(catalog, `DELETE FROM wal_segments WHERE source = 'pg-pitr'`);
    await sql(catalog, `DELETE FROM backups WHERE source = 'pg-pitr' AND type = 'base'`);
    expect((await get<Window>('/v1/sources/pg-pitr/recovery-window')).windows).toEqual([]);
    const r = await post('/v1/catalog/rescan', {});
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().walSegments).toBeGreaterThanOrEqual(segs[0]!.n - 1);
    const after = await get<Window>('/v1/sources/pg-pitr/recovery-window');
    expect(after.windows).toHaveLength(1);
    expect(after.windows[0]!.from).toBe(before.windows[0]!.from);
  });

  it('stops a restore whose WAL was corrupted in storage, naming the segment', async () => {
    // The segment the base backup starts in: every restore from that backup replays it.
    const w = await get<Window & { baseBackups: { startLsn: string }[] }>('/v1/sources/pg-pitr/recovery-window');
    const first = segNoOf(parseLsn(w.baseBackups[0]!.startLsn), 16 * 1024 * 1024);
    const [seg] = await sql<{ key: string; name: string }>(
      stack.config.catalog.url!,
      `SELECT key, name FROM wal_segments WHERE source = 'pg-pitr' AND seg_no = $1`,
      [first.toString()],
    );
    expect(seg).toBeDefined();
    const chunks: Buffer[] = [];
    for await (const c of await stack.platform.store.get(seg!.key)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await stack.platform.store.put(seg!.key, Readable.from([bytes]));
    const r = await post('/v1/restores', {
      source: 'pg-pitr',
      targetTime: marks.t2!.toISOString(),
      databases: ['app'],
      targetDatabase: 'app_bad',
    });
    expect(r.statusCode, r.body).toBe(202);
    const v = await waitFor<RestoreView>(stack, `/v1/restores/${r.json().id}`, isFinal, 180_000);
    expect(v.status).toBe('failed');
    expect(v.error).toContain(seg!.name);
    expect(await sql(server.url, `SELECT 1 FROM pg_database WHERE datname = 'app_bad'`)).toEqual([]);
  }, 240_000);

  it('cleanup removes WAL older than the oldest kept base backup, never WAL a kept one needs (dry run says so first)', async () => {
    const before = await get<Window>('/v1/sources/pg-pitr/recovery-window');
    const segs = await sql<{ seg_no: string }>(
      stack.config.catalog.url!,
      `SELECT seg_no::text FROM wal_segments WHERE source = 'pg-pitr' ORDER BY seg_no`,
    );
    const w = await get<Window & { baseBackups: { id: string; startLsn: string }[] }>('/v1/sources/pg-pitr/recovery-window');
    const keepFrom = segNoOf(parseLsn(w.baseBackups[0]!.startLsn), 16 * 1024 * 1024);
    const older = segs.filter((x) => BigInt(x.seg_no) < keepFrom).length;
    expect(older).toBeGreaterThan(0); // WAL streamed before the base backup

    const dry = await post('/v1/cleanup', { dryRun: true, source: 'pg-pitr' });
    expect(dry.statusCode, dry.body).toBe(200);
    const plan = dry.json() as { items: { id: string; action: string; reasons: string[] }[]; wal: { segments: number; reason: string }[] };
    expect(plan.wal).toHaveLength(1);
    expect(plan.wal[0]!.segments).toBe(older);
    const baseItem = plan.items.find((i) => i.id === w.baseBackups[0]!.id);
    expect(baseItem?.action).toBe('keep');
    expect(baseItem?.reasons.join(' ')).toContain('newest base backup');

    const run = await post('/v1/cleanup', { source: 'pg-pitr' });
    expect(run.statusCode).toBe(202);
    const until = Date.now() + 60_000;
    for (;;) {
      const left = await sql<{ n: number }>(
        stack.config.catalog.url!,
        `SELECT count(*)::int AS n FROM wal_segments WHERE source = 'pg-pitr' AND seg_no < $1`,
        [keepFrom.toString()],
      );
      if (left[0]!.n === 0) break;
      if (Date.now() > until) throw new Error('cleanup did not remove the old WAL');
      await sleep(250);
    }
    const kept = await sql<{ n: number }>(
      stack.config.catalog.url!,
      `SELECT count(*)::int AS n FROM wal_segments WHERE source = 'pg-pitr'`,
    );
    expect(kept[0]!.n).toBe(segs.length - older);
    const after = await get<Window>('/v1/sources/pg-pitr/recovery-window');
    expect(after.windows[0]!.from).toBe(before.windows[0]!.from);
  });
});

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { decodeFromStorage, parseManifest } from '@bk/core';
import { compareDatabases } from '@bk/postgres';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * The spine end to end on real services: a backup request travels API -> Redis -> worker
 * -> S3 (Swift) -> catalog, and restores bring back exactly what was backed up.
 */
const SEED = `
CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), note text, created timestamptz NOT NULL DEFAULT '2026-01-01');
INSERT INTO public.orders (customer, amount, note)
  SELECT 'customer ' || g, (g % 1000) / 7.0, repeat(md5(g::text), 2) || E'\\ttab\\nnewline\\\\' FROM generate_series(1, 40000) g;
CREATE TABLE public.order_lines (order_id bigint REFERENCES public.orders(id), line int, sku text, PRIMARY KEY (order_id, line));
INSERT INTO public.order_lines SELECT g, 1, 'sku-' || g FROM generate_series(1, 5000) g;
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Mixed ""Case"" name" ("select" int, "naïve col" text);
INSERT INTO "Odd Schema"."Mixed ""Case"" name" VALUES (1, '\\.'), (2, NULL), (3, 'ünïcødé 🚀');
CREATE TABLE public.empty_table (x int);
CREATE VIEW public.big_orders AS SELECT id, amount FROM public.orders WHERE amount > 100;
SELECT setval('public.orders_id_seq', 123456);
`;

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

interface BackupView {
  id: string;
  status: string;
  error?: string;
  rows: number;
  manifestKey: string | null;
  tables: { name: string; status: string; rows: number | null; sha256: string | null; objects: unknown[] }[];
}
interface RestoreView {
  id: string;
  status: string;
  error?: string;
  rows: number;
  replaced: Record<string, unknown> | null;
  plan: Record<string, unknown> | null;
  tables: { name: string; status: string; rows: number | null; expectedRows: number }[];
}

describe('PostgreSQL backup and restore through the platform (S3 storage)', () => {
  let stack: Stack;
  let sourceUrl: string;
  let backup: BackupView;
  const svc = () => testServices();

  beforeAll(async () => {
    sourceUrl = await svc().createDatabase('e2e_src');
    await sql(sourceUrl, SEED);
    // 1 MiB chunks: the orders table (several MiB) is exported by several jobs.
    stack = await startStack({
      label: 'e2e',
      storage: 's3',
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
      extra: { postgres: { chunkMiB: 1, binDir: svc().postgres.binDir } },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await stack.app.inject({ method: 'POST', url, payload, headers: stack.auth });
    expect(res.statusCode, res.body).toBe(202);
    return res.json() as { id: string; status: string };
  };
  const restore = async (payload: Record<string, unknown>) => {
    const { id } = await post('/v1/restores', payload);
    return waitFor<RestoreView>(stack, `/v1/restores/${id}`, isFinal);
  };
  const byTableObjects = (name: string) => backup.tables.find((t) => t.name === name)?.objects.length ?? 0;
  const targetUrl = (db: string) => {
    const u = new URL(sourceUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };

  it('backs up a database: every table, chunked where big, manifest last', async () => {
    const { id, status } = await post('/v1/backups', { source: 'pg-main', type: 'database' });
    expect(status).toBe('queued');
    backup = await waitFor<BackupView>(stack, `/v1/backups/${id}`, isFinal);
    expect(backup.status, backup.error).toBe('succeeded');
    const byName = Object.fromEntries(backup.tables.map((t) => [t.name, t]));
    expect(byName['public.orders']?.rows).toBe(40000);
    expect(byName['public.orders']?.objects.length).toBeGreaterThan(1);
    expect(byName['public.order_lines']?.rows).toBe(5000);
    expect(byName['"Odd Schema"."Mixed ""Case"" name"']?.rows).toBe(3);
    expect(byName['public.empty_table']?.rows).toBe(0);
    expect(backup.tables.every((t) => t.status === 'succeeded')).toBe(true);
    expect(backup.rows).toBe(45003);

    const manifestText = await readText(stack, backup.manifestKey as string);
    const manifest = parseManifest(manifestText, 'test');
    expect(manifest.backupId).toBe(id);
    expect(manifest.totals.rows).toBe(45003);
    expect(manifest.objects.filter((o) => o.kind === 'schema-pre' || o.kind === 'schema-post')).toHaveLength(2);
    for (const o of manifest.objects) {
      expect(o.key.startsWith(`backups/pg-main/${id}/`)).toBe(true);
      expect(o.key).toMatch(/\.zst$/);
      expect(o.compression).toEqual({ codec: 'zstd', level: 3 });
      const head = await stack.platform.store.head(o.key);
      expect(head?.size).toBe(o.bytes);
    }
    const seqs = manifest.databases[0]?.sequences ?? [];
    expect(seqs.find((s) => s.name === 'orders_id_seq')?.lastValue).toBe('123456');
  });

  it('restores into a new database identical to the source', async () => {
    const r = await restore({ backupId: backup.id, targetDatabase: 'e2e_restored' });
    expect(r.status, r.error).toBe('succeeded');
    expect(r.rows).toBe(45003);
    expect(r.tables.every((t) => t.status === 'succeeded' && t.rows === t.expectedRows)).toBe(true);
    expect(await compareDatabases(sourceUrl, targetUrl('e2e_restored'))).toEqual([]);
    const seq = await sql(targetUrl('e2e_restored'), "SELECT nextval('public.orders_id_seq') AS v");
    expect(seq.rows[0].v).toBe('123457');
    // The server skips WAL for tables filled in the transaction that emptied them
    // (wal_level = minimal): the chunks of orders were loaded by one job, in order.
    const orders = r.tables.filter((t) => t.name.startsWith('public.orders [part'));
    expect(orders.length).toBe(byTableObjects('public.orders'));
    const jobs = await stack.platform.queues.queues.restore.getJobs(['completed']);
    const grouped = jobs.filter((j) => (j.data as { restoreId: string }).restoreId === r.id && j.data.objectKeys);
    expect(grouped.map((j) => (j.data as { objectKeys: string[] }).objectKeys.length)).toEqual([orders.length]);
    // Every table here is under postgres.earlyIndexMiB (16 MiB of COPY text): no early
    // index jobs, the finalize step built all of post-data (compareDatabases checked it).
    expect(jobs.filter((j) => j.name === 'restore.pg-indexes' && (j.data as { restoreId: string }).restoreId === r.id)).toEqual([]);
  });

  it('a corrupted chunk fails its whole table loudly; nothing of the table stays', async () => {
    const manifest = parseManifest(await readText(stack, backup.manifestKey as string), 'test');
    const chunks = manifest.objects.filter((o) => o.table === 'public.orders' && o.chunk);
    const victim = chunks.find((o) => o.chunk?.index === chunks.length - 1)!;
    const original = await readBytes(stack, victim.key);
    const bad = Buffer.from(original);
    bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0x55;
    await stack.platform.store.put(victim.key, Readable.from([bad]));
    try {
      const real = await restore({ backupId: backup.id, targetDatabase: 'e2e_corrupt_chunk', tables: ['public.orders'] });
      expect(real.status).toBe('failed');
      expect(real.error).toContain(victim.key);
      expect(real.tables.some((t) => t.status === 'succeeded')).toBe(false);
      const loaded = await sql(targetUrl('e2e_corrupt_chunk'), 'SELECT count(*)::int AS n FROM public.orders');
      expect(loaded.rows[0].n).toBe(0);
    } finally {
      await stack.platform.store.put(victim.key, Readable.from([original]));
    }
  });

  it('refuses to restore over tables that have rows, and changes nothing', async () => {
    const before = await sql(targetUrl('e2e_restored'), 'SELECT count(*)::int AS n FROM public.orders');
    const r = await restore({ backupId: backup.id, targetDatabase: 'e2e_restored' });
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/already has rows/);
    const after = await sql(targetUrl('e2e_restored'), 'SELECT count(*)::int AS n FROM public.orders');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('replaces existing tables when asked with confirmation, recording what it replaced', async () => {
    await sql(targetUrl('e2e_restored'), 'DELETE FROM public.order_lines WHERE line = 1 AND order_id < 100');
    const r = await restore({ backupId: backup.id, targetDatabase: 'e2e_restored', mode: 'replace', confirm: true });
    expect(r.status, r.error).toBe('succeeded');
    expect(JSON.stringify(r.replaced)).toContain('order_lines');
    expect(await compareDatabases(sourceUrl, targetUrl('e2e_restored'))).toEqual([]);
  });

  it('restores chosen tables only', async () => {
    const r = await restore({
      backupId: backup.id,
      targetDatabase: 'e2e_selective',
      tables: ['"Odd Schema"."Mixed ""Case"" name"', 'public.orders'],
    });
    expect(r.status, r.error).toBe('succeeded');
    const tables = await sql(
      targetUrl('e2e_selective'),
      "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog','information_schema') AND table_type = 'BASE TABLE' ORDER BY 1",
    );
    expect(tables.rows.map((x) => x.t)).toEqual(['Odd Schema.Mixed "Case" name', 'public.orders']);
    const n = await sql(targetUrl('e2e_selective'), 'SELECT count(*)::int AS n FROM public.orders');
    expect(n.rows[0].n).toBe(40000);
  });

  it('dry-runs a restore: verifies every object, changes nothing', async () => {
    const r = await restore({ backupId: backup.id, targetDatabase: 'e2e_never_created', dryRun: true });
    expect(r.status, r.error).toBe('succeeded');
    const checked = (r.plan?.checked ?? []) as { ok: boolean }[];
    expect(checked.length).toBe(backup.tables.reduce((a, t) => a + t.objects.length, 0) + 2);
    expect(checked.every((c) => c.ok)).toBe(true);
    const dbs = await sql(svc().postgres.url, "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'e2e_never_created'");
    expect(dbs.rows[0].n).toBe(0);
  });

  it('a dry run finds a corrupted object, and a real restore of it fails that table loudly', async () => {
    const manifest = parseManifest(await readText(stack, backup.manifestKey as string), 'test');
    const victim = manifest.objects.find((o) => o.table === 'public.order_lines');
    expect(victim).toBeDefined();
    const original = await readBytes(stack, victim?.key as string);
    const bad = Buffer.from(original);
    bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0x55;
    await stack.platform.store.put(victim?.key as string, Readable.from([bad]));
    try {
      const dry = await restore({ backupId: backup.id, targetDatabase: 'e2e_x', dryRun: true });
      expect(dry.status).toBe('failed');
      expect(dry.error).toContain(victim?.key);
      const real = await restore({ backupId: backup.id, targetDatabase: 'e2e_corrupt', tables: ['public.order_lines'] });
      expect(real.status).toBe('failed');
      expect(real.error).toMatch(/order_lines/);
      const loaded = await sql(targetUrl('e2e_corrupt'), 'SELECT count(*)::int AS n FROM public.order_lines');
      expect(loaded.rows[0].n).toBe(0);
    } finally {
      await stack.platform.store.put(victim?.key as string, Readable.from([original]));
    }
  });

  it('stores objects that the zstd command reads to exactly the bytes a restore reads', async () => {
    const manifest = parseManifest(await readText(stack, backup.manifestKey as string), 'test');
    const obj = manifest.objects.find((o) => o.table === '"Odd Schema"."Mixed ""Case"" name"');
    expect(obj).toBeDefined();
    const stored = await readBytes(stack, obj?.key as string);
    const byCli = execFileSync('zstd', ['-d', '-c'], { input: stored });
    const dec = decodeFromStorage(Readable.from([stored]), {
      codec: 'zstd',
      expected: { sha256: obj?.sha256 as string, bytes: obj?.bytes as number },
      label: 'x',
    });
    const parts: Buffer[] = [];
    for await (const c of dec.stream) parts.push(c as Buffer);
    expect(byCli.equals(Buffer.concat(parts))).toBe(true);
    expect(byCli.toString()).toContain('ünïcødé 🚀');
  });

  it('discovers the source: databases, schemas and tables with sizes', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/sources/pg-main', headers: stack.auth });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.reachable).toBe(true);
    const db = body.catalog.find((d: { name: string }) => d.name === new URL(sourceUrl).pathname.slice(1));
    expect(db.schemas).toEqual(expect.arrayContaining(['public', 'Odd Schema']));
    const orders = db.tables.find((t: { name: string }) => t.name === 'orders');
    expect(orders).toMatchObject({ schema: 'public', kind: 'table' });
    expect(orders.sizeBytes).toBeGreaterThan(1024 * 1024);
    expect(res.body).not.toContain('postgres://');
    const unknown = await stack.app.inject({ method: 'GET', url: '/v1/sources/nope', headers: stack.auth });
    expect(unknown.statusCode).toBe(404);
  });

  it('deletes a backup: objects first, then the record', async () => {
    const { id } = await post('/v1/backups', { source: 'pg-main', type: 'table', tables: ['public.order_lines'] });
    const b = await waitFor<BackupView>(stack, `/v1/backups/${id}`, isFinal);
    expect(b.status, b.error).toBe('succeeded');
    const keys: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) keys.push(o.key);
    expect(keys.length).toBe(4); // pre-data, post-data, one table, manifest
    // A restore that reads it (recorded, not yet run) holds the deletion off, and nothing goes.
    await stack.platform.db.query(
      `INSERT INTO restores (id, backup_id, source, status, mode, request) VALUES ('rs_holdsoff00000000000000', $1, 'pg-main', 'queued', 'fail-if-exists', '{}')`,
      [id],
    );
    const held = await stack.app.inject({ method: 'DELETE', url: `/v1/backups/${id}`, headers: stack.auth });
    expect(held.statusCode, held.body).toBe(409);
    expect(held.json().error.code).toBe('backup_in_use');
    const still: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) still.push(o.key);
    expect(still.length).toBe(4);
    expect((await stack.app.inject({ method: 'GET', url: `/v1/backups/${id}`, headers: stack.auth })).json().status).toBe('succeeded');
    await stack.platform.db.query(`UPDATE restores SET status = 'failed' WHERE id = 'rs_holdsoff00000000000000'`);

    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/backups/${id}`, headers: stack.auth });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ id, deleted: true, objects: 4 });
    const left: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) left.push(o.key);
    expect(left).toEqual([]);
    expect((await stack.app.inject({ method: 'GET', url: `/v1/backups/${id}`, headers: stack.auth })).statusCode).toBe(404);
  });

  it('verifies a backup, and finds a deleted object: restores then refuse it unless forced', async () => {
    const good = await post(`/v1/backups/${backup.id}/verify`, {});
    expect(good.status).toBe('queued');
    const verified = await waitFor<{ verification?: { status: string; objects: number } }>(
      stack,
      `/v1/backups/${backup.id}`,
      (b) => b.verification?.status === 'verified' || b.verification?.status === 'corrupted',
    );
    expect(verified.verification).toMatchObject({
      status: 'verified',
      objects: backup.tables.reduce((a, t) => a + t.objects.length, 0) + 2,
    });

    const { id } = await post('/v1/backups', { source: 'pg-main', type: 'table', tables: ['public.empty_table', 'public.order_lines'] });
    const small = await waitFor<BackupView>(stack, `/v1/backups/${id}`, isFinal);
    expect(small.status, small.error).toBe('succeeded');
    const manifest = parseManifest(await readText(stack, small.manifestKey as string), 'test');
    const lost = manifest.objects.find((o) => o.table === 'public.order_lines')?.key as string;
    await stack.platform.store.deleteMany([lost]);
    await post(`/v1/backups/${id}/verify`, {});
    const bad = await waitFor<{ verification?: { status: string; problems?: { key: string; problem: string }[] } }>(
      stack,
      `/v1/backups/${id}`,
      (b) => b.verification?.status === 'corrupted' || b.verification?.status === 'verified',
    );
    expect(bad.verification?.status).toBe('corrupted');
    expect(bad.verification?.problems).toEqual([{ key: lost, problem: expect.stringMatching(/not found/) }]);
    const refused = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: id, targetDatabase: 'e2e_refused' },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('backup_corrupted');
    const forced = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: id, targetDatabase: 'e2e_forced', force: true, dryRun: true },
    });
    expect(forced.statusCode).toBe(202);
  });

  it('downloads a backup as one zip whose files match the manifest', async () => {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/backups/${backup.id}/download`, headers: stack.auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    const dir = mkdtempSync(join(tmpdir(), 'bk-zip-'));
    try {
      writeFileSync(join(dir, 'b.zip'), res.rawPayload);
      execFileSync('unzip', ['-q', 'b.zip', '-d', 'out'], { cwd: dir });
      const manifest = parseManifest(execFileSync('cat', ['out/manifest.json'], { cwd: dir }).toString(), 'zip');
      expect(manifest.backupId).toBe(backup.id);
      for (const o of manifest.objects) {
        const bytes = execFileSync('cat', [join('out', o.key.slice(`backups/pg-main/${backup.id}/`.length))], {
          cwd: dir,
          maxBuffer: 1 << 30,
        });
        expect(bytes.length).toBe(o.bytes);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(o.sha256);
      }
      const plain = await stack.app.inject({ method: 'GET', url: `/v1/backups/${backup.id}/download?decrypt=true`, headers: stack.auth });
      expect(plain.statusCode).toBe(200);
      writeFileSync(join(dir, 'p.zip'), plain.rawPayload);
      const listing = execFileSync('unzip', ['-Z1', 'p.zip'], { cwd: dir }).toString();
      // Every column of this table has a built-in type, so it is stored in binary COPY format.
      expect(listing).toMatch(/data\/Odd%20Schema\/Mixed%20%22Case%22%20name\.pgcopy\n/);
      const odd = execFileSync('unzip', ['-p', 'p.zip', '*/data/Odd%20Schema/Mixed%20%22Case%22%20name.pgcopy'], { cwd: dir });
      expect(odd.subarray(0, 11).equals(Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'))).toBe(true);
      expect(odd.toString()).toContain('ünïcødé 🚀');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records who did what in the audit log, filtered and paged', async () => {
    const all = await stack.app.inject({ method: 'GET', url: '/v1/audit?limit=500', headers: stack.auth });
    const items = all.json().items as { action: string; actor: string; target: string; outcome: string; address: string | null }[];
    expect(items.filter((i) => i.action === 'backup.create').length).toBeGreaterThanOrEqual(3);
    expect(items.find((i) => i.action === 'backup.succeeded' && i.target === backup.id)).toMatchObject({
      actor: 'system',
      outcome: 'succeeded',
    });
    expect(items.find((i) => i.action === 'restore.create')?.actor).toMatch(/^key:[0-9a-f]{12}$/);
    expect(items.find((i) => i.action === 'backup.download')?.address).toBe('127.0.0.1');
    const page1 = await stack.app.inject({ method: 'GET', url: '/v1/audit?action=backup.create&limit=2', headers: stack.auth });
    expect(page1.json().items).toHaveLength(2);
    const page2 = await stack.app.inject({
      method: 'GET',
      url: `/v1/audit?action=backup.create&limit=2&cursor=${page1.json().nextCursor}`,
      headers: stack.auth,
    });
    expect(page2.json().items[0].id).toBeLessThan(page1.json().items[1].id);
    expect((await stack.app.inject({ method: 'GET', url: '/v1/audit?cursor=abc', headers: stack.auth })).statusCode).toBe(400);
  });

  it('exposes Prometheus metrics for backups, restores, verification and queues', async () => {
    expect((await stack.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers: stack.auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const m = res.body;
    expect(m).toMatch(/bk_backups\{source="pg-main",type="database",status="succeeded"\} [1-9]/);
    expect(m).toMatch(/bk_restores\{source="pg-main",status="succeeded"\} [1-9]/);
    expect(m).toMatch(/bk_backup_last_success_timestamp_seconds\{source="pg-main"\} \d{10}/);
    expect(m).toMatch(/bk_backup_verification\{source="pg-main",status="corrupted"\} 1/);
    expect(m).toMatch(/bk_queue_jobs\{queue="export",state="completed"\} [1-9]/);
    expect(m).toMatch(/bk_queue_workers\{queue="export"\} [1-9]/);
  });

  it('shows the work in Bull Board', async () => {
    const basic = `Basic ${Buffer.from(`ops:${stack.apiKey}`).toString('base64')}`;
    const res = await stack.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=export&status=completed',
      headers: { authorization: basic },
    });
    expect(res.statusCode).toBe(200);
    const exportQueue = res.json().queues.find((q: { name: string }) => q.name === 'export');
    expect(exportQueue.counts.completed).toBeGreaterThanOrEqual(backup.tables.length);
  });

  // Last: it empties the catalog.
  it('rebuilds the same backup records from the manifests after the catalog is lost', async () => {
    const pick = (b: Record<string, unknown>) => {
      const { id, status, source, type, rows, bytes, rawBytes, manifestKey, compression, encryption, tables } = b;
      return { id, status, source, type, rows, bytes, rawBytes, manifestKey, compression, encryption, tables };
    };
    const list = (await stack.app.inject({ method: 'GET', url: '/v1/backups?status=succeeded&limit=500', headers: stack.auth })).json()
      .items as { id: string }[];
    expect(list.length).toBeGreaterThanOrEqual(2);
    const before = await Promise.all(
      list.map(async (b) => pick((await stack.app.inject({ method: 'GET', url: `/v1/backups/${b.id}`, headers: stack.auth })).json())),
    );

    await stack.platform.db.query('DELETE FROM restore_tables; DELETE FROM restores; DELETE FROM backups');
    const first = await stack.app.inject({ method: 'POST', url: '/v1/catalog/rescan', headers: stack.auth, payload: {} });
    expect(first.statusCode).toBe(200);
    expect(first.json().problems).toEqual([]);
    expect([...first.json().created].sort()).toEqual(list.map((b) => b.id).sort());
    const after = await Promise.all(
      list.map(async (b) => pick((await stack.app.inject({ method: 'GET', url: `/v1/backups/${b.id}`, headers: stack.auth })).json())),
    );
    expect(after).toEqual(before);

    const second = (await stack.app.inject({ method: 'POST', url: '/v1/catalog/rescan', headers: stack.auth, payload: {} })).json();
    expect(second).toMatchObject({ created: [], unchanged: list.length, problems: [], missingInStorage: [] });
    // And a rebuilt backup restores.
    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: backup.id, targetDatabase: 'e2e_after_rescan' },
    });
    const restore = await waitFor<RestoreView>(stack, `/v1/restores/${r.json().id}`, isFinal);
    expect(restore.status, restore.error).toBe('succeeded');
  });
});

async function readBytes(stack: Stack, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await stack.platform.store.get(key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
async function readText(stack: Stack, key: string): Promise<string> {
  return (await readBytes(stack, key)).toString('utf8');
}

import { setTimeout as sleep } from 'node:timers/promises';
import { listBackupObjects } from '@bk/catalog';
import { parseManifest } from '@bk/core';
import { compareDatabases } from '@bk/postgres';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';
import { type WorkerProcess, spawnWorker } from './support/worker-process.ts';

/**
 * Workers die mid-table: the job is retried by another worker process, the object is
 * rewritten whole, and the restored data is identical. A SIGTERM-ed worker hands its job
 * back instead of failing it.
 */
describe('worker faults with several worker processes', () => {
  let stack: Stack;
  let sourceUrl: string;
  const workers: WorkerProcess[] = [];
  let lastGoodBackup = '';

  beforeAll(async () => {
    sourceUrl = await testServices().createDatabase('faults_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    await c.query(`CREATE TABLE big (id bigint PRIMARY KEY, payload text, n numeric)`);
    await c.query(
      `INSERT INTO big SELECT g, md5(g::text) || md5((g*7)::text) || md5((g*13)::text), g / 3.0 FROM generate_series(1, 600000) g`,
    );
    await c.query(`CREATE TABLE small (id int, v text)`);
    await c.query(`INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 1000) g`);
    await c.end();
    stack = await startStack({
      label: 'faults',
      storage: 's3',
      workers: false,
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
    });
    // The coordinator (which holds the snapshot) runs apart from the exports.
    workers.push(await spawnWorker(stack, ['coordinate', 'finalize']));
    workers.push(await spawnWorker(stack, ['export', 'restore']));
    workers.push(await spawnWorker(stack, ['export', 'restore']));
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await stack?.close();
  });

  /** Waits until an export job of `big` is active, and returns the worker running it. */
  async function workerExportingBig(): Promise<WorkerProcess> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      for (const job of await stack.platform.queues.queues.export.getActive()) {
        if ((job.data as { table: { name: string } }).table.name !== 'big' || !job.processedBy) continue;
        const w = workers.find((x) => job.processedBy?.endsWith(x.nameSuffix));
        if (w) return w;
      }
      await sleep(50);
    }
    throw new Error('no export of table big became active');
  }

  async function backupAndKill(signal: NodeJS.Signals) {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      // gzip 9 is slow on purpose: the export of "big" lasts long enough to be interrupted.
      payload: { source: 'pg-main', type: 'database', compression: { codec: 'gzip', level: 9 } },
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json() as { id: string };
    const victim = await workerExportingBig();
    await sleep(300);
    victim.kill(signal);
    const code = await victim.exited;
    workers.splice(workers.indexOf(victim), 1);
    const backup = await waitFor<{ status: string; error?: string; rows: number }>(stack, `/v1/backups/${id}`, isFinal, 120_000);
    return { id, backup, victim, code };
  }

  it('SIGKILL mid-table: another worker redoes the table and the restore is identical', async () => {
    const { id, backup } = await backupAndKill('SIGKILL');
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(601000);
    const big = (await listBackupObjects(stack.platform.db, id)).find((o) => o.tableName === 'big');
    expect(big?.attempts).toBeGreaterThanOrEqual(2);
    expect(big?.rows).toBe(600000);
    // The retry wrote its own key; the killed attempt's leftovers are gone: the backup's
    // prefix holds exactly the manifest and what it lists.
    expect(big?.storedKey).toMatch(/\.attempt-\d+\./);
    const detail = (await stack.app.inject({ method: 'GET', url: `/v1/backups/${id}`, headers: stack.auth })).json() as {
      manifestKey: string;
    };
    const manifest = parseManifest(
      Buffer.concat(await (await stack.platform.store.get(detail.manifestKey)).toArray()).toString('utf8'),
      'm',
    );
    const stored: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) stored.push(o.key);
    expect(stored.sort()).toEqual([detail.manifestKey, ...manifest.objects.map((o) => o.key)].sort());

    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: id, targetDatabase: 'faults_restored' },
    });
    expect(r.statusCode).toBe(202);
    const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal, 120_000);
    expect(restore.status, restore.error).toBe('succeeded');
    const target = new URL(sourceUrl);
    target.pathname = '/faults_restored';
    expect(await compareDatabases(sourceUrl, target.toString())).toEqual([]);
    lastGoodBackup = id;
  });

  it('cancel mid-restore: the load in progress rolls back, and the record says what was loaded', async () => {
    // A load of 600k rows takes about a second, less than a busy machine may need to
    // deliver the cancel, so the target holds the load open: an event trigger gives the
    // restored table "big" a statement trigger that sleeps before the COPY's first row.
    const targetUrl = await testServices().createDatabase('faults_cancelled');
    const t = new pg.Client({ connectionString: targetUrl });
    await t.connect();
    try {
      await t.query(`
        CREATE FUNCTION hold_copy() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(20); RETURN NULL; END $$;
        CREATE FUNCTION slow_big() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                     WHERE object_type = 'table' AND object_identity = 'public.big') THEN
            CREATE TRIGGER hold BEFORE INSERT ON public.big FOR EACH STATEMENT EXECUTE FUNCTION public.hold_copy();
          END IF;
        END $$;
        CREATE EVENT TRIGGER slow_big ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION slow_big();`);
    } finally {
      await t.end();
    }
    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: lastGoodBackup, targetDatabase: new URL(targetUrl).pathname.slice(1) },
    });
    const id = r.json().id as string;
    // Cancel once the COPY into "big" is under way (held by the trigger).
    const watch = new pg.Client({ connectionString: targetUrl });
    await watch.connect();
    let held = false;
    try {
      const until = Date.now() + 60_000;
      while (!held && Date.now() < until) {
        const { rows } = await watch.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event = 'PgSleep' AND query ILIKE 'COPY %big%'`,
        );
        held = (rows[0]?.n ?? 0) > 0;
        if (!held) await sleep(50);
      }
    } finally {
      await watch.end();
    }
    expect(held, 'the load of big never started').toBe(true);
    const cancel = await stack.app.inject({ method: 'POST', url: `/v1/restores/${id}/cancel`, headers: stack.auth });
    expect(cancel.json()).toEqual({ id, status: 'cancelled' });
    const restore = await waitFor<{ status: string; tables: { name: string; status: string; rows: number | null }[] }>(
      stack,
      `/v1/restores/${id}`,
      (x) => isFinal(x) && !x.tables.some((t) => t.status === 'running'),
      30_000,
    );
    expect(restore.status).toBe('cancelled');
    const big = restore.tables.find((t) => t.name === 'public.big');
    expect(big?.status).not.toBe('succeeded');
    const c = new pg.Client({ connectionString: targetUrl });
    await c.connect();
    try {
      const { rows } = await c.query('SELECT count(*)::int AS n FROM public.big');
      expect(rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('cancel mid-export stops the work on the worker process that runs it; nothing good-looking is left', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      payload: { source: 'pg-main', type: 'database', compression: { codec: 'gzip', level: 9 } },
    });
    const { id } = res.json() as { id: string };
    await workerExportingBig();
    const cancelledAt = Date.now();
    const cancel = await stack.app.inject({ method: 'POST', url: `/v1/backups/${id}/cancel`, headers: stack.auth });
    expect(cancel.json()).toEqual({ id, status: 'cancelled' });
    // The export stops within seconds: no active export of this backup remains.
    const until = Date.now() + 15_000;
    let active = 1;
    while (Date.now() < until && active > 0) {
      active = (await stack.platform.queues.queues.export.getActive()).filter(
        (j) => (j.data as { backupId: string }).backupId === id,
      ).length;
      if (active) await sleep(100);
    }
    expect(active).toBe(0);
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    const b = await waitFor<{ status: string; error?: string }>(stack, `/v1/backups/${id}`, isFinal);
    expect(b.status).toBe('cancelled');
    // No manifest, no object of the interrupted table, no incomplete upload.
    const keys: string[] = [];
    for await (const o of stack.platform.store.list(`backups/pg-main/${id}/`)) keys.push(o.key);
    expect(keys.some((k) => k.endsWith('manifest.json'))).toBe(false);
    expect(keys.some((k) => k.includes('/data/public/big'))).toBe(false);
    expect(await stack.platform.store.abortIncompleteUploads(`backups/pg-main/${id}/`)).toBe(0);
    // Not retried: the export failed for good once.
    const again = await stack.app.inject({ method: 'POST', url: `/v1/backups/${id}/cancel`, headers: stack.auth });
    expect(again.statusCode).toBe(409);
  });

  it('SIGTERM mid-table: the worker hands the job back and exits; the backup still succeeds', async () => {
    workers.push(await spawnWorker(stack, ['export', 'restore']));
    const { backup, victim, code } = await backupAndKill('SIGTERM');
    expect(code).toBe(0);
    expect(await victim.log()).toContain('handing job back');
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(601000);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { listBackupObjects } from '@bk/catalog';
import { TdClient } from '@bk/tdengine';
import { type TdengineTestServer, startTdengineTestServer } from '@bk/tdengine-test-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';
import { type WorkerProcess, spawnWorker } from './support/worker-process.ts';

/**
 * TDengine faults with real worker processes (issue 4, item 10), against the project's
 * TDengine REST *test server*: a worker killed mid-batch is redone by another worker, and a
 * mid-stream fetch error (which taosAdapter ends with code 0) never passes as a good backup.
 */
describe('TDengine worker and server faults with several worker processes', () => {
  let server: TdengineTestServer;
  let client: TdClient;
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  const TABLES = 12;
  const ROWS = 1500;

  const counts = async (db: string) =>
    new Map((await client.queryAll(`SELECT TBNAME, COUNT(*) FROM \`${db}\`.\`meters\` PARTITION BY TBNAME`)).rows.map((r) => [r[0], r[1]]));
  const content = async (db: string, table: string) => (await client.queryAll(`SELECT * FROM \`${db}\`.\`${table}\` ORDER BY ts`)).rows;

  beforeAll(async () => {
    server = await startTdengineTestServer({ port: 0 });
    client = new TdClient({ url: server.url });
    await client.exec("CREATE DATABASE fsrc PRECISION 'us'");
    await client.exec('CREATE STABLE fsrc.meters (ts TIMESTAMP, v DOUBLE, n BIGINT, s VARCHAR(16)) TAGS (site NCHAR(8), k INT)');
    const base = 1_700_000_000_000_000;
    for (let t = 0; t < TABLES; t++) {
      const rows = Array.from({ length: ROWS }, (_, i) => `(${base + i * 1000}, ${i / 7}, ${9007199254740993n + BigInt(i)}, 's${i}')`);
      await client.exec(`INSERT INTO fsrc.c${t} USING fsrc.meters TAGS ('站点${t}', ${t}) VALUES ${rows.join(' ')}`);
    }
    stack = await startStack({
      label: 'tdfaults',
      storage: 'file',
      workers: false,
      sources: { td: { kind: 'tdengine', url: server.url } },
      extra: { tdengine: { childTablesPerJob: 3, pageSize: 300 } },
    });
    workers.push(await spawnWorker(stack, ['coordinate', 'finalize']));
    workers.push(await spawnWorker(stack, ['export', 'restore']));
    workers.push(await spawnWorker(stack, ['export', 'restore']));
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await stack?.close();
    client?.close();
    await server?.close();
  });

  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await stack.app.inject({ method: 'POST', url, headers: stack.auth, payload });
    expect(res.statusCode, res.body).toBe(202);
    return (res.json() as { id: string }).id;
  };

  it('SIGKILL mid-batch: another worker redoes the batch; the restore is identical', async () => {
    // Slow pages, so the batches are still being read when the worker dies.
    server.faults.latency(80, { match: 'FROM `fsrc`.`c' }, 20);
    const id = await post('/v1/backups', { source: 'td', type: 'database', databases: ['fsrc'] });
    let victim: WorkerProcess | undefined;
    let victimKey = '';
    const until = Date.now() + 60_000;
    while (!victim && Date.now() < until) {
      for (const job of await stack.platform.queues.queues.export.getActive()) {
        const w = workers.find((x) => job.processedBy?.endsWith(x.nameSuffix));
        const key = (job.data as { objectKey: string }).objectKey;
        const obj = (await listBackupObjects(stack.platform.db, id)).find((o) => o.key === key);
        // killed once its export is under way (recorded running), not before it started
        if (w && obj?.status === 'running') {
          victim = w;
          victimKey = key;
          break;
        }
      }
      if (!victim) await sleep(20);
    }
    expect(victim, 'an export became active').toBeDefined();
    victim!.kill('SIGKILL');
    await victim!.exited;
    workers.splice(workers.indexOf(victim!), 1);
    const backup = await waitFor<{ status: string; error?: string; rows: number }>(stack, `/v1/backups/${id}`, isFinal, 120_000);
    server.faults.clear();
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(TABLES * ROWS);
    const redone = (await listBackupObjects(stack.platform.db, id)).find((o) => o.key === victimKey);
    expect(redone?.attempts).toBeGreaterThanOrEqual(2);
    expect(redone?.storedKey).toMatch(/\.attempt-\d+\./);

    const rid = await post('/v1/restores', { backupId: id, targetDatabase: 'frestored' });
    const restore = await waitFor<{ status: string; error?: string; rows: number }>(stack, `/v1/restores/${rid}`, isFinal, 120_000);
    expect(restore.status, restore.error).toBe('succeeded');
    expect(await counts('frestored')).toEqual(await counts('fsrc'));
    for (const t of ['c0', 'c5', `c${TABLES - 1}`]) expect(await content('frestored', t)).toEqual(await content('fsrc', t));
  });

  it('the coordinator killed after fanning out: another coordinator resumes at the same cut and the backup completes', async () => {
    server.faults.latency(80, { match: 'FROM `fsrc`.`c' }, 20);
    const id = await post('/v1/backups', { source: 'td', type: 'database', databases: ['fsrc'] });
    // fanned out: the export jobs exist
    const until = Date.now() + 60_000;
    while ((await listBackupObjects(stack.platform.db, id)).filter((o) => o.kind === 'data').length === 0 && Date.now() < until)
      await sleep(20);
    const coordinator = workers[0]!;
    coordinator.kill('SIGKILL');
    await coordinator.exited;
    workers[0] = await spawnWorker(stack, ['coordinate', 'finalize']);
    const backup = await waitFor<{ status: string; error?: string; rows: number }>(stack, `/v1/backups/${id}`, isFinal, 120_000);
    server.faults.clear();
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(TABLES * ROWS);
    expect(await workers[0]!.log()).toContain(id);
  });

  it('the restore coordinator killed mid-restore: another one resumes, and the restore completes identical', async () => {
    const backups = (
      await stack.app.inject({ method: 'GET', url: '/v1/backups?status=succeeded&limit=1', headers: stack.auth })
    ).json() as {
      items: { id: string }[];
    };
    const backupId = backups.items[0]!.id;
    // slow INSERTs into the target, so the loads are under way when the coordinator dies
    server.faults.latency(10_000, { match: 'INTO `fresume`' });
    const rid = await post('/v1/restores', { backupId, targetDatabase: 'fresume' });
    const until = Date.now() + 60_000;
    for (;;) {
      const r = (await stack.app.inject({ method: 'GET', url: `/v1/restores/${rid}`, headers: stack.auth })).json() as {
        tables: { status: string }[];
      };
      if (r.tables.some((t) => t.status === 'running') || Date.now() > until) break;
      await sleep(20);
    }
    const coordinator = workers[0]!;
    coordinator.kill('SIGKILL');
    await coordinator.exited;
    workers[0] = await spawnWorker(stack, ['coordinate', 'finalize']);
    const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${rid}`, isFinal, 120_000);
    server.faults.clear();
    expect(restore.status, restore.error).toBe('succeeded');
    expect(await workers[0]!.log()).toContain('resuming a TDengine restore');
    expect(await counts('fresume')).toEqual(await counts('fsrc'));
  });

  it('a fetch error mid-stream (ended with code 0) is caught by the COUNT check and retried, never stored short', async () => {
    const rule = server.faults.fetchError(100, { match: 'FROM `fsrc`.`c4`', times: 1 });
    const id = await post('/v1/backups', { source: 'td', type: 'table', tables: ['fsrc.meters'] });
    const backup = await waitFor<{ status: string; error?: string; rows: number }>(stack, `/v1/backups/${id}`, isFinal, 120_000);
    expect(rule.fired).toBe(1);
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.rows).toBe(TABLES * ROWS);
    const batch = (await listBackupObjects(stack.platform.db, id)).find((o) => o.members?.some((m) => m.table === 'c4'));
    expect(batch?.attempts).toBe(2);
    expect(batch?.members?.find((m) => m.table === 'c4')?.rows).toBe(ROWS);
  });

  it('a fetch error on every attempt fails the backup with the reason; nothing is marked good', async () => {
    server.faults.fetchError(10, { match: 'FROM `fsrc`.`c7`' });
    const id = await post('/v1/backups', { source: 'td', type: 'table', tables: ['fsrc.meters'] });
    const backup = await waitFor<{ status: string; error?: string; manifestKey: string | null }>(
      stack,
      `/v1/backups/${id}`,
      isFinal,
      120_000,
    );
    server.faults.clear();
    expect(backup.status).toBe('failed');
    expect(backup.error).toMatch(/fsrc\.meters.*COUNT\(\*\)/s);
    expect(backup.manifestKey).toBeNull();
  });
});

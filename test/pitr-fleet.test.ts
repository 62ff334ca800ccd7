import { setTimeout as sleep } from 'node:timers/promises';
import { type PostgresService, startPostgres } from '@bk/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/sql.ts';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';
import { type WorkerProcess, spawnWorker } from './support/worker-process.ts';

/**
 * The WAL streamer as fleet work: two worker processes, exactly one streams; SIGKILL it and
 * the other takes the stream over from the slot, so the archive has no hole: a moment while
 * no one streamed restores exactly.
 */

interface Window {
  windows: { from: string; to: string }[];
  gaps: unknown[];
  streaming: { state: string; holder: string | null; coveredAt: string | null };
}

describe('WAL streamer across the fleet', () => {
  let server: PostgresService;
  let app: string;
  let stack: Stack;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await startPostgres({ settings: { wal_level: 'replica', max_wal_senders: '4', max_replication_slots: '4' } });
    app = await server.createDatabase('fleet');
    await sql(app, `CREATE TABLE public.ticks (id int PRIMARY KEY, phase text NOT NULL)`);
    stack = await startStack({
      label: 'pitrfleet',
      storage: 's3',
      workers: false,
      sources: { 'pg-fleet': { kind: 'postgres', url: app, pitr: { enabled: true, partialUploadSeconds: 1 } } },
      extra: { postgres: { binDir: server.binDir, walLockSeconds: 3 } },
    });
    workers.push(await spawnWorker(stack, ['coordinate', 'finalize', 'export', 'restore', 'maintenance']));
    workers.push(await spawnWorker(stack, ['coordinate', 'finalize', 'export', 'restore', 'maintenance']));
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await stack?.close();
    await server?.stop();
  });

  const post = (url: string, payload: unknown) =>
    stack.app.inject({ method: 'POST', url, headers: stack.auth, payload: payload as object });
  const windowNow = () => waitFor<Window>(stack, '/v1/sources/pg-fleet/recovery-window', () => true);

  it('streams from exactly one worker; a SIGKILLed streamer is replaced with no hole in the window', async () => {
    const first = await waitFor<Window>(stack, '/v1/sources/pg-fleet/recovery-window', (b) => b.streaming.state === 'streaming', 60_000);
    const holderPid = Number(first.streaming.holder?.split(':')[1]);
    const holder = workers.find((w) => w.pid === holderPid);
    expect(holder, `holder ${first.streaming.holder}`).toBeDefined();
    const [senders] = await sql<{ n: number }>(app, `SELECT count(*)::int AS n FROM pg_stat_replication`);
    expect(senders?.n).toBe(1);

    const base = await post('/v1/backups', { source: 'pg-fleet', type: 'base' });
    const done = await waitFor<{ status: string; error?: string }>(stack, `/v1/backups/${base.json().id}`, isFinal, 120_000);
    expect(done.error ?? '').toBe('');
    await sql(app, `INSERT INTO public.ticks SELECT g, 'before kill' FROM generate_series(1, 50) g`);
    await sleep(2500);

    holder!.kill('SIGKILL');
    await holder!.exited;
    // Written while no one streams: the slot keeps it for the next streamer.
    await sql(app, `INSERT INTO public.ticks SELECT g, 'while down' FROM generate_series(51, 100) g`);
    await sleep(1100);
    const [{ now: whileDown } = { now: new Date() }] = await sql<{ now: Date }>(app, 'SELECT clock_timestamp() AS now');
    await sleep(1100);
    await sql(app, `DELETE FROM public.ticks`);

    const after = await waitFor<Window>(
      stack,
      '/v1/sources/pg-fleet/recovery-window',
      (b) =>
        b.streaming.state === 'streaming' &&
        b.streaming.holder !== first.streaming.holder &&
        (b.windows[0]?.to ?? '') > whileDown.toISOString(),
      60_000,
    );
    expect(Number(after.streaming.holder?.split(':')[1])).not.toBe(holderPid);
    expect(after.windows).toHaveLength(1);
    expect(after.gaps).toEqual([]);

    const r = await post('/v1/restores', { source: 'pg-fleet', targetTime: whileDown.toISOString(), targetDatabase: 'fleet_back' });
    expect(r.statusCode, r.body).toBe(202);
    const v = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal, 180_000);
    expect(v.error ?? '').toBe('');
    expect(
      await sql(server.urlFor('fleet_back'), `SELECT phase, count(*)::int AS n FROM public.ticks GROUP BY phase ORDER BY phase`),
    ).toEqual([
      { phase: 'before kill', n: 50 },
      { phase: 'while down', n: 50 },
    ]);
    expect((await windowNow()).streaming.state).toBe('streaming');
  }, 300_000);
});

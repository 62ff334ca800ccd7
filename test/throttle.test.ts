import { setTimeout as sleep } from 'node:timers/promises';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * A source limited to one export at a time and 1 MiB/s, with three export slots per worker:
 * the limits hold across all workers (they live in Redis), and the backup is still complete.
 */
describe('throttling', () => {
  let stack: Stack;
  const RATE = 1024 * 1024;

  beforeAll(async () => {
    const url = await testServices().createDatabase('throttle_src');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const t of ['a', 'b', 'c', 'd']) {
      // ~1 MB of COPY text each.
      await c.query(`CREATE TABLE ${t} (id int, v text); INSERT INTO ${t} SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 14000) g`);
    }
    await c.end();
    stack = await startStack({
      label: 'throttle',
      storage: 'file',
      sources: { 'pg-slow': { kind: 'postgres', url } },
      extra: {
        sources: { 'pg-slow': { kind: 'postgres', url, maxConcurrentExports: 1, maxBytesPerSecond: RATE } },
        workers: { lockDurationMs: 4000, stalledIntervalMs: 2000, attempts: 3, backoffMs: 200, shutdownGraceSeconds: 5, concurrency: { coordinate: 2, export: 3, finalize: 2, restore: 2, maintenance: 1 } },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('never runs more exports of the source than allowed, and reads no faster than the limit', async () => {
    const started = Date.now();
    const res = await stack.app.inject({ method: 'POST', url: '/v1/backups', headers: stack.auth, payload: { source: 'pg-slow', type: 'database', compression: { codec: 'none' } } });
    const id = res.json().id as string;
    let maxActive = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        // Exporting = holding a slot: the object is marked running only after the slot is taken.
        const { rows } = await stack.platform.db.query(`SELECT count(*)::int AS n FROM backup_objects WHERE backup_id = $1 AND kind = 'data' AND status = 'running'`, [id]);
        const active = rows[0].n as number;
        maxActive = Math.max(maxActive, active);
        await sleep(30);
      }
    })();
    const b = await waitFor<{ status: string; error?: string; rawBytes: number; rows: number }>(stack, `/v1/backups/${id}`, isFinal, 120_000);
    done = true;
    await sampler;
    const seconds = (Date.now() - started) / 1000;
    expect(b.status, b.error).toBe('succeeded');
    expect(b.rows).toBe(4 * 14000);
    expect(maxActive).toBe(1);
    // Tables read beyond the first second's burst must take at least (bytes - burst) / rate.
    const tableBytes = b.rawBytes - 100_000; // schema archives are not throttled
    expect(seconds).toBeGreaterThanOrEqual(((tableBytes - RATE) / RATE) * 0.9);
  });
});

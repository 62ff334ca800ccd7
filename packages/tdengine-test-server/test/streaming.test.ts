/**
 * Large results are streamed in ~16 KB chunks as they are produced (contract §1.4), and a
 * stream stays consistent (sorted, no duplicates) while the table is written to.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { Client, ROOT_AUTH, useServer } from './helpers.ts';

const t = useServer();
const c = (): Client => t.client;

/** Reads a response, noting when the first and the last bytes arrived. */
function timedQuery(port: number, sql: string): Promise<{ body: string; firstMs: number; endMs: number; chunks: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/rest/sql', method: 'POST', agent: false, headers: { Authorization: ROOT_AUTH } },
      (res) => {
        const parts: Buffer[] = [];
        let firstMs = -1;
        res.on('data', (d: Buffer) => {
          if (firstMs < 0) firstMs = performance.now() - start;
          parts.push(d);
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({ body: Buffer.concat(parts).toString(), firstMs, endMs: performance.now() - start, chunks: parts.length }),
        );
      },
    );
    req.on('error', reject);
    req.end(sql);
  });
}

describe('streaming', () => {
  it('sends a large result in many chunks, the first long before the last', async () => {
    await c().ok('CREATE DATABASE s');
    await c().ok('CREATE TABLE s.t (ts TIMESTAMP, v BIGINT, s VARCHAR(16))');
    for (let b = 0; b < 4; b++) {
      const rows = Array.from({ length: 5000 }, (_, i) => {
        const n = b * 5000 + i;
        return `(${1_600_000_000_000 + n}, ${9_007_199_254_740_993n + BigInt(n)}, 'row${n}')`;
      });
      await c().ok(`INSERT INTO s.t VALUES ${rows.join(' ')}`);
    }
    t.server.faults.latency(0, { times: 1 }, 25);
    const r = await timedQuery(t.server.port, 'SELECT * FROM s.t');
    expect(r.chunks).toBeGreaterThan(20);
    expect(r.firstMs).toBeLessThan(r.endMs / 2);
    expect(r.body.endsWith('],"rows":20000}')).toBe(true);
    // exact int64 survives: the text carries the bare number
    expect(r.body).toContain('["2020-09-13T12:26:40.000Z",9007199254740993,"row0"]');
    expect(r.body).toContain('["2020-09-13T12:26:59.999Z",9007199254760992,"row19999"]');
  });

  it('keeps order and uniqueness while rows are inserted during the stream', async () => {
    t.server.faults.latency(0, { times: 1 }, 5);
    const pending = timedQuery(t.server.port, 'SELECT ts FROM s.t');
    // writes into the middle shift row positions; the cursor re-seeks by timestamp
    for (let i = 0; i < 20; i++) {
      await c().ok(
        `INSERT INTO s.t VALUES (${1_600_000_000_000 + i * 997}, 1, 'x') (${1_600_000_000_000 - 1 - i}, 1, 'early') (${1_600_000_030_000 + i}, 1, 'late')`,
      );
    }
    const r = await pending;
    const ts = (JSON.parse(r.body) as { data: [string][] }).data.map((row) => Date.parse(row[0]));
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
    expect(ts.length).toBeGreaterThanOrEqual(20000);
  });

  it('a client that goes away stops the stream without harming the server', async () => {
    t.server.faults.latency(0, { times: 1 }, 20);
    await new Promise<void>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: t.server.port, path: '/rest/sql', method: 'POST', agent: false, headers: { Authorization: ROOT_AUTH } },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => resolve());
      req.end('SELECT * FROM s.t');
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(t.server.stats().activeResponses).toBe(0);
    expect(await c().rows('SELECT COUNT(*) FROM s.t')).toEqual([[20040]]);
  });
});

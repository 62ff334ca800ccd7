/**
 * Fault switches of the TDengine REST test server: restfulRowLimit truncation, mid-stream
 * fetch error ending with code 0, HTTP 503, dropped connections, SQL too long, latency,
 * injected TDengine errors; once / N times / always; substring matching; the /_test/
 * admin endpoints; the CLI.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addFaultFromSpec, FaultSwitches, parseFaultSpec, startTdengineTestServer } from '../src/index.ts';
import { Client, ROOT_AUTH, useServer } from './helpers.ts';

const t = useServer({ errorTiming: false });
const c = (): Client => t.client;

/** A request on a fresh connection that reports a destroyed connection instead of throwing. */
function rawRequest(port: number, sql: string): Promise<{ status: number | undefined; body: string; error: string | undefined }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    const parts: Buffer[] = [];
    const req = request(
      { host: '127.0.0.1', port, path: '/rest/sql', method: 'POST', agent: false, headers: { Authorization: ROOT_AUTH } },
      (res) => {
        status = res.statusCode;
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', (e) => resolve({ status, body: Buffer.concat(parts).toString(), error: e.message }));
        res.on('end', () => resolve({ status, body: Buffer.concat(parts).toString(), error: undefined }));
      },
    );
    req.on('error', (e) => resolve({ status, body: Buffer.concat(parts).toString(), error: e.message }));
    req.end(sql);
  });
}

async function setup(): Promise<void> {
  await c().ok('CREATE DATABASE IF NOT EXISTS f');
  await c().ok('CREATE TABLE IF NOT EXISTS f.a (ts TIMESTAMP, v INT)');
  await c().ok('CREATE TABLE IF NOT EXISTS f.b (ts TIMESTAMP, v INT)');
  await c().ok(`INSERT INTO f.a VALUES ${Array.from({ length: 10 }, (_, i) => `(${i + 1}, ${i})`).join(' ')} f.b VALUES (1, 1) (2, 2)`);
}

describe('restfulRowLimit', () => {
  it('as a server option, truncates every result silently with code 0', async () => {
    const s = await startTdengineTestServer({ port: 0, restfulRowLimit: 3 });
    const cl = new Client(s);
    try {
      await cl.ok('CREATE DATABASE d');
      await cl.ok('CREATE TABLE d.t (ts TIMESTAMP, v INT)');
      await cl.ok('INSERT INTO d.t VALUES (1, 1) (2, 2) (3, 3) (4, 4) (5, 5)');
      expect(await cl.sql('SELECT v FROM d.t')).toBe('{"code":0,"column_meta":[["v","INT",4]],"data":[[1],[2],[3]],"rows":3}');
      expect(await cl.sql('SELECT COUNT(*) FROM d.t')).toContain('"data":[[5]]');
    } finally {
      cl.close();
      await s.close();
    }
  });

  it('as a fault: once, then normal; only for matching SQL', async () => {
    await setup();
    t.server.faults.rowLimit(2, { times: 1, match: 'FROM f.a' });
    expect(await c().sql('SELECT v FROM f.b')).toContain('"rows":2}');
    expect(await c().sql('SELECT v FROM f.a')).toBe('{"code":0,"column_meta":[["v","INT",4]],"data":[[0],[1]],"rows":2}');
    expect(await c().sql('SELECT v FROM f.a')).toContain('"rows":10}');
    expect(t.server.stats().faultsFired.rowLimit).toBe(1);
    t.server.faults.clear();
  });
});

describe('mid-stream fetch error', () => {
  it('ends the JSON normally with code 0 and the short row count', async () => {
    t.server.faults.fetchError(4, { times: 2 });
    const first = await c().request('SELECT v FROM f.a');
    expect(first.status).toBe(200);
    expect(first.body).toBe('{"code":0,"column_meta":[["v","INT",4]],"data":[[0],[1],[2],[3]],"rows":4}');
    expect(await c().sql('SELECT v FROM f.a')).toContain('"rows":4}');
    expect(await c().sql('SELECT v FROM f.a')).toContain('"rows":10}');
  });
});

describe('HTTP 503', () => {
  it('fires N times with the JSON string body, then recovers', async () => {
    t.server.faults.http503({ times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await c().request('SELECT v FROM f.a');
      expect([r.status, r.body, r.headers['content-type']]).toEqual([503, '"memory exceeds threshold"', 'application/json; charset=utf-8']);
    }
    expect((await c().request('SELECT v FROM f.a')).status).toBe(200);
  });
});

describe('dropped connection', () => {
  it('destroys the socket mid-stream after N rows', async () => {
    await c().ok('CREATE TABLE f.big (ts TIMESTAMP, v BIGINT)');
    await c().ok(`INSERT INTO f.big VALUES ${Array.from({ length: 5000 }, (_, i) => `(${i + 1}, ${i})`).join(' ')}`);
    t.server.faults.dropConnection({ afterRows: 2000 }, { times: 1 });
    const r = await rawRequest(t.server.port, 'SELECT * FROM f.big');
    expect(r.status).toBe(200);
    expect(r.error).toBeDefined();
    expect(r.body.startsWith('{"code":0,"column_meta":')).toBe(true);
    expect(r.body).not.toContain('"rows":');
    expect((await c().rows('SELECT COUNT(*) FROM f.big'))[0]).toEqual([5000]);
  });

  it('cuts the response even when the result has fewer rows than afterRows', async () => {
    t.server.faults.dropConnection({ afterRows: 1000 }, { times: 1 });
    const r = await rawRequest(t.server.port, 'SELECT v FROM f.a');
    expect(r.error).toBeDefined();
    expect(r.body).toMatch(/^\{"code":0,"column_meta":\[\["v","INT",4\]\],"data":\[\[0\],/);
    expect(r.body).not.toContain('"rows":');
  });

  it('before executing: the statement is not applied', async () => {
    t.server.faults.dropConnection({ beforeExecute: true }, { times: 1, match: 'INSERT' });
    const r = await rawRequest(t.server.port, 'INSERT INTO f.b VALUES (100, 100)');
    expect(r.status).toBeUndefined();
    expect(r.error).toBeDefined();
    expect(await c().rows('SELECT COUNT(*) FROM f.b WHERE ts = 100')).toEqual([[0]]);
  });

  it('on a write without beforeExecute: applied, but no response', async () => {
    t.server.faults.dropConnection({}, { times: 1, match: 'INSERT' });
    const r = await rawRequest(t.server.port, 'INSERT INTO f.b VALUES (101, 101)');
    expect(r.error).toBeDefined();
    expect(await c().rows('SELECT COUNT(*) FROM f.b WHERE ts = 101')).toEqual([[1]]);
  });
});

describe('other faults', () => {
  it('sqlTooLong rejects matching statements with 537', async () => {
    t.server.faults.sqlTooLong({ match: 'f.b VALUES' });
    expect(await c().sql('INSERT INTO f.b VALUES (200, 1)')).toBe('{"code":537,"desc":"SQL statement too long"}');
    expect(await c().sql('INSERT INTO f.a VALUES (200, 1)')).toContain('"code":0');
    t.server.faults.clear('sqlTooLong');
    expect(await c().sql('INSERT INTO f.b VALUES (200, 1)')).toContain('"code":0');
  });

  it('latency delays the response', async () => {
    t.server.faults.latency(150, { times: 1 });
    const start = performance.now();
    await c().ok('SELECT v FROM f.b');
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
  });

  it('taosError injects a TDengine error with HTTP 200', async () => {
    t.server.faults.taosError(0x000b, 'Unable to establish connection', { times: 1 });
    const r = await c().request('SELECT v FROM f.b');
    expect([r.status, r.body]).toEqual([200, '{"code":11,"desc":"Unable to establish connection"}']);
  });

  it('rules of one kind fire in order; exhausted rules stay listed', () => {
    const f = new FaultSwitches();
    f.rowLimit(1, { times: 1 });
    f.rowLimit(5);
    expect(f.take('rowLimit', 'x')?.limit).toBe(1);
    expect(f.take('rowLimit', 'x')?.limit).toBe(5);
    expect(f.take('rowLimit', 'x')?.limit).toBe(5);
    expect(f.list().map((r) => [r.remaining, r.fired])).toEqual([
      [0, 1],
      [null, 2],
    ]);
    expect(() => f.rowLimit(1, { times: 0 })).toThrow(/times/);
  });
});

describe('admin endpoints under /_test/', () => {
  it('add, list, delete faults; stats; reset', async () => {
    t.server.faults.clear();
    const add = await c().request(JSON.stringify({ kind: 'rowLimit', limit: 1, times: 1, match: 'f.a' }), {
      path: '/_test/faults',
      auth: null,
    });
    expect(add.status).toBe(201);
    const rule = JSON.parse(add.body) as { id: number; kind: string; params: { limit: number } };
    expect(rule).toMatchObject({ kind: 'rowLimit', params: { limit: 1 }, remaining: 1, match: 'f.a' });
    const list = JSON.parse((await c().request(undefined, { method: 'GET', path: '/_test/faults', auth: null })).body) as unknown[];
    expect(list).toHaveLength(1);
    expect((await c().request(undefined, { method: 'DELETE', path: `/_test/faults/${rule.id}`, auth: null })).status).toBe(200);
    const bad = await c().request(JSON.stringify({ kind: 'nope' }), { path: '/_test/faults', auth: null });
    expect(bad.status).toBe(400);

    const stats = JSON.parse((await c().request(undefined, { method: 'GET', path: '/_test/stats', auth: null })).body) as Record<
      string,
      unknown
    >;
    expect(stats).toMatchObject({ storage: { databases: 1 } });
    expect(stats.rowsInserted).toBeGreaterThan(5000);
    expect((stats.recentSql as string[]).at(-1)).toBe('SELECT v FROM f.b');

    expect((await c().request(undefined, { path: '/_test/reset', auth: null })).status).toBe(200);
    expect(t.server.stats()).toMatchObject({ storage: { databases: 0, tables: 0, rows: 0 }, rowsInserted: 0 });
    expect(await c().sql('SELECT * FROM f.a')).toBe('{"code":904,"desc":"Database not exist"}');
  });
});

describe('CLI', () => {
  it('parses fault specs', () => {
    expect(parseFaultSpec('fetchError:afterRows=100,times=1,match=meters')).toEqual({
      kind: 'fetchError',
      afterRows: '100',
      times: '1',
      match: 'meters',
    });
    const f = new FaultSwitches();
    expect(addFaultFromSpec(f, parseFaultSpec('dropConnection:afterRows=5,beforeExecute=true'))).toMatchObject({
      params: { afterRows: 5, beforeExecute: true },
      remaining: null,
    });
    expect(() => addFaultFromSpec(f, parseFaultSpec('rowLimit'))).toThrow(/limit is required/);
    expect(() => addFaultFromSpec(f, parseFaultSpec('rowLimit:limit=1,bogus=2'))).toThrow(/unknown field bogus/);
  });

  it('runs on its own with --port and --fault', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--fault', 'rowLimit:limit=1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`exited: ${out}`)));
      });
      expect((await rawRequest(port, 'SELECT 1 UNION')).body).toMatch(/"code":9728/);
      expect((await rawRequest(port, 'SELECT SERVER_VERSION()')).body).toContain('"rows":1');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

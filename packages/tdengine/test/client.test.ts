/** TdClient against the TDengine REST test server (and a scripted server for broken responses). */

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TdClient,
  TdConnectionLostError,
  TdError,
  TdInvalidUrlError,
  TdProtocolError,
  TdTimeoutError,
  TdUnreachableError,
  type TdConnectorError,
} from '../src/index.ts';
import { startRecordingProxy, startScriptedServer, startTestTd, type TestTd } from './support.ts';

const PASSWORD = 'S3cr3t-pw';
let td: TestTd;

beforeAll(async () => {
  td = await startTestTd({ password: PASSWORD });
  const c = td.client;
  await c.exec("CREATE DATABASE cl PRECISION 'ms'");
  await c.exec('CREATE TABLE cl.big (ts TIMESTAMP, v BIGINT, s VARCHAR(40))');
  const values: string[] = [];
  for (let i = 0; i < 30_000; i++) values.push(`(${1_700_000_000_000 + i}, ${9007199254740993n + BigInt(i)}, 'row ${i} padding padding')`);
  for (let i = 0; i < values.length; i += 5000) await c.exec(`INSERT INTO cl.big VALUES ${values.slice(i, i + 5000).join(' ')}`);
});

afterAll(async () => {
  await td?.close();
});

/** Runs `fn`, returns what it threw (and checks the password is nowhere in it). */
async function failure(fn: () => Promise<unknown>): Promise<TdConnectorError & Error> {
  try {
    await fn();
  } catch (err) {
    const e = err as TdConnectorError & Error;
    expect(`${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`).not.toContain(PASSWORD);
    return e;
  }
  throw new Error('expected a failure');
}

describe('TdClient queries', () => {
  it('streams rows in batches, int64 above 2^53 exact', async () => {
    const res = await td.client.query('SELECT ts, v FROM cl.big ORDER BY ts');
    expect(res.columns.map((c) => c.name)).toEqual(['ts', 'v']);
    let n = 0;
    let batches = 0;
    for await (const batch of res.batches()) {
      batches++;
      for (const row of batch) {
        expect(row[1]).toBe((9007199254740993n + BigInt(n)).toString());
        n++;
      }
    }
    expect(n).toBe(30_000);
    expect(batches).toBeGreaterThan(5);
  });

  it('hands out rows while the server is still sending', async () => {
    td.server.faults.latency(0, { times: 1, match: 'stream-me' }, 30);
    const res = await td.client.query('SELECT * FROM cl.big WHERE ts > 0 /* stream-me */');
    const it = res.rows[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(td.server.stats().activeResponses).toBe(1);
    await it.return?.();
    expect(td.server.stats().activeResponses).toBeLessThanOrEqual(1);
  });

  it('executes DDL and INSERT returning affected rows', async () => {
    expect(await td.client.exec('CREATE TABLE cl.small (ts TIMESTAMP, v INT)')).toBe(0);
    expect(await td.client.exec('INSERT INTO cl.small VALUES (1, 1) (2, 2) (3, NULL)')).toBe(3);
  });

  it('leaving a loop early cancels the response; the client keeps working', async () => {
    const res = await td.client.query('SELECT * FROM cl.big');
    for await (const row of res.rows) {
      expect(row).toHaveLength(3);
      break;
    }
    const again = await td.client.queryAll('SELECT COUNT(*) FROM cl.big');
    expect(again.rows).toEqual([['30000']]);
  });

  it('gzips both ways, keeps connections alive and URL-encodes parameters', async () => {
    const proxy = await startRecordingProxy(td.server.port);
    const c = td.newClient({ url: `http://root:${PASSWORD}@127.0.0.1:${proxy.port}`, gzipRequestMinBytes: 0, app: 'bk backup/1' });
    try {
      for (let i = 0; i < 5; i++) expect((await c.queryAll('SELECT COUNT(*) FROM cl.big')).rows).toEqual([['30000']]);
      const res = await c.queryAll('SELECT ts, v, s FROM cl.big', { db: 'cl', reqId: 42n });
      expect(res.rows).toHaveLength(30_000);
      await failure(() => c.exec('SELECT 1 FROM nope', { db: 'a b/ç' }));
      expect(proxy.connections()).toBe(1);
      for (const ex of proxy.exchanges) {
        expect(ex.requestHeaders['content-encoding']).toBe('gzip');
        expect(ex.requestHeaders['accept-encoding']).toBe('gzip');
        expect(ex.responseHeaders['content-encoding']).toBe('gzip');
        expect(ex.path.startsWith('/rest/sql')).toBe(true);
      }
      expect(proxy.exchanges[5]!.path).toBe('/rest/sql/cl?app=bk+backup%2F1&req_id=42');
      expect(proxy.exchanges[6]!.path).toBe('/rest/sql/a%20b%2F%C3%A7?app=bk+backup%2F1');
    } finally {
      c.close();
      await proxy.close();
    }
  });

  it('asks for identity responses and sends small bodies plain when told to', async () => {
    const proxy = await startRecordingProxy(td.server.port);
    const c = td.newClient({ url: `http://root:${PASSWORD}@127.0.0.1:${proxy.port}`, compression: false });
    try {
      expect((await c.queryAll('SELECT COUNT(*) FROM cl.big')).rows).toEqual([['30000']]);
      expect(proxy.exchanges[0]!.requestHeaders['content-encoding']).toBeUndefined();
      expect(proxy.exchanges[0]!.requestHeaders['accept-encoding']).toBe('identity');
      expect(proxy.exchanges[0]!.responseHeaders['content-encoding']).toBeUndefined();
    } finally {
      c.close();
      await proxy.close();
    }
  });
});

describe('TdClient errors', () => {
  it('HTTP 200 with a non-zero code is a TdError with code and desc', async () => {
    const e = await failure(() => td.client.query('SELEC 1'));
    expect(e).toBeInstanceOf(TdError);
    expect(e).toMatchObject({ code: 0x2600, httpStatus: 200, permanent: true });
    const missing = await failure(() => td.client.query('SELECT * FROM cl.nope'));
    expect(missing).toMatchObject({ code: 0x2603, httpStatus: 200 });
  });

  it('4xx / 5xx carry the status and the body code', async () => {
    const strict = await startTestTd({ password: PASSWORD, httpCodeServerError: true });
    try {
      const e = await failure(() => strict.client.query('SELEC 1'));
      expect(e).toMatchObject({ code: 0x2600, httpStatus: 400, permanent: true });
      const wrong = strict.newClient({ url: strict.server.url.replace(PASSWORD, 'nope') });
      expect(await failure(() => wrong.query('SHOW DATABASES'))).toMatchObject({ code: 855, httpStatus: 401, permanent: true });
    } finally {
      await strict.close();
    }
    const empty = await failure(() => td.client.query('   '));
    expect(empty).toMatchObject({ code: 4359, httpStatus: 400 });
  });

  it('a wrong password fails without showing it', async () => {
    const c = td.newClient({ url: td.server.url.replace(PASSWORD, 'Wr0ng-secret') });
    const e = await failure(() => c.query('SHOW DATABASES'));
    expect(e).toMatchObject({ code: 855, httpStatus: 200, permanent: true });
    expect(e.message).not.toContain('Wr0ng-secret');
    expect(e.message).toContain('root@127.0.0.1');
  });

  it('503 with a JSON string body is a transient TdError with the status', async () => {
    td.server.faults.http503({ times: 1, match: 'cl.big' });
    const e = await failure(() => td.client.query('SELECT COUNT(*) FROM cl.big'));
    expect(e).toBeInstanceOf(TdError);
    expect(e).toMatchObject({ code: null, desc: 'memory exceeds threshold', httpStatus: 503, permanent: false });
  });

  it('an unreachable server is a TdUnreachableError; a URL without credentials is refused', async () => {
    const c = new TdClient({ url: `http://root:${PASSWORD}@127.0.0.1:1` });
    try {
      expect(await failure(() => c.query('SHOW DATABASES'))).toBeInstanceOf(TdUnreachableError);
    } finally {
      c.close();
    }
    expect(() => new TdClient({ url: 'http://127.0.0.1:6041' })).toThrow(TdInvalidUrlError);
    expect(() => new TdClient({ url: `postgres://root:${PASSWORD}@h` })).toThrow(/scheme/);
  });

  it('a dropped connection mid-stream is an error, never a short result', async () => {
    td.server.faults.dropConnection({ afterRows: 10_000 }, { times: 1, match: 'drop-me' });
    const res = await td.client.query('SELECT * FROM cl.big WHERE ts > 0 /* drop-me */');
    let n = 0;
    const e = await failure(async () => {
      for await (const batch of res.batches()) n += batch.length;
    });
    expect(e).toBeInstanceOf(TdConnectionLostError);
    expect(n).toBeLessThan(30_000);
    expect((e as TdConnectionLostError).rowsReceived).toBe(n);
    // before the response
    td.server.faults.dropConnection({ beforeExecute: true }, { times: 1, match: 'drop-early' });
    const early = await failure(() => td.client.query('SELECT * FROM cl.small /* drop-early */'));
    expect(early).toBeInstanceOf(TdConnectionLostError);
  });

  it('sends a read once more when a kept-alive connection breaks before responding, never a write', async () => {
    await td.client.queryAll('SELECT COUNT(*) FROM cl.small');
    const before = td.server.stats().faultsFired.dropConnection;
    td.server.faults.dropConnection({ beforeExecute: true }, { times: 1, match: 'retry-read' });
    expect((await td.client.queryAll('SELECT * FROM cl.small /* retry-read */')).rows).toHaveLength(3);
    expect(td.server.stats().faultsFired.dropConnection).toBe(before + 1);
    await td.client.queryAll('SELECT COUNT(*) FROM cl.small');
    td.server.faults.dropConnection({ beforeExecute: true }, { times: 1, match: 'INSERT INTO cl.small' });
    expect(await failure(() => td.client.exec('INSERT INTO cl.small VALUES (4, 4)'))).toBeInstanceOf(TdConnectionLostError);
  });

  it('a call past its deadline is a TdTimeoutError; an aborted call rejects with the reason', async () => {
    td.server.faults.latency(2000, { times: 1, match: 'slow-one' });
    const t = await failure(() => td.client.query('SELECT * FROM cl.small /* slow-one */', { timeoutMs: 100 }));
    expect(t).toBeInstanceOf(TdTimeoutError);
    // the deadline covers reading the rows
    td.server.faults.latency(0, { times: 1, match: 'slow-rows' }, 50);
    const t2 = await failure(async () => {
      const res = await td.client.query('SELECT * FROM cl.big WHERE ts > 0 /* slow-rows */', { timeoutMs: 300 });
      for await (const _ of res.batches()) void _;
    });
    expect(t2).toBeInstanceOf(TdTimeoutError);

    const ac = new AbortController();
    td.server.faults.latency(2000, { times: 1, match: 'abort-me' });
    const p = td.client.query('SELECT * FROM cl.small /* abort-me */', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stopped by test')), 50);
    await expect(p).rejects.toThrow('stopped by test');
  });
});

describe('TdClient against broken responses', () => {
  const cases: [string, (res: import('node:http').ServerResponse) => void, (e: Error) => void][] = [
    [
      'truncated JSON that still ends the HTTP body',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"code":0,"column_meta":[["v","BIGINT",8]],"data":[[1],[2]');
      },
      (e) => expect(e).toBeInstanceOf(TdProtocolError),
    ],
    [
      'a rows count that disagrees',
      (res) => {
        res.writeHead(200);
        res.end('{"code":0,"column_meta":[["v","BIGINT",8]],"data":[[1],[2]],"rows":5}');
      },
      (e) => expect(e).toBeInstanceOf(TdProtocolError),
    ],
    [
      'invalid UTF-8',
      (res) => {
        res.writeHead(200);
        res.end(
          Buffer.concat([
            Buffer.from('{"code":0,"column_meta":[["s","VARCHAR",8]],"data":[["'),
            Buffer.from([0xc3, 0x28]),
            Buffer.from('"]],"rows":1}'),
          ]),
        );
      },
      (e) => expect(e.message).toMatch(/UTF-8/),
    ],
    [
      "gin's text 404",
      (res) => {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('404 page not found');
      },
      (e) => expect(e).toMatchObject({ code: null, desc: '404 page not found', httpStatus: 404, permanent: true }),
    ],
    [
      'a truncated gzip body',
      (res) => {
        res.writeHead(200, { 'Content-Encoding': 'gzip' });
        const z = gzipSync('{"code":0,"column_meta":[["v","BIGINT",8]],"data":[[1],[2]],"rows":2}');
        res.end(z.subarray(0, z.length - 6));
      },
      (e) => expect(e).toBeInstanceOf(TdProtocolError),
    ],
    [
      'HTML from a proxy',
      (res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>bad gateway</html>');
      },
      (e) => expect(e).toBeInstanceOf(TdProtocolError),
    ],
  ];

  for (const [name, reply, check] of cases) {
    it(`fails on ${name}`, async () => {
      const s = await startScriptedServer((_req, res) => reply(res));
      const c = new TdClient({ url: s.url });
      try {
        const e = await failure(() => c.queryAll('SELECT v FROM x'));
        check(e);
      } finally {
        c.close();
        await s.close();
      }
    });
  }
});

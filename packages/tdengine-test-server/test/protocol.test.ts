/**
 * The REST protocol of the TDengine REST test server against the contract
 * (../shared/tdengine-rest.md §1, beside the checkout): documented examples byte for byte, headers,
 * auth, URL parameters, routes, errors and their HTTP statuses, gzip.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Client, maskTiming, useServer } from './helpers.ts';
import { startTdengineTestServer } from '../src/index.ts';

// error bodies without "timing" (taosAdapter < 3.3.3.0), so the documented bytes can be pinned
const legacy = useServer({ errorTiming: false });
const current = useServer();

describe('documented examples, byte for byte', () => {
  it('§1.4 verification query on information_schema.ins_databases', async () => {
    const body = await legacy.client.sql('select name, ntables, status from information_schema.ins_databases;');
    expect(body).toBe(
      '{"code":0,"column_meta":[["name","VARCHAR",64],["ntables","BIGINT",8],["status","VARCHAR",10]],' +
        '"data":[["information_schema",16,"ready"],["performance_schema",9,"ready"]],"rows":2}',
    );
  });

  it('§1.4 INSERT/DDL result', async () => {
    expect(await legacy.client.sql('CREATE DATABASE IF NOT EXISTS doc')).toBe(
      '{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[[0]],"rows":1}',
    );
  });

  it('§1.4 affected rows with row_with_meta=true, and with timing=true (restful_test.go)', async () => {
    const c = legacy.client;
    await c.ok('CREATE TABLE doc.rwm (ts TIMESTAMP, v INT)');
    expect(await c.sql('INSERT INTO doc.rwm VALUES (1, 1)', { path: '/rest/sql?row_with_meta=true' })).toBe(
      '{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[{"affected_rows":1}],"rows":1}',
    );
    const timed = await c.sql('INSERT INTO doc.rwm VALUES (2, 2)', { path: '/rest/sql?row_with_meta=true&timing=true' });
    expect(timed).toMatch(
      /^\{"code":0,"column_meta":\[\["affected_rows","INT",4\]\],"data":\[\{"affected_rows":1\}\],"rows":1,"timing":\d+\}$/,
    );
  });

  it('§1.4 query example (7 columns, ms timestamps)', async () => {
    const c = legacy.client;
    await c.ok(
      'CREATE TABLE doc.req (ts TIMESTAMP, count BIGINT, endpoint VARCHAR(45), status_code INT, client_ip VARCHAR(40), request_method VARCHAR(15), request_uri VARCHAR(128))',
    );
    await c.ok(
      "INSERT INTO doc.req VALUES ('2022-06-29T05:50:55.401Z', 2, 'LAPTOP-NNKFTLTG:6041', 200, '172.23.208.1', 'POST', '/rest/sql')" +
        " ('2022-06-29T05:52:16.603Z', 1, 'LAPTOP-NNKFTLTG:6041', 200, '172.23.208.1', 'POST', '/rest/sql')",
    );
    expect(await c.sql('SELECT * FROM doc.req')).toBe(
      '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["count","BIGINT",8],["endpoint","VARCHAR",45],["status_code","INT",4],' +
        '["client_ip","VARCHAR",40],["request_method","VARCHAR",15],["request_uri","VARCHAR",128]],' +
        '"data":[["2022-06-29T05:50:55.401Z",2,"LAPTOP-NNKFTLTG:6041",200,"172.23.208.1","POST","/rest/sql"],' +
        '["2022-06-29T05:52:16.603Z",1,"LAPTOP-NNKFTLTG:6041",200,"172.23.208.1","POST","/rest/sql"]],"rows":2}',
    );
  });

  it('§1.4 row_with_meta=true query form', async () => {
    const c = legacy.client;
    await c.ok('CREATE STABLE doc.meters (ts TIMESTAMP, current FLOAT, voltage INT, phase FLOAT) TAGS (groupid INT, location VARCHAR(24))');
    await c.ok(
      "INSERT INTO doc.d1 USING doc.meters TAGS (8, 'California.Sunnyvale') VALUES ('2017-07-14 02:40:00.000', -2.498076, 0, -0.846025)",
    );
    expect(
      await c.sql('SELECT ts, current, voltage, phase, groupid, location FROM doc.meters', { path: '/rest/sql?row_with_meta=true' }),
    ).toBe(
      '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["current","FLOAT",4],["voltage","INT",4],["phase","FLOAT",4],["groupid","INT",4],["location","VARCHAR",24]],' +
        '"data":[{"ts":"2017-07-14T02:40:00.000Z","current":-2.498076,"voltage":0,"phase":-0.846025,"groupid":8,"location":"California.Sunnyvale"}],"rows":1}',
    );
  });

  it('§1.4 empty result', async () => {
    expect(await legacy.client.sql('SELECT * FROM doc.req WHERE ts < 0')).toMatch(/"data":\[\],"rows":0\}$/);
  });

  it('§1.5 syntax error example', async () => {
    expect(await legacy.client.sql('SELECT * FROM doc.req LIMIT 1 1')).toBe('{"code":9728,"desc":"syntax error near \\"1\\""}');
  });

  it('§1.2 login token for root/taosdata', async () => {
    const r = await legacy.client.request(undefined, { method: 'GET', path: '/rest/login/root/taosdata', auth: null });
    expect(r.status).toBe(200);
    expect(r.body).toBe('{"code":0,"desc":"/KfeAzX/f9na8qdtNZmtONryp201ma04bEl8LcvLUd7a8qdtNZmtONryp201ma04"}');
  });

  it('§1.6 timestamp examples in ms, us, ns and with tz=Asia/Shanghai', async () => {
    const c = legacy.client;
    for (const p of ['ms', 'us', 'ns']) {
      await c.ok(`CREATE DATABASE ts_${p} PRECISION '${p}'`);
      await c.ok(`CREATE TABLE ts_${p}.t (ts TIMESTAMP, v INT)`);
      await c.ok(`INSERT INTO ts_${p}.t VALUES ('2022-06-29T05:50:55.401123456Z', 1)`);
    }
    expect(await c.rows('SELECT ts FROM ts_ms.t')).toEqual([['2022-06-29T05:50:55.401Z']]);
    expect(await c.rows('SELECT ts FROM ts_us.t')).toEqual([['2022-06-29T05:50:55.401123Z']]);
    expect(await c.rows('SELECT ts FROM ts_ns.t')).toEqual([['2022-06-29T05:50:55.401123456Z']]);
    expect(await c.rows('SELECT ts FROM ts_ms.t', { path: '/rest/sql?tz=Asia/Shanghai' })).toEqual([['2022-06-29T13:50:55.401+08:00']]);
    expect(await c.rows('SELECT ts FROM ts_ms.t', { path: '/rest/sql?tz=Etc%2FGMT%2B10' })).toEqual([['2022-06-28T19:50:55.401-10:00']]);
  });
});

describe('success responses', () => {
  it('are chunked application/json with keys code, column_meta, data, rows', async () => {
    const r = await legacy.client.request('SELECT * FROM doc.req');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(Object.keys(JSON.parse(r.body) as object)).toEqual(['code', 'column_meta', 'data', 'rows']);
  });

  it('timing=true appends "timing" in ns to query bodies', async () => {
    expect(await legacy.client.sql('SELECT v FROM doc.rwm', { path: '/rest/sql?timing=true' })).toMatch(/,"rows":2,"timing":\d+\}$/);
  });

  it('/rest/sql/{db} resolves unqualified names; USE has no lasting effect', async () => {
    const c = legacy.client;
    expect(await c.rows('SELECT v FROM rwm ORDER BY ts', { path: '/rest/sql/doc' })).toEqual([[1], [2]]);
    await c.ok('USE doc');
    expect(await c.sql('SELECT v FROM rwm')).toBe('{"code":9750,"desc":"Database not specified"}');
    // an unknown db in the path is ignored, as taosAdapter ignores the failing `use`
    expect(await c.sql('CREATE DATABASE from_path', { path: '/rest/sql/nosuchdb' })).toContain('"code":0');
  });
});

describe('errors and HTTP statuses', () => {
  it('every error body carries "timing" by default (taosAdapter >= 3.3.3.0)', async () => {
    const r = await current.client.request('SELEC 1');
    expect(r.status).toBe(200);
    expect(maskTiming(r.body)).toBe('{"code":9728,"desc":"syntax error near \\"SELEC 1\\"","timing":T}');
  });

  it('unknown database → 904, unknown table → 9731, HTTP 200', async () => {
    const c = legacy.client;
    const db = await c.request('SELECT * FROM nodb.t');
    expect([db.status, db.body]).toEqual([200, '{"code":904,"desc":"Database not exist"}']);
    const tb = await c.request('SELECT * FROM doc.nosuch');
    expect([tb.status, tb.body]).toEqual([200, '{"code":9731,"desc":"Table does not exist: nosuch"}']);
  });

  it('unsupported statements are syntax errors', async () => {
    expect(await legacy.client.sql('ALTER TABLE doc.rwm ADD COLUMN x INT')).toBe(
      '{"code":9728,"desc":"syntax error near \\"ALTER TABLE doc.rwm ADD COLUMN x INT\\""}',
    );
  });

  it('auth header problems → 401 with taosAdapter codes', async () => {
    const c = legacy.client;
    const none = await c.request('SELECT 1', { auth: null });
    expect([none.status, none.body]).toEqual([401, '{"code":4357,"desc":"no auth info input"}']);
    const badB64 = await c.request('SELECT 1', { auth: 'Basic !!!' });
    expect([badB64.status, badB64.body]).toEqual([401, '{"code":4388,"desc":"invalid basic Authorization"}']);
    const noColon = await c.request('SELECT 1', { auth: `Basic ${Buffer.from('root').toString('base64')}` });
    expect([noColon.status, noColon.body]).toEqual([401, '{"code":4388,"desc":"invalid basic Authorization"}']);
    const emptyPass = await c.request('SELECT 1', { auth: `Basic ${Buffer.from('root:').toString('base64')}` });
    expect(emptyPass.status).toBe(401);
    const scheme = await c.request('SELECT 1', { auth: 'Digest abc' });
    expect([scheme.status, scheme.body]).toEqual([401, '{"code":4386,"desc":"invalid type of Authorization"}']);
    const token = await c.request('SELECT 1', { auth: 'Taosd nope' });
    expect([token.status, token.body]).toEqual([401, '{"code":4389,"desc":"invalid taosd Authorization"}']);
  });

  it('a wrong password is TDengine error 855 with HTTP 200 (401 with httpCodeServerError)', async () => {
    const bad = `Basic ${Buffer.from('root:wrong').toString('base64')}`;
    const r = await legacy.client.request('SELECT 1', { auth: bad });
    expect([r.status, r.body]).toEqual([200, '{"code":855,"desc":"Authentication failure"}']);
    const strict = await startTdengineTestServer({ port: 0, httpCodeServerError: true, errorTiming: false });
    const c = new Client(strict);
    try {
      const r2 = await c.request('SELECT 1', { auth: bad });
      expect([r2.status, r2.body]).toEqual([401, '{"code":855,"desc":"Authentication failure"}']);
      const syntax = await c.request('SELEC 1');
      expect(syntax.status).toBe(400);
      const missing = await c.request('SELECT * FROM nodb.t');
      expect(missing.status).toBe(500);
    } finally {
      c.close();
      await strict.close();
    }
  });

  it('Taosd and Bearer tokens from /rest/login; Bearer with ?token= is refused', async () => {
    const c = legacy.client;
    const login = JSON.parse((await c.request(undefined, { method: 'GET', path: '/rest/login/root/taosdata', auth: null })).body) as {
      desc: string;
    };
    expect(await c.rows('SELECT 1', { auth: `Taosd ${login.desc}` })).toEqual([[1]]);
    expect(await c.rows('SELECT 1', { auth: `Bearer ${login.desc}` })).toEqual([[1]]);
    const both = await c.request('SELECT 1', { auth: `Bearer ${login.desc}`, path: '/rest/sql?token=x' });
    expect([both.status, both.body]).toEqual([401, '{"code":4386,"desc":"invalid type of Authorization"}']);
    const wrong = await c.request(undefined, { method: 'GET', path: '/rest/login/root/nope', auth: null });
    expect(wrong.body).toBe('{"code":855,"desc":"Authentication failure"}');
  });

  it('empty and blank bodies → 400', async () => {
    const c = legacy.client;
    const empty = await c.request('');
    expect([empty.status, empty.body]).toEqual([400, '{"code":4358,"desc":"request is empty"}']);
    const blank = await c.request(' \n\t ');
    expect([blank.status, blank.body]).toEqual([400, '{"code":4359,"desc":"no sql input"}']);
  });

  it('bad URL parameters → 400 with code 65535', async () => {
    const c = legacy.client;
    const tz = await c.request('SELECT 1', { path: '/rest/sql?tz=Mars/Base' });
    expect([tz.status, tz.body]).toEqual([400, '{"code":65535,"desc":"unknown time zone Mars/Base"}']);
    const reqId = await c.request('SELECT 1', { path: '/rest/sql?req_id=abc' });
    expect([reqId.status, reqId.body]).toEqual([
      400,
      '{"code":65535,"desc":"illegal param, req_id must be numeric strconv.ParseInt: parsing \\"abc\\": invalid syntax"}',
    ]);
    const rwm = await c.request('SELECT 1', { path: '/rest/sql?row_with_meta=yes' });
    expect([rwm.status, rwm.body]).toEqual([
      400,
      '{"code":65535,"desc":"illegal param, row_with_meta must be boolean strconv.ParseBool: parsing \\"yes\\": invalid syntax"}',
    ]);
    expect(await c.rows('SELECT 1', { path: '/rest/sql?req_id=42&row_with_meta=false' })).toEqual([[1]]);
  });

  it('SQL over 1 MiB → 537, exactly 1 MiB is accepted', async () => {
    const c = legacy.client;
    const prefix = "SELECT '";
    const exact = `${prefix}${'x'.repeat(1024 * 1024 - prefix.length - 1)}'`;
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
    expect(await c.sql(exact)).toMatch(/^\{"code":0,/);
    const over = `${prefix}${'x'.repeat(1024 * 1024 - prefix.length)}'`;
    const r = await c.request(over);
    expect([r.status, r.body]).toEqual([200, '{"code":537,"desc":"SQL statement too long"}']);
  });
});

describe('routes', () => {
  it('POST /rest/sql/ → 307 to /rest/sql, query string kept', async () => {
    const r = await legacy.client.request('SELECT 1', { path: '/rest/sql/?req_id=1' });
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe('/rest/sql?req_id=1');
  });

  it('unknown routes and GET /rest/sql → 404 "404 page not found"', async () => {
    for (const [method, path] of [
      ['GET', '/rest/sql'],
      ['POST', '/nope'],
      ['POST', '/rest/other'],
    ] as const) {
      const r = await legacy.client.request(undefined, { method, path });
      expect([r.status, r.body, r.headers['content-type']]).toEqual([404, '404 page not found', 'text/plain']);
    }
  });
});

describe('gzip', () => {
  it('decompresses gzip request bodies and compresses responses on Accept-Encoding: gzip', async () => {
    const r = await legacy.client.request(gzipSync('SELECT v FROM doc.rwm ORDER BY ts'), {
      headers: { 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip, deflate' },
    });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(r.raw).toString()).toBe('{"code":0,"column_meta":[["v","INT",4]],"data":[[1],[2]],"rows":2}');
  });

  it('a request body that is not gzip → 400', async () => {
    const r = await legacy.client.request('SELECT 1', { headers: { 'Content-Encoding': 'gzip' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/^\{"code":65535,"desc":"invalid gzip request body/);
  });

  it('gzips error bodies too', async () => {
    const r = await legacy.client.request('SELEC', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gunzipSync(r.raw).toString()).toBe('{"code":9728,"desc":"syntax error near \\"SELEC\\""}');
  });
});

/**
 * JSON encoding of every TDengine 3 type (contract §1.6): column_meta names and lengths,
 * bare int64 numbers, shortest FLOAT/DOUBLE, hex for binary types, nested JSON tags,
 * DECIMAL strings, escaping of strings, timestamps per precision.
 */
import { describe, expect, it } from 'vitest';
import { formatDouble, formatFloat, jsonString } from '../src/protocol/encode.ts';
import { useServer } from './helpers.ts';

const t = useServer({ errorTiming: false });
const c = (): typeof t.client => t.client;

describe('all types (taosAdapter TestAllType)', () => {
  it('column_meta and values match the contract', async () => {
    await c().ok('CREATE DATABASE alltype');
    await c().ok(
      'CREATE STABLE alltype.alltype (ts timestamp,v1 bool,v2 tinyint,v3 smallint,v4 int,v5 bigint,v6 tinyint unsigned,v7 smallint unsigned,' +
        'v8 int unsigned,v9 bigint unsigned,v10 float,v11 double,v12 binary(20),v13 nchar(20),v14 varbinary(20),v15 geometry(100),' +
        'v16 decimal(20,4),v17 blob) tags (info json)',
    );
    await c().ok(
      `INSERT INTO alltype.t1 USING alltype.alltype TAGS ('{"table":"t1"}') VALUES ('2024-01-02T03:04:05.006Z',true,2,3,4,5,6,7,8,9,10.123,11.123,` +
        `'中文"binary','中文nchar','\\xaabbcc','point(100 100)',4467440737095516.123,'\\x010203ffdd')` +
        ` ('2024-01-02T03:04:05.007Z',null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null)`,
    );
    const body = await c().sql('SELECT * FROM alltype.alltype');
    expect(body).toBe(
      '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["v1","BOOL",1],["v2","TINYINT",1],["v3","SMALLINT",2],["v4","INT",4],' +
        '["v5","BIGINT",8],["v6","TINYINT UNSIGNED",1],["v7","SMALLINT UNSIGNED",2],["v8","INT UNSIGNED",4],["v9","BIGINT UNSIGNED",8],' +
        '["v10","FLOAT",4],["v11","DOUBLE",8],["v12","VARCHAR",20],["v13","NCHAR",20],["v14","VARBINARY",20],["v15","GEOMETRY",100],' +
        '["v16","DECIMAL(20,4)",16],["v17","BLOB",4194304],["info","JSON",4095]],"data":[' +
        '["2024-01-02T03:04:05.006Z",true,2,3,4,5,6,7,8,9,10.123,11.123,"中文\\"binary","中文nchar","aabbcc",' +
        '"010100000000000000000059400000000000005940","4467440737095516.1230","010203ffdd",{"table":"t1"}],' +
        '["2024-01-02T03:04:05.007Z",null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,{"table":"t1"}]],"rows":2}',
    );
  });
});

describe('integers', () => {
  it('BIGINT and BIGINT UNSIGNED extremes are bare, exact JSON numbers', async () => {
    await c().ok(
      'CREATE TABLE alltype.ints (ts TIMESTAMP, b BIGINT, u BIGINT UNSIGNED, t TINYINT, ut TINYINT UNSIGNED, i INT, ui INT UNSIGNED)',
    );
    await c().ok(
      'INSERT INTO alltype.ints VALUES (1, 9223372036854775807, 18446744073709551615, 127, 255, 2147483647, 4294967295)' +
        ' (2, -9223372036854775808, 0, -128, 0, -2147483648, 0) (3, -9223372036854775807, 9007199254740993, 0, 0, 0, 0)',
    );
    const body = await c().sql('SELECT b, u, t, ut, i, ui FROM alltype.ints');
    expect(body).toContain(
      '"data":[[9223372036854775807,18446744073709551615,127,255,2147483647,4294967295],' +
        '[-9223372036854775808,0,-128,0,-2147483648,0],[-9223372036854775807,9007199254740993,0,0,0,0]]',
    );
  });

  it('out-of-range integers are rejected', async () => {
    expect(await c().sql('INSERT INTO alltype.ints (ts, t) VALUES (9, 128)')).toMatch(/^\{"code":9728,"desc":"syntax error near \\"128\\"/);
    expect(await c().sql('INSERT INTO alltype.ints (ts, u) VALUES (9, -1)')).toMatch(/^\{"code":9728,/);
    expect(await c().sql('INSERT INTO alltype.ints (ts, b) VALUES (9, 9223372036854775808)')).toMatch(/^\{"code":9728,/);
  });
});

describe('floating point', () => {
  it('FLOAT prints the shortest float32 decimal, DOUBLE the shortest double, e-notation as Go', async () => {
    await c().ok('CREATE TABLE alltype.fl (ts TIMESTAMP, f FLOAT, d DOUBLE)');
    await c().ok(
      'INSERT INTO alltype.fl VALUES (1, 3.4028234663852886e38, 1.7976931348623157e308) (2, 0.1, 0.1) (3, 1e-7, 1e-7)' +
        ' (4, -0.0, 5e-324) (5, 1e21, 1e21) (6, 123456789, 1e20) (7, 0.000001, 0.000001)',
    );
    const body = await c().sql('SELECT f, d FROM alltype.fl');
    expect(body).toContain(
      '"data":[[3.4028235e+38,1.7976931348623157e+308],[0.1,0.1],[1e-07,1e-07],[-0,5e-324],[1e+21,1e+21],[123456790,100000000000000000000],[0.000001,0.000001]]',
    );
  });

  it('formatters: NaN and infinities are null', () => {
    expect(formatFloat(Number.NaN)).toBe('null');
    expect(formatDouble(Number.POSITIVE_INFINITY)).toBe('null');
    expect(formatDouble(Number.NEGATIVE_INFINITY)).toBe('null');
    expect(formatFloat(Math.fround(1.1))).toBe('1.1');
    expect(formatFloat(Math.fround(16777217))).toBe('16777216');
    expect(formatDouble(-1.5e-10)).toBe('-1.5e-10');
  });
});

describe('strings and binary', () => {
  it('VARCHAR/NCHAR: empty string vs NULL, escapes, emoji and CJK', async () => {
    await c().ok('CREATE TABLE alltype.str (ts TIMESTAMP, v VARCHAR(40), n NCHAR(10))');
    await c().ok("INSERT INTO alltype.str VALUES (1, '', '') (2, NULL, NULL) (3, 'a\\'b\"c\\\\d\\ne\\tf', '😀中文') (4, 'x\\%y', 'ok')");
    const body = await c().sql('SELECT v, n FROM alltype.str');
    expect(body).toContain('"data":[["",""],[null,null],["a\'b\\"c\\\\d\\ne\\tf","😀中文"],["x\\\\%y","ok"]]');
  });

  it('length limits: VARCHAR in bytes, NCHAR in characters', async () => {
    await c().ok('CREATE TABLE alltype.len (ts TIMESTAMP, v VARCHAR(3), n NCHAR(2))');
    expect(await c().sql("INSERT INTO alltype.len VALUES (1, 'abc', '中文')")).toContain('"code":0');
    expect(await c().sql("INSERT INTO alltype.len VALUES (2, '中', 'a')")).toContain('"code":0');
    expect(await c().sql("INSERT INTO alltype.len VALUES (3, 'abcd', 'a')")).toMatch(
      /^\{"code":9811,"desc":"Value too long for column\/tag/,
    );
    expect(await c().sql("INSERT INTO alltype.len VALUES (4, 'a', '中文字')")).toMatch(/^\{"code":9811,/);
  });

  it('control characters are escaped as \\u00xx', () => {
    expect(jsonString('a\u0001b\u001f"\\\r')).toBe('"a\\u0001b\\u001f\\"\\\\\\r"');
    expect(jsonString('plain')).toBe('"plain"');
  });

  it('VARBINARY with zero bytes, plain-text VARBINARY, GEOMETRY kinds, BLOB → lowercase hex', async () => {
    await c().ok('CREATE TABLE alltype.bin (ts TIMESTAMP, vb VARBINARY(16), g GEOMETRY(200), bl BLOB)');
    await c().ok(
      "INSERT INTO alltype.bin VALUES (1, '\\x00FF00', 'POINT (1.5 -2)', '\\x00') (2, 'ab', 'LINESTRING(0 0, 1 1)', '')" +
        " (3, NULL, 'POLYGON((0 0, 1 0, 1 1, 0 0))', NULL)",
    );
    const rows = await c().rows('SELECT vb, g, bl FROM alltype.bin');
    expect(rows).toEqual([
      ['00ff00', '0101000000000000000000f83f00000000000000c0', '00'],
      ['6162', `0102000000` + `02000000` + '0'.repeat(32) + '000000000000f03f000000000000f03f', ''],
      [
        null,
        '01030000000100000004000000' +
          '0'.repeat(32) +
          '000000000000f03f' +
          '0'.repeat(16) +
          '000000000000f03f000000000000f03f' +
          '0'.repeat(32),
        null,
      ],
    ]);
    expect(await c().sql("INSERT INTO alltype.bin VALUES (9, '\\xabc', NULL, NULL)")).toMatch(/^\{"code":9834,/);
    expect(await c().sql("INSERT INTO alltype.bin VALUES (9, NULL, 'POINT(1)', NULL)")).toMatch(/^\{"code":9728,/);
  });

  it('DECIMAL: exact strings with the declared scale, rounding, overflow', async () => {
    await c().ok('CREATE TABLE alltype.dec (ts TIMESTAMP, a DECIMAL(10,2), b DECIMAL(38,10))');
    await c().ok(
      "INSERT INTO alltype.dec VALUES (1, 12345678.994, '-1234567890123456789012345678.0123456789') (2, -0.005, 0) (3, 1e3, NULL)",
    );
    expect(await c().rows('SELECT a, b FROM alltype.dec')).toEqual([
      ['12345678.99', '-1234567890123456789012345678.0123456789'],
      ['-0.01', '0.0000000000'],
      ['1000.00', null],
    ]);
    expect(await c().sql('INSERT INTO alltype.dec VALUES (4, 123456789, 0)')).toMatch(/^\{"code":317,/);
  });
});

describe('JSON tags', () => {
  it('come back as nested JSON with sorted keys; NULL and empty string mean NULL', async () => {
    await c().ok('CREATE STABLE alltype.js (ts TIMESTAMP, v INT) TAGS (info JSON)');
    await c().ok(
      `INSERT INTO alltype.j1 USING alltype.js TAGS ('{"b":1.5,"a":"x\\\\"y","c":true,"d":null,"e":12345678901}') VALUES (1, 1)` +
        ` alltype.j2 USING alltype.js TAGS (NULL) VALUES (1, 2) alltype.j3 USING alltype.js TAGS ('') VALUES (1, 3)`,
    );
    const body = await c().sql('SELECT TAGS tbname, info FROM alltype.js');
    expect(body).toBe(
      '{"code":0,"column_meta":[["tbname","VARCHAR",192],["info","JSON",4095]],"data":[' +
        '["j1",{"a":"x\\"y","b":1.5,"c":true,"d":null,"e":12345678901}],["j2",null],["j3",null]],"rows":3}',
    );
  });

  it('nested objects and non-objects are rejected; JSON is only for a single tag', async () => {
    expect(await c().sql(`INSERT INTO alltype.j9 USING alltype.js TAGS ('{"a":{"b":1}}') VALUES (1, 1)`)).toMatch(/^\{"code":546,/);
    expect(await c().sql(`INSERT INTO alltype.j9 USING alltype.js TAGS ('[1]') VALUES (1, 1)`)).toMatch(/^\{"code":545,/);
    expect(await c().sql('CREATE STABLE alltype.js2 (ts TIMESTAMP, v INT) TAGS (a JSON, b INT)')).toMatch(/^\{"code":9779,/);
    expect(await c().sql('CREATE TABLE alltype.js3 (ts TIMESTAMP, v JSON)')).toMatch(/^\{"code":9810,/);
  });
});

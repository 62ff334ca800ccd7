import { describe, expect, it } from 'vitest';
import { ResponseFormatError, ResponseParser } from './response-parser.ts';
import type { RawValue } from './types.ts';

/** Feeds `text` in pieces cut at `cuts`, collecting rows; returns the parser and rows. */
function feed(text: string, cuts: number[]): { p: ResponseParser; rows: RawValue[][] } {
  const p = new ResponseParser();
  const rows: RawValue[][] = [];
  let prev = 0;
  for (const c of [...cuts, text.length]) {
    p.write(text.slice(prev, c));
    rows.push(...p.takeRows());
    prev = c;
  }
  p.end();
  rows.push(...p.takeRows());
  return { p, rows };
}

const ALL_TYPES =
  '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["v1","BOOL",1],["v5","BIGINT",8],["v9","BIGINT UNSIGNED",8],' +
  '["v10","FLOAT",4],["v11","DOUBLE",8],["v12","VARCHAR",20],["v13","NCHAR",20],["v14","VARBINARY",20],' +
  '["v15","GEOMETRY",100],["v16","DECIMAL(20,4)",16],["info","JSON",4095]],"data":[' +
  '["2022-06-29T05:50:55.401123456Z",true,9223372036854775807,18446744073709551615,3.4028235e+38,-1.7976931348623157e+308,' +
  '"中文\\"binary","😀ab\\\\c\\n","00ff","010100000000000000000059400000000000005940","4467440737095516.1230",{"k":"v","n":[1,{"x":"]"}]}],' +
  '["2022-06-29T05:50:55.401123457Z",false,-9223372036854775808,0,1e-45,5e-324,"","\\u0000\\t","","0101000000000000000000f87f000000000000f87f","-0.0001",null],' +
  '["2022-06-29T05:50:55.401123458Z",null,null,null,null,null,null,null,null,null,null,{}]' +
  '],"rows":3,"timing":12345}';

const EXPECTED: RawValue[][] = [
  [
    '2022-06-29T05:50:55.401123456Z',
    true,
    '9223372036854775807',
    '18446744073709551615',
    '3.4028235e+38',
    '-1.7976931348623157e+308',
    '中文"binary',
    '😀ab\\c\n',
    '00ff',
    '010100000000000000000059400000000000005940',
    '4467440737095516.1230',
    '{"k":"v","n":[1,{"x":"]"}]}',
  ],
  [
    '2022-06-29T05:50:55.401123457Z',
    false,
    '-9223372036854775808',
    '0',
    '1e-45',
    '5e-324',
    '',
    '\u0000\t',
    '',
    '0101000000000000000000f87f000000000000f87f',
    '-0.0001',
    null,
  ],
  ['2022-06-29T05:50:55.401123458Z', null, null, null, null, null, null, null, null, null, null, '{}'],
];

describe('ResponseParser', () => {
  it('parses every type losslessly: int64 extremes as digits, JSON tags as text', () => {
    const { p, rows } = feed(ALL_TYPES, []);
    expect(p.code).toBe(0);
    expect(p.columns?.map((c) => c.type)).toContain('DECIMAL(20,4)');
    expect(p.rowsField).toBe(3);
    expect(rows).toEqual(EXPECTED);
  });

  it('gives the same rows whatever the chunk boundaries (every single cut, and every pair in a window)', () => {
    for (let i = 0; i <= ALL_TYPES.length; i++) expect(feed(ALL_TYPES, [i]).rows).toEqual(EXPECTED);
    for (let i = 300; i < 420; i += 3) for (let j = i; j < i + 40; j++) expect(feed(ALL_TYPES, [i, j]).rows).toEqual(EXPECTED);
  });

  it('gives the same rows when fed one character at a time', () => {
    const cuts = Array.from({ length: ALL_TYPES.length }, (_, i) => i);
    expect(feed(ALL_TYPES, cuts).rows).toEqual(EXPECTED);
  });

  it('streams: rows come out before the body is complete', () => {
    const p = new ResponseParser();
    p.write(
      '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["v","BIGINT",8]],"data":[["2022-01-01T00:00:00.000Z",1],["2022-01-01T00:00:00.001Z",2]',
    );
    expect(p.inData).toBe(true);
    expect(p.takeRows()).toEqual([
      ['2022-01-01T00:00:00.000Z', '1'],
      ['2022-01-01T00:00:00.001Z', '2'],
    ]);
    p.write(',["2022-01-01T00:00:00.002Z",3');
    expect(p.takeRows()).toEqual([]);
    p.write('],["2022');
    expect(p.takeRows()).toEqual([['2022-01-01T00:00:00.002Z', '3']]);
  });

  it('parses the affected_rows form and an empty result', () => {
    const a = feed('{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[[42]],"rows":1}', [17]);
    expect(a.rows).toEqual([['42']]);
    const e = feed('{"code":0,"column_meta":[["ts","TIMESTAMP",8]],"data":[],"rows":0}', [40]);
    expect(e.rows).toEqual([]);
    expect(e.p.columns).toEqual([{ name: 'ts', type: 'TIMESTAMP', length: 8 }]);
  });

  it('parses error bodies with and without timing', () => {
    const a = feed('{"code":9728,"desc":"syntax error near \\"1\\"","timing":5539717}', [8]);
    expect(a.p.code).toBe(9728);
    expect(a.p.desc).toBe('syntax error near "1"');
    const b = feed('{"code":904,"desc":"Database not exist"}', []);
    expect([b.p.code, b.p.desc]).toEqual([904, 'Database not exist']);
  });

  it('tolerates whitespace between tokens', () => {
    const { rows } = feed(
      '{ "code" : 0 ,\n "column_meta" : [ ["a","INT",4] , ["j","JSON",4095] ] , "data" : [ [ 1 , { "k" : 1 } ] , [ -2 , null ] ] , "rows" : 2 }\n',
      [30, 60],
    );
    expect(rows).toEqual([
      ['1', '{ "k" : 1 }'],
      ['-2', null],
    ]);
  });

  it('keeps a very large value intact across many pieces', () => {
    const hex = 'ab'.repeat(1_000_000);
    const body = `{"code":0,"column_meta":[["b","BLOB",4194304]],"data":[["${hex}"],["01"]],"rows":2}`;
    const cuts: number[] = [];
    for (let i = 16384; i < body.length; i += 16384) cuts.push(i);
    expect(feed(body, cuts).rows).toEqual([[hex], ['01']]);
  });

  it('fails on a body that ends early, at any point', () => {
    for (let i = 0; i < ALL_TYPES.length; i++) {
      const p = new ResponseParser();
      p.write(ALL_TYPES.slice(0, i));
      expect(() => p.end(), `cut at ${i}`).toThrow(ResponseFormatError);
    }
  });

  it('fails when "rows" disagrees with the rows carried', () => {
    expect(() => feed('{"code":0,"column_meta":[["a","INT",4]],"data":[[1],[2]],"rows":3}', [])).toThrow(/"rows":3 but carried 2/);
  });

  it('fails on malformed JSON, wrong widths and data before column_meta', () => {
    const bad = [
      '{"code":0,"column_meta":[["a","INT",4]],"data":[[1,2]],"rows":1}',
      '{"code":0,"column_meta":[["a","INT",4],["b","INT",4]],"data":[[1]],"rows":1}',
      '{"code":0,"column_meta":[["a","INT",4]],"data":[[01]],"rows":1}',
      '{"code":0,"column_meta":[["a","INT",4]],"data":[[1.]],"rows":1}',
      '{"code":0,"column_meta":[["a","INT",4]],"data":[[tru]],"rows":1}',
      '{"code":0,"column_meta":[["a","INT",4]],"data":[[1]],"rows":1}}',
      '{"code":0,"data":[[1]],"column_meta":[["a","INT",4]],"rows":1}',
      '{"code":"0","column_meta":[],"data":[],"rows":0}',
      '<html>502 Bad Gateway</html>',
    ];
    for (const b of bad) expect(() => feed(b, []), b).toThrow(ResponseFormatError);
  });
});

describe('ResponseParser raw mode and the export encoder', () => {
  it('gives token positions that the export turns into the same td-jsonl as the value path, whatever the cuts', async () => {
    const { batchEncoder } = await import('./export.ts');
    const { tdJsonEncoder } = await import('./values.ts');
    const { parseTdType } = await import('./types.ts');
    const meta = feed(ALL_TYPES, []).p.columns!;
    const columns = meta.map((m) => ({ name: m.name, type: parseTdType(m.type, m.length) }));
    const encoders = columns.map((c) => tdJsonEncoder(c.type, 'ns'));
    const expected = EXPECTED.map((row) => `[${row.map((v, i) => encoders[i]!(v)).join(',')}]\n`).join('');
    const encode = batchEncoder(columns, 'ns', 'test');
    for (const step of [1, 7, 64, ALL_TYPES.length]) {
      const p = new ResponseParser({ raw: true });
      let text = '';
      for (let i = 0; i < ALL_TYPES.length; i += step) {
        p.write(ALL_TYPES.slice(i, i + step));
        text += encode(p.takeRaw()).text;
      }
      p.end();
      text += encode(p.takeRaw()).text;
      expect(text, `step ${step}`).toBe(expected);
    }
  });

  it('copies a run of spaced tokens value by value, never with a line feed', async () => {
    const { batchEncoder } = await import('./export.ts');
    const { parseTdType } = await import('./types.ts');
    const p = new ResponseParser({ raw: true });
    p.write(
      '{"code":0,"column_meta":[["ts","TIMESTAMP",8],["a","INT",4],["b","VARCHAR",4]],"data":[["1970-01-01T00:00:00.001Z",\n 1 ,\n "x" ]],"rows":1}',
    );
    p.end();
    const enc = batchEncoder(
      [
        { name: 'ts', type: parseTdType('TIMESTAMP') },
        { name: 'a', type: parseTdType('INT') },
        { name: 'b', type: parseTdType('VARCHAR', 4) },
      ],
      'ms',
      'test',
    );
    expect(enc(p.takeRaw())).toEqual({ text: '[1,1,"x"]\n', lastTs: '1' });
  });

  it('refuses tokens of the wrong shape for the column', async () => {
    const { batchEncoder } = await import('./export.ts');
    const { parseTdType } = await import('./types.ts');
    const p = new ResponseParser({ raw: true });
    p.write('{"code":0,"column_meta":[["ts","TIMESTAMP",8],["a","INT",4]],"data":[["1970-01-01T00:00:00.001Z","1"]],"rows":1}');
    p.end();
    const enc = batchEncoder(
      [
        { name: 'ts', type: parseTdType('TIMESTAMP') },
        { name: 'a', type: parseTdType('INT') },
      ],
      'ms',
      'test',
    );
    expect(() => enc(p.takeRaw())).toThrow(/column a/);
  });
});

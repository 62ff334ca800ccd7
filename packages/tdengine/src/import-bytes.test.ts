/**
 * importTables builds statements as bytes from td-jsonl bytes (the copy path of LineConverter,
 * with the string path for anything unusual). Checked here against the reference: the string
 * reader, the typed token encoders and StatementPacker, which give the SQL the copy path must
 * reproduce byte for byte, whatever the chunk boundaries and the statement limit.
 */
import { describe, expect, it } from 'vitest';
import type { TdClient } from './client.ts';
import { StatementPacker, importTables, tableClause, type ImportItem } from './import.ts';
import { TdJsonLineReader } from './td-jsonl.ts';
import { parseTdType, type ColumnInfo } from './types.ts';
import { sqlTokenEncoder } from './values.ts';

const col = (name: string, type: string, length = 0): ColumnInfo => ({ name, type: parseTdType(type, length) });

const COLUMNS = [
  col('ts', 'TIMESTAMP'),
  col('f', 'FLOAT'),
  col('d', 'DOUBLE'),
  col('i', 'INT'),
  col('u', 'BIGINT UNSIGNED'),
  col('b', 'BOOL'),
  col('s', 'VARCHAR', 32),
  col('n', 'NCHAR', 16),
  col('x', 'VARBINARY', 16),
  col('g', 'GEOMETRY', 64),
  col('m', 'DECIMAL(10,2)'),
];

const LINES = [
  // (integers for FLOAT / DOUBLE, at the edges of the copy path's length limits, below)
  '[1700000000000,10.5,1.25,-7,18446744073709551615,true,"ok","中文😀","00ff","0101000000000000000000f03f000000000000f03f","12.50"]',
  '[1700000001000,null,null,null,null,null,null,null,null,null,null]',
  '[1700000002000,3.4028235e+38,1e-300,0,0,false,"it\'s","a\\"b\\\\c","","0101000000000000000000f03f000000000000f03f","-0.01"]',
  '[1700000003000,0.0,-0.0,-0,1,true,"","\\u00e9","ABCDEF",null,"0.00"]',
  '[1700000004000,-0.0,1.5e10,2147483647,0,false,"tab\\there","x",null,null,null]',
  '[1700000005000,12,7,1,2,true,"line\\nfeed","y","00",null,null]',
  ' [1700000006000, 1.5, 2.5, 3, 4, true, "spaced", "z", "aa", null, null] ',
  '[1700000007000,0.000000000000000000000000000000000000000000000001,0.1,-2147483648,9,false,"é","ü","0a",null,"1.00"]\r',
  '[1700000009000,-0,0,1,1,true,"z","z",null,null,null]',
  `[1700000010000,-12345678901234567890123456789012345678,-1${'0'.repeat(307)},1,1,true,"z","z",null,null,null]`,
  `[1700000011000,99999999999999999999999999999999999999,1${'0'.repeat(307)},1,1,true,"z","z",null,null,null]`,
  '[-1700000008000,123456789012345678901234567890123456789.5,-1.0,4,5,true,"plain","plain","ff",null,null]',
];

interface Sent {
  sql: string;
  rows: number;
}

function fakeClient(sent: Sent[]): TdClient {
  return {
    exec: async (sql: string | Buffer) => {
      const text = typeof sql === 'string' ? sql : sql.toString('utf8');
      const rows = (text.match(/\)(?= `|\(|$)/g) ?? []).length;
      sent.push({ sql: text, rows });
      await Promise.resolve();
      return rows;
    },
  } as unknown as TdClient;
}

/** The reference: the string reader, the typed encoders, StatementPacker. */
function reference(db: string, tables: { name: string; text: string }[], maxBytes: number): Sent[] {
  const sent: Sent[] = [];
  const packer = new StatementPacker(maxBytes, (sql, rows) => sent.push({ sql, rows }));
  for (const t of tables) {
    const handle = packer.openTable(tableClause(db, { name: t.name }, COLUMNS));
    const encoders = COLUMNS.map((c) => sqlTokenEncoder(c.type));
    const reader = new TdJsonLineReader(COLUMNS.length, 'ref');
    for (const next of [() => reader.pushRaw(Buffer.from(t.text)), () => reader.endRaw()]) {
      const batch = next();
      for (let r = 0; r < batch.rows; r++) {
        let tuple = '(';
        for (let i = 0; i < COLUMNS.length; i++) {
          if (i > 0) tuple += ',';
          const k = r * COLUMNS.length + i;
          tuple += encoders[i]!(batch.text, batch.starts[k]!, batch.ends[k]!, reader.scanner);
        }
        packer.add(handle, `${tuple})`);
      }
    }
  }
  packer.flush();
  return sent;
}

async function viaBytes(
  db: string,
  tables: { name: string; text: string }[],
  maxBytes: number,
  cut: (b: Buffer) => Buffer[],
): Promise<Sent[]> {
  const sent: Sent[] = [];
  const items: ImportItem[] = tables.map((t) => ({
    table: { name: t.name },
    columns: COLUMNS,
    source: (async function* () {
      for (const part of cut(Buffer.from(t.text))) yield part;
    })(),
  }));
  const res = await importTables({ client: fakeClient(sent), db, items, maxStatementBytes: maxBytes });
  expect(res.tables.map((t) => t.rows)).toEqual(tables.map((t) => t.text.split('\n').filter((l) => l.length > 0).length));
  return sent;
}

describe('importTables (statements built as bytes)', () => {
  it('gives the reference SQL at every chunk boundary', async () => {
    const text = `${LINES.join('\n')}\n`;
    const tables = [
      { name: 'a', text },
      { name: 'b', text: LINES.slice(0, 3).join('\n') }, // no final line feed
    ];
    const expected = reference('db', tables, 4096);
    expect(expected.map((s) => s.sql).join('')).toContain("'it\\'s'");
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got = await viaBytes('db', tables, 4096, (b) => [b.subarray(0, cut), b.subarray(cut)]);
      expect(got, `cut ${cut}`).toEqual(expected);
    }
  });

  it('splits statements exactly where the reference does, for any limit', async () => {
    const many: string[] = [];
    for (let i = 0; i < 300; i++)
      many.push(LINES[i % LINES.length]!.replace(/^ ?\[-?\d+/, (m) => m.replace(/-?\d+/, String(1700000000000 + i))));
    const tables = [
      { name: 'a', text: `${many.slice(0, 120).join('\n')}\n` },
      { name: 'b', text: `${many.slice(120, 125).join('\n')}\n` },
      { name: 'c', text: `${many.slice(125).join('\n')}\n` },
    ];
    for (const max of [1024, 1500, 4096, 20000]) {
      const expected = reference('db', tables, max);
      const got = await viaBytes('db', tables, max, (b) => {
        const parts: Buffer[] = [];
        for (let p = 0; p < b.length; p += 777) parts.push(b.subarray(p, p + 777));
        return parts;
      });
      expect(got, `limit ${max}`).toEqual(expected);
      for (const s of got) expect(Buffer.byteLength(s.sql)).toBeLessThanOrEqual(max);
    }
  });

  it('refuses bad lines with the reference messages and line numbers', async () => {
    const good = LINES[0]!;
    const cases: [string, RegExp][] = [
      [`${good}\n[1,2]\n`, /line 2 has 2 values, expected 11/],
      [`${good}\n\n`, /line 2 is empty/],
      [`${good}\n${good.replace('1700000000000', 'null')}\n`, /line 2 has no timestamp/],
      [`${good}\n${good}\n${good.replace('-7', '-7.5')}\n`, /line 3: INT expects an integer/],
      [`${good}\n${good.replace('18446744073709551615', '-1')}\n`, /line 2: BIGINT UNSIGNED expects an unsigned integer/],
      [`${good}\n${good.replace('"00ff"', '"0f0"')}\n`, /line 2: VARBINARY expects a hex string/],
      [`${good}\n${good.replace('"ok"', '"a\\u0000b"')}\n`, /line 2/],
      [`${good}\n${good.replace('10.5', '01.5')}\n`, /line 2 has '1' where ',' or '\]' belongs/],
      [`${good}\n${good.replace('10.5', '9'.repeat(39))}\n`, /line 2: FLOAT is out of range/],
      [`${good}\n${good.replace('1.25', `-2${'0'.repeat(308)}`)}\n`, /line 2: DOUBLE is out of range/],
    ];
    for (const [text, re] of cases) {
      await expect(
        viaBytes('db', [{ name: 't', text }], 4096, (b) => [b]),
        text,
      ).rejects.toThrow(re);
    }
    const bad = Buffer.concat([Buffer.from(`${good}\n`), Buffer.from([0x5b, 0x31, 0x2c, 0x22, 0xff, 0x22, 0x5d, 0x0a])]);
    await expect(
      importTables({
        client: fakeClient([]),
        db: 'db',
        items: [
          {
            table: { name: 't' },
            columns: COLUMNS,
            source: (async function* () {
              yield bad;
            })(),
          },
        ],
      }),
    ).rejects.toThrow(/UTF-8/);
  });

  it('refuses a line too long for any statement before reading it whole', async () => {
    const chunk = Buffer.from(`[1,1.5,1.5,1,1,true,"${'x'.repeat(4000)}`);
    let served = 0;
    const source = (async function* () {
      for (; served < 100; served++) yield chunk;
    })();
    await expect(
      importTables({
        client: fakeClient([]),
        db: 'db',
        items: [{ table: { name: 't' }, columns: COLUMNS, source }],
        maxStatementBytes: 1024,
      }),
    ).rejects.toThrow(/line 1 is longer than 7168 bytes/);
    expect(served).toBeLessThan(5);
  });

  it('refuses a row that cannot fit in any statement', async () => {
    const line = `[1,1.5,1.5,1,1,true,"${'x'.repeat(2000)}","n",null,null,null]\n`;
    await expect(viaBytes('db', [{ name: 't', text: line }], 1024, (b) => [b])).rejects.toThrow(
      /does not fit in a statement of at most 1024 bytes/,
    );
  });
});

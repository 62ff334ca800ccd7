/**
 * Fidelity (issue 4, item 9): every type at its extremes in ms, us and ns databases;
 * backed up with discovery + exportRows, restored into another database with the DDL helpers
 * + importRows / importTables, and read back identical (raw REST values, tags, schemas, and a
 * second export byte for byte).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  childTables,
  createChildTable,
  createDatabase,
  createNormalTable,
  createSuperTable,
  databaseOptions,
  describe as describeTable,
  exportRows,
  importRows,
  importTables,
  listDatabases,
  listNormalTables,
  listSuperTables,
  quoteString,
  type ChildTable,
  type Precision,
  type RawValue,
  type TableSchema,
  type TdClient,
} from '../src/index.ts';
import { collect, startTestTd, textSource, type TestTd } from './support.ts';

let td: TestTd;
beforeAll(async () => {
  td = await startTestTd();
});
afterAll(async () => {
  await td?.close();
});

const COLUMNS =
  '`ts` TIMESTAMP, `c_bool` BOOL, `c_i8` TINYINT, `c_i16` SMALLINT, `c_i32` INT, `c_i64` BIGINT, ' +
  '`c_u8` TINYINT UNSIGNED, `c_u16` SMALLINT UNSIGNED, `c_u32` INT UNSIGNED, `c_u64` BIGINT UNSIGNED, ' +
  '`c_f32` FLOAT, `c_f64` DOUBLE, `c_str` VARCHAR(64), `c_nchar` NCHAR(16), `c_bin` VARBINARY(16), ' +
  '`c_geo` GEOMETRY(512), `c_dec` DECIMAL(20,4), `c_blob` BLOB, `c_ts` TIMESTAMP';

const TAGS =
  '`t_i64` BIGINT, `t_u64` BIGINT UNSIGNED, `t_f32` FLOAT, `t_f64` DOUBLE, `t_str` VARCHAR(32), `t_nchar` NCHAR(8), ' +
  '`t_ts` TIMESTAMP, `t_bool` BOOL, `t_bin` VARBINARY(8), `t_geo` GEOMETRY(64)';

/** Timestamps at each precision: early, around the epoch, late (ns up to int64's last but one). */
const TIMES: Record<Precision, string[]> = {
  ms: ['-1000', '0', '1', '1626164208000', '31556995199999'],
  us: ['-1', '0', '1626164208000001', '1626164208000999', '31556995199999999'],
  ns: ['-1000000001', '1', '1626164208000000001', '1626164208999999999', '9223372036854775806'],
};

/** Rows of extremes; `{ts}` and `{ts2}` are replaced by timestamps of the precision. */
const ROWS = [
  `({ts}, true, 127, 32767, 2147483647, 9223372036854775807, 255, 65535, 4294967295, 18446744073709551615, ` +
    `3.4028234663852886e38, 1.7976931348623157e308, '', '中文😀🎉', '\\x00', 'POINT(1.5 -2.25)', ` +
    `'9999999999999999.9999', '\\x00ff00', {ts2})`,
  `({ts}, false, -128, -32768, -2147483648, -9223372036854775807, 0, 0, 0, 0, ` +
    `-3.4028234663852886e38, -1.7976931348623157e308, 'it\\'s "q" \\\\ back\\nslash\\ttab', 'ñ한글', '\\x', ` +
    `'LINESTRING(0 0, 1e-7 1e21, 2 0.5)', '-9999999999999999.9999', '\\x', {ts2})`,
  `({ts}, NULL, 0, 0, 0, 9223372036854775806, 1, 1, 1, 18446744073709551614, ` +
    `1.401298464324817e-45, 5e-324, ' ', '', '\\x0000ff00', 'POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 1 2, 1 1))', ` +
    `'0.0001', '\\xdeadbeef', NULL)`,
  `({ts}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `({ts}, true, -1, -1, -1, -1, 254, 65534, 4294967294, 9223372036854775808, ` +
    `-0.0, -0.0, 'null', 'NULL', '\\xffffffffffffffffffffffffffffffff', ` +
    `'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1), MULTIPOLYGON(((0 0, 1 0, 0 1, 0 0))), MULTIPOINT((1 2), (3 4)), MULTILINESTRING((0 0, 1 1), (2 2, 3 3)))', ` +
    `'-0.0001', '\\x', {ts2})`,
];

const FLOAT_EDGES = ['1.1754943508222875e-38', '0.1', '10.123', '-16777217', '3.1415927'];
const DOUBLE_EDGES = ['2.2250738585072014e-308', '0.1', '1e21', '1e-7', '123456789.12345679', '-4.9e-324'];

function rowsSql(p: Precision): string {
  const t = TIMES[p];
  const main = ROWS.map((r, i) => r.replace('{ts}', t[i]!).replace('{ts2}', t[(i + 2) % t.length]!));
  // float / double edges in extra rows
  const base = BigInt(t[3]!) - 1_000_000n;
  const extra = FLOAT_EDGES.map(
    (f, i) =>
      `(${base + BigInt(i)}, true, 1, 1, 1, 1, 1, 1, 1, 1, ${f}, ${DOUBLE_EDGES[i]}, 'x', 'y', '\\x01', 'POINT EMPTY', '1', '\\x01', NULL)`,
  );
  return [...main, ...extra].join(' ');
}

const TAG_VALUES = [
  `9223372036854775807, 18446744073709551615, 3.4028234663852886e38, 5e-324, 'O\\'Hare "x"', '😀中', {ts}, true, '\\x00ff', 'POINT(1 2)'`,
  `-9223372036854775807, 0, -1.401298464324817e-45, -1.7976931348623157e308, '', '', {ts}, false, '\\x', 'POINT EMPTY'`,
  `NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`,
];

async function createSource(c: TdClient, db: string, p: Precision): Promise<void> {
  await c.exec(`CREATE DATABASE \`${db}\` PRECISION '${p}' KEEP 36500 DURATION 20d BUFFER 128 COMP 1`);
  await c.exec(`CREATE STABLE \`${db}\`.\`st_all\` (${COLUMNS}) TAGS (${TAGS})`);
  await c.exec(`CREATE STABLE \`${db}\`.\`st_json\` (\`ts\` TIMESTAMP, \`v\` INT) TAGS (\`info\` JSON)`);
  await c.exec(`CREATE TABLE \`${db}\`.\`Normal Table\` (${COLUMNS})`);
  const rows = rowsSql(p);
  for (const [i, tags] of TAG_VALUES.entries()) {
    const ts = TIMES[p][i]!;
    await c.exec(`INSERT INTO \`${db}\`.\`child_${i}\` USING \`${db}\`.\`st_all\` TAGS (${tags.replace('{ts}', ts)}) VALUES ${rows}`);
  }
  // a child table without rows (restored by createChildTable, not by an INSERT)
  await c.exec(`CREATE TABLE \`${db}\`.\`empty child\` USING \`${db}\`.\`st_all\` TAGS (${TAG_VALUES[0]!.replace('{ts}', TIMES[p][0]!)})`);
  await c.exec(`INSERT INTO \`${db}\`.\`Normal Table\` VALUES ${rows}`);
  const jsons = [
    quoteString(JSON.stringify({ k: 'v', n: 1.5, b: true, z: null, emoji: '😀', q: `it's "x" \\ \n` })),
    'NULL',
    `'{}'`,
    `'{"big":1e300}'`,
  ];
  for (const [i, j] of jsons.entries()) {
    await c.exec(
      `INSERT INTO \`${db}\`.\`j_${i}\` USING \`${db}\`.\`st_json\` TAGS (${j}) VALUES (${TIMES[p][1]}, ${i}) (${TIMES[p][3]}, NULL)`,
    );
  }
}

interface Backup {
  options: Awaited<ReturnType<typeof databaseOptions>>;
  stables: { name: string; schema: TableSchema; children: ChildTable[] }[];
  normals: { name: string; schema: TableSchema }[];
  /** td-jsonl per table */
  data: Map<string, string>;
  rows: Map<string, number>;
}

const CUT: Record<Precision, bigint> = { ms: 31556995200000n, us: 31556995200000000n, ns: 9223372036854775807n };

async function backup(c: TdClient, db: string, pageSize: number): Promise<Backup> {
  const options = await databaseOptions(c, db);
  const { precision } = options;
  const data = new Map<string, string>();
  const rows = new Map<string, number>();
  const exportTable = async (table: string, schema: TableSchema): Promise<void> => {
    const ex = exportRows({ client: c, db, table, columns: schema.columns, precision, to: CUT[precision], pageSize });
    const [text, done] = await Promise.all([collect(ex.stream), ex.done]);
    expect(text.split('\n').length - 1).toBe(done.rows);
    data.set(table, text);
    rows.set(table, done.rows);
  };
  const stables = [];
  for (const name of await listSuperTables(c, db)) {
    const schema = await describeTable(c, db, name);
    const children = await childTables(c, db, name, { precision, tags: schema.tags });
    for (const child of children) await exportTable(child.name, schema);
    stables.push({ name, schema, children });
  }
  const normals = [];
  for (const name of await listNormalTables(c, db)) {
    const schema = await describeTable(c, db, name);
    await exportTable(name, schema);
    normals.push({ name, schema });
  }
  return { options, stables, normals, data, rows };
}

async function restore(c: TdClient, b: Backup, db: string, multiTable: boolean): Promise<void> {
  await createDatabase(c, db, b.options);
  for (const st of b.stables) {
    await createSuperTable(c, db, st.name, st.schema.columns, st.schema.tags);
    const withRows = st.children.filter((ch) => (b.rows.get(ch.name) ?? 0) > 0);
    for (const ch of st.children.filter((x) => !withRows.includes(x))) await createChildTable(c, db, ch.name, st.name, ch.tags);
    if (multiTable) {
      const res = await importTables({
        client: c,
        db,
        maxStatementBytes: 2048,
        items: withRows.map((ch) => ({
          table: { name: ch.name, stable: st.name, tags: ch.tags },
          columns: st.schema.columns,
          source: textSource(b.data.get(ch.name)!),
        })),
      });
      for (const t of res.tables) expect(t.rows).toBe(b.rows.get(t.name));
    } else {
      for (const ch of withRows) {
        const res = await importRows({
          client: c,
          db,
          table: { name: ch.name, stable: st.name, tags: ch.tags },
          columns: st.schema.columns,
          source: textSource(b.data.get(ch.name)!),
        });
        expect(res.rows).toBe(b.rows.get(ch.name));
      }
    }
  }
  for (const nt of b.normals) {
    await createNormalTable(c, db, nt.name, nt.schema.columns);
    const res = await importRows({
      client: c,
      db,
      table: { name: nt.name },
      columns: nt.schema.columns,
      source: textSource(b.data.get(nt.name)!, 1000),
    });
    expect(res.rows).toBe(b.rows.get(nt.name));
  }
}

async function allRows(c: TdClient, db: string, table: string): Promise<RawValue[][]> {
  return (await c.queryAll(`SELECT * FROM \`${db}\`.\`${table}\` ORDER BY ts`)).rows;
}

describe.each(['ms', 'us', 'ns'] as const)('fidelity round trip, precision %s', (p) => {
  const src = `fid_src_${p}`;

  it('restores every type at its extremes identically (single-table and multi-table inserts, small pages)', async () => {
    const c = td.client;
    await createSource(c, src, p);
    expect(await listDatabases(c)).toContain(src);
    const b = await backup(c, src, 3);
    expect(b.options.precision).toBe(p);
    expect(b.stables.map((s) => s.name)).toEqual(['st_all', 'st_json']);
    expect(b.normals.map((n) => n.name)).toEqual(['Normal Table']);
    expect(b.rows.get('child_0')).toBe(ROWS.length + FLOAT_EDGES.length);
    expect(b.rows.get('empty child')).toBe(0);

    for (const [dst, multi] of [
      [`fid_dst_${p}`, false],
      [`fid_dst_multi_${p}`, true],
    ] as const) {
      await restore(c, b, dst, multi);
      expect((await databaseOptions(c, dst)).precision).toBe(p);
      // schemas
      for (const st of b.stables) expect(await describeTable(c, dst, st.name)).toEqual(st.schema);
      for (const nt of b.normals) expect(await describeTable(c, dst, nt.name)).toEqual(nt.schema);
      // child tables with typed tags
      for (const st of b.stables) expect(await childTables(c, dst, st.name)).toEqual(st.children);
      // rows, as the server returns them
      for (const table of b.data.keys()) expect(await allRows(c, dst, table), `${dst}.${table}`).toEqual(await allRows(c, src, table));
      // and a second backup is byte for byte the first
      const again = await backup(c, dst, 1000);
      expect(again.data).toEqual(b.data);
    }
  });
});

describe('td-jsonl content', () => {
  it('writes int64 extremes as bare digits, timestamps as epochs, hex, JSON text, null vs ""', async () => {
    const c = td.client;
    await c.exec("CREATE DATABASE jl PRECISION 'ns'");
    await c.exec(
      'CREATE TABLE jl.t (ts TIMESTAMP, i BIGINT, u BIGINT UNSIGNED, s NCHAR(4), e VARCHAR(4), b VARBINARY(4), f FLOAT, d DOUBLE)',
    );
    await c.exec(
      "INSERT INTO jl.t VALUES (9223372036854775806, -9223372036854775807, 18446744073709551615, '😀', '', '\\x0000', 3.4028234663852886e38, 0.1)" +
        ' (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL)',
    );
    const { columns } = await describeTable(c, 'jl', 't');
    const ex = exportRows({ client: c, db: 'jl', table: 't', columns, precision: 'ns', to: 9223372036854775807n });
    expect(await collect(ex.stream)).toBe(
      '[1,null,null,null,null,null,null,null]\n' +
        '[9223372036854775806,-9223372036854775807,18446744073709551615,"😀","","0000",3.4028235e+38,0.1]\n',
    );
    expect(await ex.done).toEqual({ rows: 2 });
  });
});

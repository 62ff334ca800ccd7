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
  type ChildTable,
  type Precision,
  type RawValue,
  type TableSchema,
  type TdClient,
} from '../src/index.ts';
import { collect, startTestTd, textSource, type TestTd } from './support.ts';
import { FLOAT_EDGES, ROWS, createSource } from './fixture.ts';

let td: TestTd;
beforeAll(async () => {
  td = await startTestTd();
});
afterAll(async () => {
  await td?.close();
});

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

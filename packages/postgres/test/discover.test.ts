import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, listDatabases } from '@bk/postgres';
import { testPg, withPg } from './support.ts';

const pg = testPg();
let url: string;
let name: string;

beforeAll(async () => {
  url = await pg.createDatabase('discover');
  name = decodeURIComponent(new URL(url).pathname.slice(1));
  await withPg(url, (c) =>
    c.query(`
      CREATE SCHEMA "Sales ü";
      CREATE TABLE "Sales ü".orders (id int, at date) PARTITION BY RANGE (at);
      CREATE TABLE "Sales ü".orders_2024 PARTITION OF "Sales ü".orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (id);
      CREATE TABLE "Sales ü".orders_2024_a PARTITION OF "Sales ü".orders_2024 FOR VALUES FROM (0) TO (1000);
      CREATE TABLE "Sales ü".orders_old PARTITION OF "Sales ü".orders DEFAULT;
      INSERT INTO "Sales ü".orders SELECT i, '2024-06-01' FROM generate_series(1, 500) AS i;
      CREATE TABLE public.base (id int);
      CREATE TABLE public.derived (x int) INHERITS (public.base);
      CREATE VIEW public.v AS SELECT 1 AS one;
      CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;
      CREATE TEMP TABLE invisible (id int);
      ANALYZE "Sales ü".orders_2024_a;
    `),
  );
});

afterAll(async () => {
  await pg.dropAll();
});

describe('discovery', () => {
  it('lists connectable, non-template databases', async () => {
    const dbs = await listDatabases(pg.url);
    expect(dbs).toContain(name);
    expect(dbs).toContain('postgres');
    expect(dbs).not.toContain('template0');
    expect(dbs).not.toContain('template1');
  });

  it('describes schemas and tables with kinds, parents, estimates and sizes', async () => {
    const d = await discover(pg.url, { databases: [name, 'no_such_db_x'] });
    expect(d.serverVersion).toMatch(/^\d+\.\d+$/);
    expect(d.serverVersionNum).toBeGreaterThanOrEqual(100000);
    const [db, missing] = d.databases;
    expect(missing).toMatchObject({ name: 'no_such_db_x', schemas: [], tables: [], error: { code: 'DATABASE_MISSING' } });
    expect(db?.error).toBeUndefined();
    expect(db?.schemas).toEqual(['Sales ü', 'public']);
    const byName = new Map(db?.tables.map((t) => [`${t.schema}.${t.name}`, t]));
    expect([...byName.keys()]).toEqual([
      'Sales ü.orders',
      'Sales ü.orders_2024',
      'Sales ü.orders_2024_a',
      'Sales ü.orders_old',
      'public.base',
      'public.derived',
    ]);
    expect(byName.get('Sales ü.orders')).toMatchObject({ kind: 'partitioned', parent: null, sizeBytes: 0 });
    expect(byName.get('Sales ü.orders_2024')).toMatchObject({ kind: 'partitioned', parent: { schema: 'Sales ü', name: 'orders' } });
    expect(byName.get('Sales ü.orders_2024_a')).toMatchObject({
      kind: 'partition',
      parent: { schema: 'Sales ü', name: 'orders_2024' },
      estimatedRows: 500,
    });
    expect(byName.get('Sales ü.orders_2024_a')?.sizeBytes).toBeGreaterThan(0);
    expect(byName.get('Sales ü.orders_old')).toMatchObject({ kind: 'partition', estimatedRows: -1 });
    expect(byName.get('public.derived')).toMatchObject({ kind: 'inheritance-child', parent: { schema: 'public', name: 'base' } });
    expect(byName.get('public.base')).toMatchObject({ kind: 'table', parent: null });
  });
});

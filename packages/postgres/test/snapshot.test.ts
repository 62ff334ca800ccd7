import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpSchema, exportTable, SnapshotGoneError, SnapshotSession, ToolMissingError, type ExportableTable } from '@bk/postgres';
import { collect, testPg, withPg } from './support.ts';

const pg = testPg();
let url: string;
let dbName: string;

beforeAll(async () => {
  url = await pg.createDatabase('snap');
  dbName = decodeURIComponent(new URL(url).pathname.slice(1));
  await withPg(url, (c) =>
    c.query(`
      CREATE TABLE public.t (id serial PRIMARY KEY, v text);
      INSERT INTO public.t (v) SELECT repeat(md5(i::text), 3) FROM generate_series(1, 20000) AS i;
      CREATE TABLE public.parent (id int, v text);
      CREATE TABLE public.child (extra int) INHERITS (public.parent);
      INSERT INTO public.parent VALUES (1, 'p');
      INSERT INTO public.child VALUES (2, 'c', 0), (3, 'c', 0);
      CREATE TABLE public.gen (id int GENERATED ALWAYS AS IDENTITY, a int, b int GENERATED ALWAYS AS (a + 1) STORED);
      ALTER TABLE public.gen DROP COLUMN IF EXISTS nothing;
      CREATE SCHEMA other;
      CREATE TABLE other.x (id int);
      CREATE VIEW public.v AS SELECT * FROM public.t;
      CREATE SEQUENCE public.s START 5;
      SELECT setval('public.s', 77, false);
    `),
  );
});

afterAll(async () => {
  await pg.dropAll();
});

function rowsOf(text: Buffer): string[] {
  const s = text.toString('utf8');
  return s === '' ? [] : s.slice(0, -1).split('\n');
}

async function backendPids(app: string): Promise<number[]> {
  return withPg(url, async (c) => {
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [
      dbName,
      app,
    ]);
    return r.rows.map((x) => x.pid);
  });
}

describe('SnapshotSession', () => {
  it('lists the tables that hold rows, with their COPY columns; filters by tables or schemas', async () => {
    const session = await SnapshotSession.open(url);
    try {
      expect(session.databaseName).toBe(dbName);
      expect(session.serverVersion.num).toBeGreaterThanOrEqual(100000);
      expect(session.serverVersion.text).toMatch(/^\d+\.\d+$/);
      expect(session.encoding).toBe('UTF8');
      expect(session.snapshotId).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
      const all = await session.listTables();
      expect(all.map((t) => `${t.schema}.${t.name}:${t.kind}`)).toEqual([
        'other.x:table',
        'public.child:inheritance-child',
        'public.gen:table',
        'public.parent:table',
        'public.t:table',
      ]);
      expect(all.find((t) => t.name === 'gen')?.columns).toEqual(['id', 'a']);
      expect(all.find((t) => t.name === 'child')?.parent).toEqual({ schema: 'public', name: 'parent' });
      expect(all.find((t) => t.name === 't')?.sizeBytes).toBeGreaterThan(1_000_000);
      expect(
        (
          await session.listTables([
            { schema: 'public', name: 't' },
            { schema: 'public', name: 'nope' },
          ])
        ).map((t) => t.name),
      ).toEqual(['t']);
      expect((await session.listTables({ schemas: ['other'] })).map((t) => t.name)).toEqual(['x']);
      expect(await session.sequences()).toEqual([
        { schema: 'public', name: 'gen_id_seq', lastValue: '1', isCalled: false },
        { schema: 'public', name: 's', lastValue: '77', isCalled: false },
        { schema: 'public', name: 't_id_seq', lastValue: '20000', isCalled: true },
      ]);
    } finally {
      await session.close();
    }
    expect(await backendPids('bk-snapshot')).toEqual([]);
  });

  it('exports only what the snapshot sees while other sessions write, and blocks TRUNCATE', async () => {
    const session = await SnapshotSession.open(url);
    try {
      const [t] = await session.listTables([{ schema: 'public', name: 't' }]);
      const parent = (await session.listTables([{ schema: 'public', name: 'parent' }]))[0]!;
      // Started before the writes, consumed after them.
      const early = await exportTable({ url, snapshotId: session.snapshotId, table: t! });
      await withPg(url, async (c) => {
        await c.query("INSERT INTO public.t (v) SELECT 'late' FROM generate_series(1, 1000)");
        await c.query('DELETE FROM public.t WHERE id <= 100');
        await c.query("UPDATE public.t SET v = 'changed' WHERE id BETWEEN 101 AND 200");
        await c.query("INSERT INTO public.parent VALUES (9, 'late')");
        await c.query("SET lock_timeout = '200ms'");
        await expect(c.query('TRUNCATE public.t')).rejects.toThrow(/lock timeout/);
      });
      // Started after the writes.
      const late = await exportTable({ url, snapshotId: session.snapshotId, table: t! });
      const [earlyRows, lateRows] = await Promise.all([collect(early.stream).then(rowsOf), collect(late.stream).then(rowsOf)]);
      expect(await early.done).toEqual({ rows: 20000 });
      expect(await late.done).toEqual({ rows: 20000 });
      expect(earlyRows.length).toBe(20000);
      expect(lateRows).toEqual(earlyRows);
      expect(earlyRows.some((r) => r.includes('late') || r.includes('changed'))).toBe(false);
      expect(earlyRows[0]).toMatch(/^1\t/);

      // COPY of an inheritance parent is its own rows only.
      const p = await exportTable({ url, snapshotId: session.snapshotId, table: parent });
      expect(rowsOf(await collect(p.stream))).toEqual(['1\tp']);
      expect(await p.done).toEqual({ rows: 1 });
    } finally {
      await session.close();
    }
    expect(await backendPids('bk-export')).toEqual([]);
  });

  it('covers a table exactly with its block-range chunks, rows beyond the measured size included', async () => {
    const session = await SnapshotSession.open(url);
    try {
      const [t] = (await session.listTables([{ schema: 'public', name: 't' }])) as [ExportableTable];
      // Pretend the table was smaller when measured: the open-ended last range still covers the rest.
      const ranges = session.tableChunks({ sizeBytes: Math.floor(t.sizeBytes / 2) }, 64 * 1024);
      expect(ranges.length).toBeGreaterThan(5);
      expect(ranges.at(-1)?.toBlock).toBeNull();
      const whole = await exportTable({ url, snapshotId: session.snapshotId, table: t });
      const wholeRows = rowsOf(await collect(whole.stream));
      const parts: string[] = [];
      let counted = 0;
      for (const chunk of ranges) {
        const e = await exportTable({ url, snapshotId: session.snapshotId, table: t, chunk });
        parts.push(...rowsOf(await collect(e.stream)));
        counted += (await e.done).rows;
      }
      expect(counted).toBe(wholeRows.length);
      expect([...parts].sort()).toEqual([...wholeRows].sort());
      expect(session.tableChunks({ sizeBytes: 10 }, 64 * 1024)).toEqual([{ fromBlock: 0, toBlock: null }]);
    } finally {
      await session.close();
    }
  });

  it('when the coordinator session dies: lost resolves, exports and schema dumps fail with SnapshotGoneError', async () => {
    const session = await SnapshotSession.open(url);
    const [t] = await session.listTables([{ schema: 'public', name: 't' }]);
    const pids = await backendPids('bk-snapshot');
    expect(pids).toHaveLength(1);
    await withPg(url, (c) => c.query('SELECT pg_terminate_backend($1)', [pids[0]]));
    const lost = await Promise.race([session.lost, sleep(5000).then(() => undefined)]);
    expect(lost).toBeInstanceOf(SnapshotGoneError);
    expect(session.isAlive()).toBe(false);

    const failed = exportTable({ url, snapshotId: session.snapshotId, table: t! });
    await expect(failed).rejects.toBeInstanceOf(SnapshotGoneError);
    await expect(failed).rejects.toThrow(/the coordinator's snapshot .* is no longer available; the backup cannot continue consistently/);
    await expect(session.listTables()).rejects.toBeInstanceOf(SnapshotGoneError);
    const dump = dumpSchema({ url, snapshotId: session.snapshotId, serverMajor: session.serverVersion.major, binDir: pg.binDir });
    await expect(collect(dump)).rejects.toBeInstanceOf(SnapshotGoneError);
    await session.close();
    expect(await backendPids('bk-export')).toEqual([]);
  });

  it('a closed session ends the snapshot too', async () => {
    const session = await SnapshotSession.open(url);
    const [t] = await session.listTables([{ schema: 'other', name: 'x' }]);
    await session.close();
    expect(session.isAlive()).toBe(false);
    await expect(exportTable({ url, snapshotId: session.snapshotId, table: t! })).rejects.toBeInstanceOf(SnapshotGoneError);
  });

  it('aborting an export stops the COPY and frees the connection', async () => {
    const session = await SnapshotSession.open(url);
    try {
      const [t] = await session.listTables([{ schema: 'public', name: 't' }]);
      const ac = new AbortController();
      const e = await exportTable({ url, snapshotId: session.snapshotId, table: t!, signal: ac.signal });
      let seen = 0;
      const reading = (async () => {
        for await (const chunk of e.stream) {
          seen += (chunk as Buffer).length;
          if (seen > 10_000) ac.abort();
        }
      })();
      await expect(reading).rejects.toThrow(/abort/i);
      await expect(e.done).rejects.toThrow(/abort/i);
      await sleep(200);
      expect(await backendPids('bk-export')).toEqual([]);
      // A consumer that goes away early releases the connection too.
      const e2 = await exportTable({ url, snapshotId: session.snapshotId, table: t! });
      e2.stream.destroy();
      await expect(e2.done).rejects.toThrow();
      await sleep(200);
      expect(await backendPids('bk-export')).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('dumps the schema inside the snapshot; a missing pg_dump version says which one is needed', async () => {
    const session = await SnapshotSession.open(url);
    try {
      await withPg(url, (c) => c.query('CREATE TABLE public.after_snapshot (id int)'));
      const pre = await collect(
        dumpSchema({
          url,
          snapshotId: session.snapshotId,
          serverMajor: session.serverVersion.major,
          section: 'pre-data',
          binDir: pg.binDir,
        }),
      );
      expect(pre.subarray(0, 5).toString()).toBe('PGDMP');
      expect(pre.includes(Buffer.from('CREATE TABLE public.t'))).toBe(true);
      expect(pre.includes(Buffer.from('after_snapshot'))).toBe(false);
      expect(pre.includes(Buffer.from('PRIMARY KEY'))).toBe(false); // post-data
      const missing = dumpSchema({ url, snapshotId: session.snapshotId, serverMajor: 99 });
      await expect(collect(missing)).rejects.toBeInstanceOf(ToolMissingError);
      await expect(collect(dumpSchema({ url, snapshotId: session.snapshotId, serverMajor: 99 }))).rejects.toThrow(/PostgreSQL 99 or newer/);
      const ac = new AbortController();
      const aborted = dumpSchema({ url, snapshotId: session.snapshotId, serverMajor: session.serverVersion.major, signal: ac.signal });
      ac.abort();
      await expect(collect(aborted)).rejects.toThrow(/abort/i);
    } finally {
      await session.close();
      await withPg(url, (c) => c.query('DROP TABLE public.after_snapshot'));
    }
  });
});

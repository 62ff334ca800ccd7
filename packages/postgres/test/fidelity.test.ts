import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareDatabases,
  dropLedger,
  dumpSchema,
  ensureDatabase,
  exportTable,
  importTable,
  RestoreConflictError,
  restoreSchema,
  rowCounts,
  setSequences,
  SnapshotSession,
  tableKey,
  type BlockRange,
  type CopyFormat,
  type ExportableTable,
  type SequenceValue,
  type TableRef,
} from '@bk/postgres';
import { collect, loadFidelityFixture, readableOf, testPg, withPg } from './support.ts';

/**
 * Issue 3, item 10: back up the fidelity fixture the way the platform does (one snapshot,
 * schema in two sections, every table exported inside it, one table in block-range chunks),
 * restore into a new database (pre-data, data, post-data, sequences) and require that
 * compareDatabases finds no difference at all. Then the same for selective and replace
 * restores.
 */

interface ExportedObject {
  readonly key: string;
  readonly table: ExportableTable;
  readonly chunk: BlockRange | null;
  readonly format: CopyFormat;
  readonly data: Buffer;
  readonly rows: number;
}

interface Backup {
  readonly pre: Buffer;
  readonly post: Buffer;
  readonly objects: readonly ExportedObject[];
  readonly sequences: readonly SequenceValue[];
  readonly serverMajor: number;
}

const pg = testPg();
let sourceUrl: string;
let backup: Backup;

/** `auto`: binary COPY for the tables whose types allow it, as the platform does by default. */
async function takeBackup(url: string, formats: 'auto' | 'text' = 'auto'): Promise<Backup> {
  const session = await SnapshotSession.open(url);
  try {
    const tables = await session.listTables();
    const sequences = await session.sequences();
    const common = { url, snapshotId: session.snapshotId, serverMajor: session.serverVersion.major, binDir: pg.binDir };
    // As the platform does: exports and schema dumps run concurrently, inside the snapshot.
    const [pre, post, objects] = await Promise.all([
      collect(dumpSchema({ ...common, section: 'pre-data' })),
      collect(dumpSchema({ ...common, section: 'post-data' })),
      (async () => {
        const out: ExportedObject[] = [];
        for (const table of tables) {
          const ranges: (BlockRange | null)[] =
            table.schema === 'fid' && table.name === 'big' ? session.tableChunks(table, 64 * 1024) : [null];
          const format = formats === 'auto' && table.binaryCopySafe ? 'binary' : 'text';
          for (const [i, chunk] of ranges.entries()) {
            const exp = await exportTable({ url, snapshotId: session.snapshotId, table, chunk, format });
            const data = await collect(exp.stream);
            const { rows } = await exp.done;
            out.push({ key: `${tableKey(table)}#${i}`, table, chunk, format, data, rows });
          }
        }
        return out;
      })(),
    ]);
    return { pre, post, objects, sequences, serverMajor: session.serverVersion.major };
  } finally {
    await session.close();
  }
}

async function restoreInto(url: string, b: Backup, opts: { tables?: TableRef[]; clean?: boolean; restoreId: string }): Promise<void> {
  const wanted = opts.tables ? new Set(opts.tables.map(tableKey)) : undefined;
  const base = { url, binDir: pg.binDir, ...(opts.tables ? { tables: opts.tables } : {}) };
  await restoreSchema({ ...base, section: 'pre-data', archive: () => Promise.resolve(readableOf(b.pre)), clean: opts.clean ?? false });
  for (const o of b.objects) {
    if (wanted && !wanted.has(tableKey(o.table))) continue;
    const r = await importTable({
      url,
      table: o.table,
      source: readableOf(o.data),
      format: o.format,
      ledger: { restoreId: opts.restoreId, objectKey: o.key },
    });
    expect(r, o.key).toEqual({ rows: o.rows, partRows: [o.rows], skipped: false });
  }
  await restoreSchema({ ...base, section: 'post-data', archive: () => Promise.resolve(readableOf(b.post)) });
  await setSequences(url, b.sequences, { onlyExisting: Boolean(opts.tables) });
  await dropLedger(url);
}

beforeAll(async () => {
  sourceUrl = await pg.createDatabase('fid_src');
  await loadFidelityFixture(sourceUrl);
  backup = await takeBackup(sourceUrl);
});

afterAll(async () => {
  await pg.dropAll();
});

describe('fidelity: backup, then restore into a new database', () => {
  let targetUrl: string;

  it('exported every table that holds rows, with the row counts of the source', async () => {
    const names = new Set(backup.objects.map((o) => `${o.table.schema}.${o.table.name}`));
    for (const n of [
      'fid.all_types',
      'fid.no_columns',
      'fid.all_dropped',
      'fid.empty_table',
      'fid.measurements_2024_eu',
      'fid.measurements_default',
      'fid.vehicle',
      'fid.amphibian',
      'Odd Schema "q".Table With Spaces',
      'fid.multi\nline table',
    ]) {
      expect(names, n).toContain(n);
    }
    // Partitioned parents hold no rows; views and materialized views are not tables.
    for (const n of ['fid.measurements', 'fid.measurements_2024', 'fid.hashed', 'fid.customer_orders', 'fid.customer_stats'])
      expect(names).not.toContain(n);
    expect(backup.objects.filter((o) => o.table.name === 'big' && o.table.schema === 'fid').length).toBeGreaterThan(3);

    const totals = new Map<string, number>();
    for (const o of backup.objects) totals.set(tableKey(o.table), (totals.get(tableKey(o.table)) ?? 0) + o.rows);
    const refs = [...new Map(backup.objects.map((o) => [tableKey(o.table), o.table])).values()];
    for (const c of await rowCounts(sourceUrl, refs)) expect(totals.get(tableKey(c)), `${c.schema}.${c.name}`).toBe(c.rows);
    expect(totals.get(tableKey({ schema: 'fid', name: 'no_columns' }))).toBe(7);
    expect(totals.get(tableKey({ schema: 'fid', name: 'all_dropped' }))).toBe(3);
    // Generated columns are not exported; identity columns are.
    const gen = backup.objects.find((o) => o.table.name === 'gen_ident')!;
    expect(gen.table.columns).toEqual(['id', 'code', 'a', 'b', 'tail']);
  });

  it('exports in binary COPY format exactly the tables whose every column type allows it', () => {
    const formatOf = (schema: string, name: string) => backup.objects.find((o) => o.table.schema === schema && o.table.name === name)?.format;
    // Built-in types only, at their edge values; chunks, no columns, odd names, TOASTed values.
    for (const [schema, name] of [
      ['fid', 'binary_types'],
      ['fid', 'floats'],
      ['fid', 'texts'],
      ['fid', 'big'],
      ['fid', 'no_columns'],
      ['fid', 'toasted'],
      ['fid', 'multi\nline table'],
      ['Odd Schema "q"', 'Table With Spaces'],
    ] as const)
      expect(formatOf(schema, name), `${schema}.${name}`).toBe('binary');
    // xml, reg*, enums, domains, composites and user ranges keep a table in text.
    for (const name of ['all_types', 'customer', 'order_lines']) expect(formatOf('fid', name), name).toBe('text');
    for (const o of backup.objects)
      expect(o.data.subarray(0, 11).equals(Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')), o.key).toBe(o.format === 'binary');
  });

  it('restores so that compareDatabases finds no difference', async () => {
    targetUrl = pg.reserveDatabase('fid_dst');
    const name = decodeURIComponent(new URL(targetUrl).pathname.slice(1));
    expect(await ensureDatabase(pg.url, name)).toBe(true);
    expect(await ensureDatabase(pg.url, name)).toBe(false);
    await restoreInto(targetUrl, backup, { restoreId: 'full-1' });
    expect(await compareDatabases(sourceUrl, targetUrl)).toEqual([]);
  });

  it('restores a backup taken in text format only (postgres.copyFormat: text) just as exactly', async () => {
    const text = await takeBackup(sourceUrl, 'text');
    expect(text.objects.every((o) => o.format === 'text')).toBe(true);
    const url = await pg.createDatabase('fid_text');
    await restoreInto(url, text, { restoreId: 'text-1' });
    expect(await compareDatabases(sourceUrl, url)).toEqual([]);
  });

  it('replaces an existing copy in place (replace mode: --clean, foreign keys in the way)', async () => {
    await withPg(targetUrl, (c) => c.query("UPDATE fid.texts SET t = 'changed' WHERE id = 5"));
    await restoreInto(targetUrl, backup, { clean: true, restoreId: 'replace-1' });
    expect(await compareDatabases(sourceUrl, targetUrl)).toEqual([]);
  });

  it('refuses to replace a table that a table outside the restore references, changing nothing', async () => {
    const attempt = restoreSchema({
      url: targetUrl,
      binDir: pg.binDir,
      section: 'pre-data',
      archive: () => Promise.resolve(readableOf(backup.pre)),
      tables: [{ schema: 'fid', name: 'customer' }],
      clean: true,
    });
    await expect(attempt).rejects.toBeInstanceOf(RestoreConflictError);
    await expect(attempt).rejects.toThrow(
      /cannot replace "fid"\."customer": referenced by foreign keys of tables outside this restore \("fid"\."orders" "orders_customer_id_fkey"\)/,
    );
    expect(await compareDatabases(sourceUrl, targetUrl)).toEqual([]);
  });

  it('builds post-data in parallel, and a retry after an interrupted run completes it exactly', async () => {
    const url = pg.reserveDatabase('fid_par');
    await ensureDatabase(pg.url, decodeURIComponent(new URL(url).pathname.slice(1)));
    await restoreSchema({ url, binDir: pg.binDir, section: 'pre-data', archive: () => Promise.resolve(readableOf(backup.pre)) });
    for (const o of backup.objects) await importTable({ url, table: o.table, source: readableOf(o.data), format: o.format });
    const post = {
      url,
      binDir: pg.binDir,
      section: 'post-data' as const,
      archive: () => Promise.resolve(readableOf(backup.post)),
      jobs: 3,
    };
    await restoreSchema(post);
    await setSequences(url, backup.sequences);
    expect(await compareDatabases(sourceUrl, url)).toEqual([]);

    // An interrupted run: some of the section built, some not (each object commits alone).
    await withPg(url, async (c) => {
      await c.query('DROP INDEX fid.bookings_lower_guest');
      await c.query('DROP STATISTICS fid.bookings_stats');
      await c.query('ALTER TABLE fid.orders DROP CONSTRAINT orders_customer_id_fkey');
      await c.query('DROP TRIGGER customer_mark ON fid.customer');
      await c.query('DROP POLICY orders_positive ON fid.orders');
      await c.query('ALTER TABLE fid.texts DROP CONSTRAINT texts_pkey');
    });
    // Running it all again fails on what exists...
    await expect(restoreSchema(post)).rejects.toThrow(/pg_restore failed[^]*(already exists|multiple primary keys)/);
    // ...a retry builds what is missing, and the copy is exact again.
    const retry = await restoreSchema({ ...post, skipExisting: true });
    expect(await compareDatabases(sourceUrl, url)).toEqual([]);
    expect(retry.alreadyPresent?.some((e) => e.startsWith('INDEX fid measurements_region_taken '))).toBe(true);
    expect(retry.alreadyPresent?.some((e) => e.startsWith('INDEX fid bookings_lower_guest '))).toBe(false);
    expect(retry.alreadyPresent?.some((e) => e.startsWith('FK CONSTRAINT fid orders orders_customer_id_fkey '))).toBe(false);
  });

  it('reports a changed row, sequence, index, constraint, view and function', async () => {
    await withPg(targetUrl, async (c) => {
      await c.query(`UPDATE fid.texts SET t = E'\\\\.' || 'x' WHERE id = 5`);
      await c.query("SELECT setval('fid.seq_plain', 43)");
      await c.query('DROP INDEX fid.bookings_lower_guest');
      await c.query('ALTER TABLE fid.orders DROP CONSTRAINT orders_total_check');
      await c.query(
        'CREATE OR REPLACE VIEW fid.customer_orders AS SELECT c.id, c.email, 0::bigint AS orders, 0::numeric AS total FROM fid.customer c',
      );
      await c.query(
        'CREATE OR REPLACE FUNCTION fid.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT b + a $$',
      );
      await c.query('INSERT INTO fid.no_columns DEFAULT VALUES');
    });
    const diffs = await compareDatabases(sourceUrl, targetUrl);
    const kinds = new Set(diffs.map((d) => `${d.kind} ${d.object}`));
    expect(kinds).toEqual(
      new Set([
        'content fid.texts',
        'sequence fid.seq_plain value',
        'index fid.bookings_lower_guest',
        'constraint fid.orders orders_total_check',
        'view fid.customer_orders',
        'function fid.add(integer,integer)',
        'rows fid.no_columns',
        'content fid.no_columns',
      ]),
    );
  });
});

describe('fidelity: selective restores', () => {
  it('restores two tables with what they need, and nothing else', async () => {
    const url = await pg.createDatabase('fid_sel');
    const tables = [
      { schema: 'fid', name: 'customer' },
      { schema: 'fid', name: 'orders' },
    ];
    await restoreInto(url, backup, { tables, restoreId: 'sel-1' });
    expect(await compareDatabases(sourceUrl, url, { tables })).toEqual([]);
    await withPg(url, async (c) => {
      const rels = await c.query<{ r: string }>(
        "SELECT c.relname AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'fid' AND c.relkind IN ('r','p','v','m','S') ORDER BY 1",
      );
      expect(rels.rows.map((r) => r.r)).toEqual(['customer', 'orders']);
      // Types, domains and functions come along; foreign keys, triggers and policies of the two tables too.
      const fk = await c.query("SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1");
      expect(fk.rows.map((r: { conname: string }) => r.conname)).toEqual(['customer_referred_by_fkey', 'orders_customer_id_fkey']);
      const rows = await c.query<{ note: string }>('SELECT note FROM fid.customer WHERE id = 5');
      expect(rows.rows[0]?.note).toBe('through the trigger [ins]');
    });
  });

  it('restores a partition with its parents, serial and default sequences, and look-alike names', async () => {
    const url = await pg.createDatabase('fid_sel2');
    const tables = [
      { schema: 'fid', name: 'measurements_2024_eu' },
      { schema: 'fid', name: 'with_serial' },
      { schema: 'fid', name: 'a' },
      { schema: 'fid a', name: 'b' },
      { schema: 'fid', name: 'multi\nline table' },
    ];
    await restoreInto(url, backup, { tables, restoreId: 'sel-2' });
    expect(await compareDatabases(sourceUrl, url, { tables })).toEqual([]);
    await withPg(url, async (c) => {
      const rels = await c.query<{ r: string }>(
        "SELECT n.nspname || '.' || c.relname AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('fid', 'fid a') AND c.relkind IN ('r','p','S') ORDER BY 1",
      );
      expect(rels.rows.map((r) => r.r)).toEqual([
        'fid a.b',
        'fid.a',
        'fid.measurements',
        'fid.measurements_2024',
        'fid.measurements_2024_eu',
        'fid.multi\nline table',
        'fid.seq_plain',
        'fid.with_serial',
        'fid.with_serial_big_seq',
        'fid.with_serial_id_seq',
        'fid.with_serial_small_seq',
      ]);
      const seq = await c.query<{ v: string }>('SELECT last_value::text AS v FROM fid.with_serial_id_seq');
      expect(seq.rows[0]?.v).toBe('500');
    });
  });
});

import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SnapshotSession,
  databaseIsEmptyFor,
  dropLedger,
  ensureDatabase,
  exportTable,
  importTable,
  LEDGER_SCHEMA,
  rowCounts,
  setSequences,
  tableContentHash,
  tablesWithRows,
} from '@bk/postgres';
import { collect, testPg, withPg } from './support.ts';

const pg = testPg();
let url: string;
const table = { schema: 'public', name: 'Target "T"', columns: ['id', 'v'] };

beforeAll(async () => {
  url = await pg.createDatabase('import');
  await withPg(url, (c) =>
    c.query(`
      CREATE TABLE public."Target ""T""" (id int, v text);
      CREATE TABLE public.nocols ();
      CREATE SEQUENCE public.s1;
      CREATE TABLE public.pk (id int PRIMARY KEY);
      CREATE TABLE public.slow (id int, v text);
      CREATE FUNCTION public.pause() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.id % 2000 = 0 THEN PERFORM pg_sleep(0.01); END IF; RETURN NEW; END $$;
      CREATE TRIGGER pause BEFORE INSERT ON public.slow FOR EACH ROW EXECUTE FUNCTION public.pause();
    `),
  );
});

afterAll(async () => {
  await pg.dropAll();
});

function copyText(from: number, to: number): Buffer {
  let s = '';
  for (let i = from; i <= to; i++) s += `${i}\tvalue\\t${i}\\n\n`;
  return Buffer.from(s);
}

/** Emits `good` in small pieces, then fails. */
function failingSource(good: Buffer, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent < good.length) {
        this.push(good.subarray(sent, sent + 4096));
        sent += 4096;
      } else {
        this.destroy(error);
      }
    },
  });
}

async function count(name: string): Promise<number> {
  return withPg(url, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM public.${name}`)).rows[0]?.n));
}

describe('importTable', () => {
  it("loads COPY text and reports COPY's row count; values round-trip", async () => {
    const r = await importTable({ url, table, source: Readable.from([copyText(1, 1000)]) });
    expect(r).toEqual({ rows: 1000, partRows: [1000], skipped: false });
    await withPg(url, async (c) => {
      const row = await c.query<{ v: string }>('SELECT v FROM public."Target ""T""" WHERE id = 7');
      expect(row.rows[0]?.v).toBe('value\t7\n');
      await c.query('TRUNCATE public."Target ""T"""');
    });
  });

  it('with `sent`, hands every chunk back once the server has it: a producer reusing them loads exact data', async () => {
    // The producer refills buffers as soon as they come back (as a restore's decompressors
    // do with pooled buffers): a chunk handed back before the socket took it would be
    // overwritten while still queued, and garbled rows would load or fail. The table's
    // trigger pauses now and then, so the socket does fall behind and writes queue up.
    const rows = 200_000;
    const free: Buffer[] = [];
    const pushed = new Set<Buffer>();
    let handedBack = 0;
    let mostInFlight = 0;
    let next = 1;
    let fresh = 0;
    const source = new Readable({
      read() {
        if (next > rows) {
          this.push(null);
          return;
        }
        const buf = free.pop() ?? (fresh++, Buffer.allocUnsafeSlow(16 * 1024));
        let len = 0;
        for (; next <= rows; next++) {
          const line = `${next}\trow-${next}-${'x'.repeat(next % 50)}\n`;
          if (len + line.length > buf.length) break;
          len += buf.write(line, len, 'latin1');
        }
        const chunk = buf.subarray(0, len);
        pushed.add(chunk);
        mostInFlight = Math.max(mostInFlight, pushed.size);
        this.push(chunk);
      },
    });
    const slow = { schema: 'public', name: 'slow', columns: ['id', 'v'] };
    const r = await importTable({
      url,
      table: slow,
      source,
      sent: (chunk) => {
        expect(pushed.delete(chunk)).toBe(true);
        handedBack++;
        free.push(Buffer.from(chunk.buffer));
      },
    });
    expect(r).toEqual({ rows, partRows: [rows], skipped: false });
    expect(pushed.size).toBe(0);
    expect(fresh).toBeLessThan(handedBack);
    // The socket did fall behind: many chunks were out, written but not yet sent, at once.
    expect(mostInFlight).toBeGreaterThan(8);
    await withPg(url, async (c) => {
      const q = await c.query<{ n: string; ok: string; ids: string }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS ids,
                count(*) FILTER (WHERE v = 'row-' || id || '-' || repeat('x', id % 50)) AS ok
           FROM public.slow`,
      );
      expect(q.rows[0]).toEqual({ n: String(rows), ids: String(rows), ok: String(rows) });
    });
  });

  it('a source error mid-COPY rolls everything back and is rethrown as is', async () => {
    const boom = new Error('sha256 mismatch in object x');
    await expect(
      importTable({ url, table, source: failingSource(copyText(1, 5000), boom), ledger: { restoreId: 'r1', objectKey: 'k-fail' } }),
    ).rejects.toBe(boom);
    expect(await count('"Target ""T"""')).toBe(0);
    await withPg(url, async (c) => {
      const l = await c.query(`SELECT * FROM "${LEDGER_SCHEMA}".ledger WHERE object_key = 'k-fail'`);
      expect(l.rowCount).toBe(0);
    });
  });

  it('with a ledger key, a retried load after a committed one is a no-op returning the recorded rows', async () => {
    const key = { restoreId: 'r1', objectKey: 'data/public/T.part0.copy.gz' };
    expect(await importTable({ url, table, source: Readable.from([copyText(1, 300)]), ledger: key })).toEqual({
      rows: 300,
      partRows: [300],
      skipped: false,
    });
    const again = Readable.from([copyText(1, 300)]);
    expect(await importTable({ url, table, source: again, ledger: key })).toEqual({ rows: 300, partRows: [], skipped: true });
    expect(again.destroyed).toBe(true);
    expect(await count('"Target ""T"""')).toBe(300);
    // Another object of the same table, and the same object in another restore, do load.
    expect(await importTable({ url, table, source: Readable.from([copyText(301, 350)]), ledger: { ...key, objectKey: 'part1' } })).toEqual({
      rows: 50,
      partRows: [50],
      skipped: false,
    });
    expect(await count('"Target ""T"""')).toBe(350);
  });

  it('concurrent attempts of the same object load it once', async () => {
    const key = { restoreId: 'r2', objectKey: 'same' };
    const results = await Promise.all(
      [1, 2, 3].map(() => importTable({ url, table, source: Readable.from([copyText(1000, 1099)]), ledger: key })),
    );
    expect(results.map((r) => r.rows)).toEqual([100, 100, 100]);
    expect(results.filter((r) => !r.skipped)).toHaveLength(1);
    expect(await count('"Target ""T""" WHERE id >= 1000')).toBe(100);
  });

  it('loads a table without columns: one empty line per row', async () => {
    const r = await importTable({
      url,
      table: { schema: 'public', name: 'nocols', columns: [] },
      source: Readable.from([Buffer.from('\n\n\n\n')]),
    });
    expect(r.rows).toBe(4);
    expect(await count('nocols')).toBe(4);
    expect(await tableContentHash(url, { schema: 'public', name: 'nocols' })).toMatchObject({ rows: 4 });
  });

  it('a bad row fails the load as a whole', async () => {
    await expect(
      importTable({ url, table: { schema: 'public', name: 'pk', columns: ['id'] }, source: Readable.from([Buffer.from('1\n2\n2\n')]) }),
    ).rejects.toThrow(/duplicate key/);
    expect(await count('pk')).toBe(0);
  });

  it('an aborted load leaves nothing', async () => {
    const ac = new AbortController();
    let n = 0;
    const slow = new Readable({
      read() {
        n++;
        if (n === 5) ac.abort();
        setTimeout(() => this.push(copyText(n * 100, n * 100 + 99)), 10);
      },
    });
    await expect(
      importTable({ url, table, source: slow, signal: ac.signal, ledger: { restoreId: 'r3', objectKey: 'aborted' } }),
    ).rejects.toThrow(/abort/i);
    expect(slow.destroyed).toBe(true);
    await withPg(url, async (c) => {
      const l = await c.query(`SELECT * FROM "${LEDGER_SCHEMA}".ledger WHERE restore_id = 'r3'`);
      expect(l.rowCount).toBe(0);
    });
  });

  it('dropLedger removes the ledger schema', async () => {
    await dropLedger(url);
    await dropLedger(url);
    await withPg(url, async (c) => {
      expect((await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [LEDGER_SCHEMA])).rowCount).toBe(0);
    });
  });

  describe('skipping WAL (the harness server runs wal_level = minimal)', () => {
    const fresh = { schema: 'public', name: 'walskip', columns: ['id', 'v'] };
    const filenode = (c: import('pg').Client): Promise<string> =>
      c.query<{ f: string }>(`SELECT pg_relation_filenode('public.walskip')::text AS f`).then((r) => r.rows[0]?.f ?? '');
    beforeAll(async () => {
      await withPg(url, (c) => c.query('CREATE TABLE public.walskip (id int, v text)'));
    });

    it('truncates an empty table in the load transaction (new storage: COPY skips WAL), not a chunk', async () => {
      await withPg(url, async (c) => {
        expect(await withPg(url, (c2) => c2.query(`SELECT current_setting('wal_level') AS w`))).toMatchObject({ rows: [{ w: 'minimal' }] });
        const before = await filenode(c);
        await importTable({
          url,
          table: fresh,
          source: Readable.from([copyText(1, 2000)]),
          ledger: { restoreId: 'w1', objectKey: 'x/walskip.copy.zst' },
        });
        const afterWhole = await filenode(c);
        expect(afterWhole).not.toBe(before);
        expect(await count('walskip')).toBe(2000);
        // Not empty any more: loads append, nothing is truncated.
        await importTable({
          url,
          table: fresh,
          source: Readable.from([copyText(2001, 2100)]),
          ledger: { restoreId: 'w1', objectKey: 'x/walskip.copy.gz' },
        });
        expect(await filenode(c)).toBe(afterWhole);
        expect(await count('walskip')).toBe(2100);
        await c.query('TRUNCATE public.walskip');
        // A chunk (keys.ts ".part-NNNN.") or skipWal: false leaves the table's storage alone.
        const empty = await filenode(c);
        await importTable({
          url,
          table: fresh,
          source: Readable.from([copyText(1, 10)]),
          ledger: { restoreId: 'w1', objectKey: 'x/walskip.part-0001.copy.zst' },
        });
        await importTable({ url, table: fresh, source: Readable.from([copyText(11, 20)]), skipWal: false });
        expect(await filenode(c)).toBe(empty);
        expect(await count('walskip')).toBe(20);
        await c.query('TRUNCATE public.walskip');
      });
    });

    it('never empties rows of a load still in progress, and does not wait for it', async () => {
      await withPg(url, async (other) => {
        await other.query('BEGIN');
        await other.query(`INSERT INTO public.walskip VALUES (-1, 'uncommitted')`);
        // The other transaction holds ROW EXCLUSIVE: no exclusive lock now, plain COPY.
        const r = await importTable({ url, table: fresh, source: Readable.from([copyText(1, 50)]) });
        expect(r.rows).toBe(50);
        await other.query('COMMIT');
      });
      expect(await count('walskip')).toBe(51);
      await withPg(url, (c) => c.query('TRUNCATE public.walskip'));
    });

    it('under REPEATABLE READ, only a table without a single page counts as empty', async () => {
      const db = await pg.createDatabase('import_rr');
      await withPg(db, (c) =>
        c.query(
          `CREATE TABLE public.walskip (id int, v text); ALTER DATABASE ${c.escapeIdentifier(c.database ?? '')} SET default_transaction_isolation = 'repeatable read'`,
        ),
      );
      await withPg(db, async (c) => {
        const before = await filenode(c);
        await importTable({ url: db, table: fresh, source: Readable.from([copyText(1, 10)]) });
        const after = await filenode(c);
        expect(after).not.toBe(before);
        // Rows deleted: no row visible, but pages left: not provably empty under RR.
        await c.query('DELETE FROM public.walskip');
        await importTable({ url: db, table: fresh, source: Readable.from([copyText(11, 20)]) });
        expect(await filenode(c)).toBe(after);
        expect(Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM public.walskip')).rows[0]?.n)).toBe(10);
      });
    });

    it('a failed load rolls its TRUNCATE back with the rest', async () => {
      const boom = new Error('checksum mismatch');
      await expect(importTable({ url, table: fresh, source: failingSource(copyText(1, 5000), boom) })).rejects.toBe(boom);
      expect(await count('walskip')).toBe(0);
    });
  });
});

/** Where the last tuple of binary COPY data starts (header: 19 bytes + extension; tuples: int16 count, int32 length + bytes per field). */
function lastTupleStart(data: Buffer): number {
  let i = 19 + data.readInt32BE(15);
  let last = i;
  for (let count = data.readInt16BE(i); count !== -1; count = data.readInt16BE(i)) {
    last = i;
    i += 2;
    for (let f = 0; f < count; f++) i += 4 + Math.max(0, data.readInt32BE(i));
  }
  return last;
}

describe('binary COPY data, and a table loaded from several objects', () => {
  const src = { schema: 'public', name: 'bin_src', columns: ['id', 'ts', 'n', 'b', 'a'] };
  const dst = { ...src, name: 'bin_dst' };
  /** Binary COPY data of bin_src rows with from <= id <= to, as a backup's export writes it. */
  let parts: Buffer[];
  let text: Buffer;

  beforeAll(async () => {
    await withPg(url, (c) =>
      c.query(`
        CREATE TABLE public.bin_src (id bigint, ts timestamptz, n numeric, b bytea, a int[]);
        INSERT INTO public.bin_src SELECT g, 'epoch'::timestamptz + g * interval '1.5 s', g / 7.0, decode(lpad(to_hex(g), 8, '0'), 'hex'),
          CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY[g, NULL, -g] END FROM generate_series(1, 3000) g;
        INSERT INTO public.bin_src VALUES (0, 'infinity', 'NaN', '\\x00', '{}');
        CREATE TABLE public.bin_dst (LIKE public.bin_src);
      `),
    );
    const snap = await SnapshotSession.open(url);
    try {
      // Three block ranges, as a chunked export writes them: each a complete binary stream.
      const pages = [0, 3, 6, null] as const;
      parts = [];
      for (let i = 0; i < 3; i++) {
        const e = await exportTable({ url, snapshotId: snap.snapshotId, table: src, chunk: { fromBlock: pages[i]!, toBlock: pages[i + 1]! }, format: 'binary' });
        parts.push(await collect(e.stream));
        await e.done;
      }
      const t = await exportTable({ url, snapshotId: snap.snapshotId, table: src });
      text = await collect(t.stream);
      await t.done;
    } finally {
      await snap.close();
    }
  });

  const same = () =>
    withPg(url, async (c) => {
      const r = await c.query<{ n: string }>(
        'SELECT count(*) AS n FROM (SELECT * FROM public.bin_src EXCEPT ALL SELECT * FROM public.bin_dst UNION ALL (SELECT * FROM public.bin_dst EXCEPT ALL SELECT * FROM public.bin_src)) d',
      );
      return Number(r.rows[0]?.n) === 0 && (await count('bin_dst')) === 3001;
    });
  const truncate = () => withPg(url, (c) => c.query('TRUNCATE public.bin_dst'));

  it('every chunk is a binary COPY stream of its own', () => {
    for (const p of parts) expect(p.subarray(0, 11).equals(Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'))).toBe(true);
    expect(parts.every((p) => p.length > 100)).toBe(true);
  });

  it('loads the chunks one COPY each in one transaction, checking each count, exactly', async () => {
    const seen: [number, number][] = [];
    const r = await importTable({
      url,
      table: dst,
      format: 'binary',
      source: { parts: Readable.from(parts.map((p) => Readable.from([p.subarray(0, 50), p.subarray(50)]))) },
      checkPart: (i, n) => seen.push([i, n]),
      ledger: { restoreId: 'bin-1', objectKey: 'bin_dst' },
    });
    expect(r.rows).toBe(3001);
    expect(r.partRows).toHaveLength(3);
    expect(seen).toEqual(r.partRows.map((n, i) => [i, n]));
    expect(await same()).toBe(true);
    // The ledger makes a retry a no-op that opens no object.
    let opened = 0;
    async function* lazy() {
      for (const p of parts) {
        opened++;
        yield Readable.from([p]);
      }
    }
    expect(await importTable({ url, table: dst, format: 'binary', source: { parts: lazy() }, ledger: { restoreId: 'bin-1', objectKey: 'bin_dst' } })).toEqual({
      rows: 3001,
      partRows: [],
      skipped: true,
    });
    expect(opened).toBe(0);
    await truncate();
  });

  it('a count refused by checkPart, a failing later object or a truncated one rolls the whole load back', async () => {
    await expect(
      importTable({
        url,
        table: dst,
        format: 'binary',
        source: { parts: Readable.from(parts.map((p) => Readable.from([p]))) },
        checkPart: (i) => {
          if (i === 2) throw new Error('object 3 holds other rows than the manifest says');
        },
      }),
    ).rejects.toThrow(/object 3 holds other rows/);
    expect(await count('bin_dst')).toBe(0);

    const boom = new Error('sha256 mismatch in object 2');
    async function* failing() {
      yield Readable.from([parts[0]!]);
      yield failingSource(parts[1]!, boom);
    }
    await expect(importTable({ url, table: dst, format: 'binary', source: { parts: failing() } })).rejects.toBe(boom);
    expect(await count('bin_dst')).toBe(0);

    // Cut inside a tuple: the server refuses it.
    const cut = parts[2]!.subarray(0, parts[2]!.length - 7);
    await expect(importTable({ url, table: dst, format: 'binary', source: Readable.from([cut]) })).rejects.toThrow(/unexpected EOF/);
    expect(await count('bin_dst')).toBe(0);
    // Cut between tuples, trailer gone: the server takes it as the end of the data (as it takes
    // a text object cut after a line), so only the row count shows that rows are missing.
    const { partRows } = await importTable({ url, table: dst, format: 'binary', source: Readable.from([parts[2]!]) });
    await truncate();
    const short = parts[2]!.subarray(0, lastTupleStart(parts[2]!)); // the last row and the trailer gone
    await expect(
      importTable({
        url,
        table: dst,
        format: 'binary',
        source: Readable.from([short]),
        checkPart: (_i, n) => {
          if (n !== partRows[0]) throw new Error(`loaded ${n} rows, the manifest says ${partRows[0]}`);
        },
      }),
    ).rejects.toThrow(`loaded ${partRows[0]! - 1} rows, the manifest says ${partRows[0]}`);
    expect(await count('bin_dst')).toBe(0);
  });

  it('refuses data of the other format loudly, loading nothing', async () => {
    await expect(importTable({ url, table: dst, format: 'binary', source: Readable.from([text]) })).rejects.toThrow(/COPY file signature not recognized/);
    await expect(importTable({ url, table: dst, source: Readable.from([parts[0]!]) })).rejects.toThrow(/invalid|syntax/i);
    expect(await count('bin_dst')).toBe(0);
    // The text export of the same rows loads to the same table.
    await importTable({ url, table: dst, source: Readable.from([text]) });
    expect(await same()).toBe(true);
    await truncate();
  });
});

describe('restore target checks', () => {
  it('ensureDatabase creates a database with an awkward name once', async () => {
    const name = `t_new "db" ü ${Date.now()}`;
    const target = pg.reserveDatabase('unused');
    expect(await ensureDatabase(pg.url, name)).toBe(true);
    expect(await ensureDatabase(pg.url, name)).toBe(false);
    // A URL naming the database to create works as the server URL too.
    const u = new URL(target);
    u.pathname = `/${encodeURIComponent(name)}x`;
    expect(await ensureDatabase(u.toString(), `${name}x`)).toBe(true);
    await withPg(pg.url, async (c) => {
      await c.query(`DROP DATABASE ${c.escapeIdentifier(name)}`);
      await c.query(`DROP DATABASE ${c.escapeIdentifier(`${name}x`)}`);
    });
  });

  it('tablesWithRows / databaseIsEmptyFor / rowCounts see rows, skip missing tables and databases', async () => {
    const refs = [
      { schema: 'public', name: 'Target "T"' },
      { schema: 'public', name: 'pk' },
      { schema: 'public', name: 'missing' },
    ];
    expect(await tablesWithRows(url, refs)).toEqual([{ schema: 'public', name: 'Target "T"' }]);
    expect(await databaseIsEmptyFor(url, refs)).toBe(false);
    expect(await databaseIsEmptyFor(url, [refs[1]!, refs[2]!])).toBe(true);
    expect(await databaseIsEmptyFor(pg.reserveDatabase('nodb'), refs)).toBe(true);
    expect(await rowCounts(url, refs)).toEqual([
      { schema: 'public', name: 'Target "T"', exists: true, rows: 450 },
      { schema: 'public', name: 'pk', exists: true, rows: 0 },
      { schema: 'public', name: 'missing', exists: false, rows: 0 },
    ]);
  });

  it('setSequences sets values in one transaction; onlyExisting skips missing ones', async () => {
    const seqs = [
      { schema: 'public', name: 's1', lastValue: '9223372036854775807', isCalled: false },
      { schema: 'public', name: 'gone', lastValue: '1', isCalled: true },
    ];
    await expect(setSequences(url, seqs)).rejects.toThrow(/does not exist/);
    expect(await setSequences(url, seqs, { onlyExisting: true })).toBe(1);
    await withPg(url, async (c) => {
      const r = await c.query('SELECT last_value::text AS v, is_called FROM public.s1');
      expect(r.rows[0]).toEqual({ v: '9223372036854775807', is_called: false });
    });
  });
});

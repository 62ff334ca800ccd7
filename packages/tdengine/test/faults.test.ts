/**
 * Faults through the test server's switches (issue 4, item 10, data side): silent truncation
 * and mid-stream fetch errors fail the export (never a short success), a dropped connection
 * and a 503 surface as typed errors (retrying is the caller's), imports stop on the first
 * failed statement.
 */

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  TdConnectionLostError,
  TdError,
  TdRowCountMismatchError,
  describe as describeTable,
  exportRows,
  importRows,
  type ColumnInfo,
  type RowsExport,
} from '../src/index.ts';
import { collect, startTestTd, textSource, type TestTd } from './support.ts';

let td: TestTd;
let columns: readonly ColumnInfo[];
const ROWS = 2_500;
const TO = 3n * 10n ** 16n;

beforeAll(async () => {
  td = await startTestTd();
  const c = td.client;
  await c.exec("CREATE DATABASE f PRECISION 'us'");
  await c.exec('CREATE STABLE f.st (ts TIMESTAMP, v DOUBLE, s NCHAR(8)) TAGS (g INT)');
  const values: string[] = [];
  for (let i = 0; i < ROWS; i++) values.push(`(${1_700_000_000_000_000 + i * 1000}, ${i / 7}, 'n${i}')`);
  await c.exec(`INSERT INTO f.c1 USING f.st TAGS (1) VALUES ${values.join(' ')}`);
  columns = (await describeTable(c, 'f', 'c1')).columns;
});

afterAll(async () => {
  await td?.close();
});

beforeEach(() => {
  td.server.faults.clear();
});

function exportC1(pageSize = 1000, signal?: AbortSignal): RowsExport {
  return exportRows({ client: td.client, db: 'f', table: 'c1', columns, precision: 'us', to: TO, pageSize, signal });
}

/** Consumes an export; returns the error of the stream and of `done` (both must fail alike). */
async function exportFailure(ex: RowsExport): Promise<Error> {
  const streamErr = await collect(ex.stream).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  const doneErr = await ex.done.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(streamErr, 'the stream must fail').toBeInstanceOf(Error);
  expect(doneErr).toBe(streamErr);
  return doneErr!;
}

describe('export faults', () => {
  it('exports everything when nothing goes wrong (pages of 1000)', async () => {
    const ex = exportC1();
    const text = await collect(ex.stream);
    expect(await ex.done).toEqual({ rows: ROWS });
    expect(text.split('\n')).toHaveLength(ROWS + 1);
  });

  it('restfulRowLimit truncation below the page size fails the export', async () => {
    td.server.faults.rowLimit(600, { match: 'FROM `f`.`c1`' });
    const e = await exportFailure(exportC1());
    expect(e).toBeInstanceOf(TdRowCountMismatchError);
    expect(e.message).toMatch(/COUNT\(\*\).*says 2500/);
  });

  it('a server-wide restfulRowLimit above the page size is harmless; at or below it fails loudly', async () => {
    const limited = await startTestTd({ restfulRowLimit: 1000 });
    try {
      const c = limited.client;
      await c.exec("CREATE DATABASE g PRECISION 'ms'");
      await c.exec('CREATE TABLE g.t (ts TIMESTAMP, v INT)');
      await c.exec(`INSERT INTO g.t VALUES ${Array.from({ length: 3000 }, (_, i) => `(${i + 1}, ${i})`).join(' ')}`);
      const cols = (await describeTable(c, 'g', 't')).columns;
      // each page asks for pageSize + 1 rows (the extra one says whether another page follows)
      const ok = exportRows({ client: c, db: 'g', table: 't', columns: cols, precision: 'ms', to: 10n ** 12n, pageSize: 999 });
      await collect(ok.stream);
      expect(await ok.done).toEqual({ rows: 3000 });
      for (const pageSize of [1000, 1500]) {
        const bad = exportRows({ client: c, db: 'g', table: 't', columns: cols, precision: 'ms', to: 10n ** 12n, pageSize });
        expect(await exportFailure(bad)).toBeInstanceOf(TdRowCountMismatchError);
      }
    } finally {
      await limited.close();
    }
  });

  it('a fetch error that still ends with code 0 fails the export', async () => {
    td.server.faults.fetchError(700, { times: 1, match: 'SELECT `ts`' });
    const e = await exportFailure(exportC1());
    expect(e).toBeInstanceOf(TdRowCountMismatchError);
  });

  it('a fetch error on the last, short page fails the export too', async () => {
    td.server.faults.fetchError(100, { times: 1, match: '> 1700000001999000' });
    expect(await exportFailure(exportC1())).toBeInstanceOf(TdRowCountMismatchError);
  });

  it('a dropped connection fails the export with TdConnectionLostError (retrying is the caller’s)', async () => {
    td.server.faults.dropConnection({ afterRows: 300 }, { times: 1, match: 'SELECT `ts`' });
    const e = await exportFailure(exportC1());
    expect(e).toBeInstanceOf(TdConnectionLostError);
    expect(e).toMatchObject({ permanent: false });
    // the retry succeeds
    const again = exportC1();
    await collect(again.stream);
    expect(await again.done).toEqual({ rows: ROWS });
  });

  it('a 503 fails the export with a TdError carrying the status', async () => {
    td.server.faults.http503({ times: 1, match: 'COUNT(*)' });
    const e = await exportFailure(exportC1());
    expect(e).toBeInstanceOf(TdError);
    expect(e).toMatchObject({ httpStatus: 503, permanent: false });
  });

  it('an abort stops the export', async () => {
    const ac = new AbortController();
    td.server.faults.latency(0, { match: 'SELECT `ts`' }, 20);
    const ex = exportC1(1000, ac.signal);
    setTimeout(() => ac.abort(new Error('backup cancelled')), 30);
    const e = await exportFailure(ex);
    expect(e.message).toBe('backup cancelled');
  });

  it('a consumer that stops reading early gets a rejected done, and the connection is released', async () => {
    const ex = exportC1(500);
    let seen = 0;
    await expect(
      pipeline(
        ex.stream,
        new Writable({
          write(chunk: Buffer, _e, cb) {
            seen += chunk.length;
            cb(seen > 10_000 ? new Error('disk full') : null);
          },
        }),
      ),
    ).rejects.toThrow('disk full');
    await expect(ex.done).rejects.toThrow();
    expect((await td.client.queryAll('SELECT COUNT(*) FROM f.c1')).rows).toEqual([[String(ROWS)]]);
  });
});

describe('import faults', () => {
  async function exported(): Promise<string> {
    const ex = exportC1();
    return collect(ex.stream);
  }

  it('a statement refused as too long fails the import with TdError 537 (permanent)', async () => {
    const text = await exported();
    await td.client.exec("CREATE DATABASE IF NOT EXISTS f2 PRECISION 'us'");
    await td.client.exec('CREATE STABLE IF NOT EXISTS f2.st (ts TIMESTAMP, v DOUBLE, s NCHAR(8)) TAGS (g INT)');
    td.server.faults.sqlTooLong({ times: 1, match: 'INSERT INTO' });
    const err = await importRows({
      client: td.client,
      db: 'f2',
      table: { name: 'c1', stable: 'st', tags: [{ name: 'g', type: { name: 'INT', length: 0, scale: 0 }, value: '1' }] },
      columns,
      source: textSource(text, 4096),
      maxStatementBytes: 16 * 1024,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(TdError);
    expect(err).toMatchObject({ code: 537, permanent: true });
  });

  it('a dropped connection during an INSERT fails the import; replaying it completes the table', async () => {
    const text = await exported();
    await td.client.exec("CREATE DATABASE IF NOT EXISTS f3 PRECISION 'us'");
    await td.client.exec('CREATE TABLE IF NOT EXISTS f3.t (ts TIMESTAMP, v DOUBLE, s NCHAR(8))');
    td.server.faults.dropConnection({}, { times: 1, match: 'INSERT INTO' });
    const opts = { client: td.client, db: 'f3', table: { name: 't' }, columns, maxStatementBytes: 16 * 1024 };
    await expect(importRows({ ...opts, source: textSource(text, 4096) })).rejects.toBeInstanceOf(TdConnectionLostError);
    expect(await importRows({ ...opts, source: textSource(text, 4096) })).toEqual({ rows: ROWS });
    expect((await td.client.queryAll('SELECT COUNT(*) FROM f3.t')).rows).toEqual([[String(ROWS)]]);
  });
});

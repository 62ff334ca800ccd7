/**
 * Throughput of exportRows / importTables against the TDengine REST test server, which runs
 * in a child process (its own core), as a real server would.
 *
 *   npx tsx packages/tdengine/test/bench-throughput.ts [--tables 100] [--rows 10000] [--no-gzip]
 *
 * Prints rows/s for: import (importTables, one call, 2 statements in flight), export (one table
 * at a time, and two at a time), the server's own ingest rate (prebuilt INSERT text, nothing
 * built client-side) and serve rate (raw response bytes, nothing parsed), and the client's
 * peak RSS. Not part of the test suite.
 */

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  TdClient,
  createDatabase,
  createSuperTable,
  describe as describeTable,
  exportRows,
  importTables,
  parseTdType,
  type ColumnInfo,
  type TagValue,
} from '../src/index.ts';

const { values: args } = parseArgs({
  options: { tables: { type: 'string' }, rows: { type: 'string' }, 'no-gzip': { type: 'boolean' } },
});
const TABLES = Number(args.tables ?? 100);
const ROWS = Number(args.rows ?? 10_000);
const GZIP = args['no-gzip'] !== true;
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForServer(url: string): Promise<void> {
  const c = new TdClient({ url, timeoutMs: 1000 });
  try {
    for (let i = 0; i < 200; i++) {
      try {
        await c.queryAll('SELECT SERVER_VERSION()');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('the test server did not start');
  } finally {
    c.close();
  }
}

const col = (name: string, type: string, length = 0): ColumnInfo => ({ name, type: parseTdType(type, length) });
const COLUMNS = [col('ts', 'TIMESTAMP'), col('current', 'FLOAT'), col('voltage', 'INT'), col('phase', 'FLOAT'), col('note', 'VARCHAR', 16)];
const TAGS = [col('location', 'VARCHAR', 24), col('groupid', 'INT')];
const T0 = 1_700_000_000_000;

/** td-jsonl of one table, generated as it is read (64 KiB chunks), so the data is never all in memory. */
function* tableJsonl(t: number): Generator<Buffer> {
  let chunk = '';
  for (let i = 0; i < ROWS; i++) {
    const current = Math.fround(10 + ((i * 7919 + t) % 1000) / 100);
    const phase = Math.fround(((i * 104729) % 1000) / 1000);
    chunk += `[${T0 + i * 1000},${current},${200 + ((i + t) % 40)},${phase},${i % 10 === 0 ? 'null' : `"n${i % 1000}"`}]\n`;
    if (chunk.length >= 65536) {
      yield Buffer.from(chunk);
      chunk = '';
    }
  }
  if (chunk) yield Buffer.from(chunk);
}

function rate(rows: number, ms: number): string {
  return `${Math.round(rows / (ms / 1000)).toLocaleString('en-US')} rows/s (${rows.toLocaleString('en-US')} rows in ${(ms / 1000).toFixed(2)} s)`;
}

async function exportAll(c: TdClient, db: string, columns: readonly ColumnInfo[], parallel: number): Promise<number> {
  let next = 0;
  let total = 0;
  const worker = async (): Promise<void> => {
    while (next < TABLES) {
      const t = next++;
      const ex = exportRows({ client: c, db, table: `d${t}`, columns, precision: 'ms', to: BigInt(T0 + ROWS * 1000 + 1) });
      let lines = 0;
      await pipeline(
        ex.stream,
        new Writable({
          write(chunk: Buffer, _e, cb) {
            for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
            cb();
          },
        }),
      );
      const { rows } = await ex.done;
      if (rows !== ROWS || lines !== ROWS) throw new Error(`d${t}: ${rows} rows, ${lines} lines`);
      total += rows;
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  return total;
}

/** The server alone: a SELECT's bytes read raw, nothing parsed. */
async function rawServe(port: number, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/rest/sql',
        headers: { Authorization: `Basic ${Buffer.from('root:taosdata').toString('base64')}` },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (b: Buffer) => (bytes += b.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(sql);
  });
}

async function main(): Promise<void> {
  const port = await freePort();
  const serverMain = fileURLToPath(new URL('../../tdengine-test-server/src/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', serverMain, '--port', String(port), '--quiet'], { stdio: 'inherit' });
  const url = `http://root:taosdata@127.0.0.1:${port}`;
  const c = new TdClient({ url, compression: GZIP, timeoutMs: 600_000 });
  try {
    await waitForServer(url);
    out(`TDengine REST test server in a child process; ${TABLES} child tables x ${ROWS} rows; gzip ${GZIP ? 'on' : 'off'}`);
    await createDatabase(c, 'bench', { precision: 'ms', options: [], createSql: '' });
    await createSuperTable(c, 'bench', 'meters', COLUMNS, TAGS);
    const total = TABLES * ROWS;

    // import: one call, rows of all tables packed into ~900 KiB statements, 2 in flight
    let t0 = performance.now();
    const imp = await importTables({
      client: c,
      db: 'bench',
      items: Array.from({ length: TABLES }, (_, t) => ({
        table: {
          name: `d${t}`,
          stable: 'meters',
          tags: [
            { ...TAGS[0]!, value: `loc-${t % 10}` },
            { ...TAGS[1]!, value: String(t) },
          ] satisfies TagValue[],
        },
        columns: COLUMNS,
        source: Readable.from(tableJsonl(t)),
      })),
    });
    const importMs = performance.now() - t0;
    if (imp.rows !== total) throw new Error(`imported ${imp.rows}`);
    out(`import  importTables (2 in flight):      ${rate(total, importMs)}; peak RSS so far ${mb(peakRss)}`);
    peakRss = 0;

    const columns = (await describeTable(c, 'bench', 'd0')).columns;
    t0 = performance.now();
    await exportAll(c, 'bench', columns, 1);
    const export1Ms = performance.now() - t0;
    out(`export  exportRows, 1 table at a time:  ${rate(total, export1Ms)}`);
    t0 = performance.now();
    await exportAll(c, 'bench', columns, 2);
    const export2Ms = performance.now() - t0;
    out(`export  exportRows, 2 tables at a time: ${rate(total, export2Ms)}; peak RSS of the exports ${mb(peakRss)}`);

    // the server alone: serving (raw bytes) and ingesting (prebuilt statements)
    t0 = performance.now();
    let bytes = 0;
    for (let t = 0; t < TABLES; t++) bytes += await rawServe(port, `SELECT * FROM bench.d${t} ORDER BY ts LIMIT ${ROWS}`);
    const serveMs = performance.now() - t0;
    out(`server  serve (raw bytes, no parsing):  ${rate(total, serveMs)}, ${(bytes / 1e6).toFixed(0)} MB`);

    const statements: string[] = [];
    const sent = new TdClient({ url, compression: GZIP, timeoutMs: 600_000 });
    await sent.exec('CREATE DATABASE bench2');
    await sent.exec('CREATE TABLE bench2.t (ts TIMESTAMP, current FLOAT, voltage INT, phase FLOAT, note VARCHAR(16))');
    let sql = 'INSERT INTO bench2.t VALUES ';
    let rowsIn = 0;
    const counts: number[] = [];
    for (let i = 0; i < total; i++) {
      const tuple = `(${T0 + i},10.5,${200 + (i % 40)},0.25,'n${i % 1000}')`;
      if (sql.length + tuple.length > 900 * 1024) {
        statements.push(sql);
        counts.push(rowsIn);
        sql = 'INSERT INTO bench2.t VALUES ';
        rowsIn = 0;
      }
      sql += tuple;
      rowsIn++;
    }
    statements.push(sql);
    t0 = performance.now();
    for (const s of statements) await sent.exec(s);
    const ingestMs = performance.now() - t0;
    sent.close();
    out(`server  ingest (prebuilt INSERT text):  ${rate(total, ingestMs)}`);
    out(`ratios  import/server-ingest ${(ingestMs / importMs).toFixed(2)}, export/server-serve ${(serveMs / export1Ms).toFixed(2)}`);
  } finally {
    c.close();
    clearInterval(rssTimer);
    child.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

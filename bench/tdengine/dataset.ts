/**
 * The TDengine benchmark's dataset and the test server's own rates.
 *
 * A meter super table: `ts` plus FLOAT, INT, FLOAT, DOUBLE, BIGINT and VARCHAR columns and
 * three tags; N child tables of M rows, one row a second. Rows are loaded with prebuilt
 * multi-table INSERT statements (under 900 KiB, gzipped at level 1 as the platform's REST
 * client sends them), built before the clock starts: the load is the server's raw ingest rate.
 * The raw serve rate is the export's own page query per child table, read as bytes (gzip, as
 * the platform's client asks for), nothing decompressed or parsed.
 */
import { Agent, request } from 'node:http';
import { promisify } from 'node:util';
import { constants as zc, gunzipSync, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export const STABLE = 'meters';
export const COLUMNS: [string, string][] = [
  ['ts', 'TIMESTAMP'],
  ['current', 'FLOAT'],
  ['voltage', 'INT'],
  ['phase', 'FLOAT'],
  ['power', 'DOUBLE'],
  ['energy', 'BIGINT'],
  ['status', 'VARCHAR(24)'],
];
export const TAGS: [string, string][] = [
  ['location', 'VARCHAR(48)'],
  ['groupid', 'INT'],
  ['model', 'VARCHAR(16)'],
];
const q = (s: string) => `\`${s}\``;
export const childName = (t: number) => `d${t}`;

/** One row as SQL values (deterministic per table and row; a few NULLs). */
function rowSql(ts: number, t: number, i: number): string {
  const cur = 10 + ((i * 7919 + t * 131) % 1000) / 100;
  const volt = 215 + ((i + t) % 11);
  const phase = ((i * 104729 + t) % 1000) / 1000;
  const power = cur * volt;
  const energy = t * 1_000_000_000 + i * 37 + (i % 7);
  const status = i % 97 === 0 ? 'NULL' : i % 13 === 0 ? `'warn: v${volt}'` : `'ok'`;
  return `(${ts},${cur},${volt},${i % 50 === 0 ? 'NULL' : phase},${power},${energy},${status})`;
}

export class TdHttp {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  private readonly auth = `Basic ${Buffer.from('root:taosdata').toString('base64')}`;
  constructor(readonly port: number) {}

  /** Sends SQL (a Buffer may be gzipped already); returns the raw response bytes and whether they are gzip. */
  post(body: string | Buffer, gzipped = false, acceptGzip = true): Promise<{ bytes: number; body: Buffer; gzip: boolean; keep: boolean }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: '/rest/sql',
          agent: this.agent,
          headers: {
            Authorization: this.auth,
            ...(gzipped ? { 'Content-Encoding': 'gzip' } : {}),
            ...(acceptGzip ? { 'Accept-Encoding': 'gzip' } : {}),
          },
        },
        (res) => {
          let bytes = 0;
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => {
            bytes += b.length;
            if (parts.length < 4) parts.push(b);
          });
          res.on('end', () => resolve({ bytes, body: Buffer.concat(parts), gzip: res.headers['content-encoding'] === 'gzip', keep: true }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Executes one statement and checks the answer; returns affected rows (or the JSON). */
  async exec(sql: string | Buffer, gzipped = false): Promise<{ code: number; desc?: string; rows?: number; data?: unknown[][] }> {
    const r = await this.post(sql, gzipped);
    const text = (r.gzip ? gunzipSync(r.body) : r.body).toString('utf8');
    const j = JSON.parse(text) as { code: number; desc?: string; rows?: number; data?: unknown[][] };
    if (j.code !== 0) throw new Error(`TDengine error ${j.code}: ${j.desc ?? ''} for ${String(sql).slice(0, 120)}`);
    return j;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface Statements {
  /** gzipped INSERT statements (level 1, as the platform's client sends bodies >= 64 KiB). */
  bodies: Buffer[];
  rowsPer: number[];
  sqlBytes: number;
  gzBytes: number;
  seconds: number;
}

/** INSERT statements of every row, in the platform's import format, each under `maxBytes`. */
export async function buildStatements(db: string, tables: number, rows: number, t0: number, maxBytes: number): Promise<Statements> {
  const start = performance.now();
  const cols = `(${COLUMNS.map(([c]) => q(c)).join(', ')}) VALUES `;
  const bodies: Promise<Buffer>[] = [];
  const rowsPer: number[] = [];
  let sqlBytes = 0;
  let sql = 'INSERT INTO';
  let inSql = 0;
  const flush = () => {
    sqlBytes += sql.length;
    bodies.push(gzipAsync(Buffer.from(sql, 'latin1'), { level: zc.Z_BEST_SPEED }));
    rowsPer.push(inSql);
    sql = 'INSERT INTO';
    inSql = 0;
  };
  for (let t = 0; t < tables; t++) {
    const clause = ` ${q(db)}.${q(childName(t))} ${cols}`;
    let open = false;
    for (let i = 0; i < rows; i++) {
      const row = rowSql(t0 + i * 1000, t, i);
      if (sql.length + row.length + (open ? 0 : clause.length) > maxBytes) {
        flush();
        open = false;
        // Let the gzip work of the thread pool and the event loop breathe.
        if (bodies.length % 64 === 0) await Promise.all(bodies.slice(-64));
      }
      if (!open) {
        sql += clause;
        open = true;
      }
      sql += row;
      inSql++;
    }
  }
  if (inSql) flush();
  const done = await Promise.all(bodies);
  return {
    bodies: done,
    rowsPer,
    sqlBytes,
    gzBytes: done.reduce((a, b) => a + b.length, 0),
    seconds: (performance.now() - start) / 1000,
  };
}

/** Database, super table, and the child tables with their tags (multi-table CREATE TABLE). */
export async function createSchema(http: TdHttp, db: string, tables: number, maxBytes: number): Promise<void> {
  await http.exec(`CREATE DATABASE ${q(db)} PRECISION 'ms'`);
  await http.exec(
    `CREATE STABLE ${q(db)}.${q(STABLE)} (${COLUMNS.map(([c, t]) => `${q(c)} ${t}`).join(', ')}) TAGS (${TAGS.map(([c, t]) => `${q(c)} ${t}`).join(', ')})`,
  );
  let sql = '';
  for (let t = 0; t < tables; t++) {
    const item = `${q(db)}.${q(childName(t))} USING ${q(db)}.${q(STABLE)} TAGS ('California.SanFrancisco.site-${t % 37}', ${t % 10}, 'EM-${100 + (t % 5)}')`;
    if (sql && sql.length + item.length > maxBytes) {
      await http.exec(sql);
      sql = '';
    }
    sql = sql ? `${sql} ${item}` : `CREATE TABLE ${item}`;
  }
  if (sql) await http.exec(sql);
}

/** Sends the prebuilt statements, `inFlight` at a time, each answer checked. */
export async function ingest(http: TdHttp, st: Statements, inFlight: number): Promise<number> {
  let next = 0;
  let rows = 0;
  const lane = async () => {
    while (next < st.bodies.length) {
      const k = next++;
      const r = await http.exec(st.bodies[k]!, true);
      const affected = Number(r.data?.[0]?.[0]);
      if (affected !== st.rowsPer[k]) throw new Error(`statement ${k}: ${affected} affected rows, sent ${st.rowsPer[k]}`);
      rows += st.rowsPer[k]!;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return rows;
}

/**
 * The export's page query of every child table (all its rows in one page, as with the
 * default pageSize 10 000), `inFlight` at a time; the response bytes are counted, not read.
 */
export async function serve(http: TdHttp, db: string, tables: number, rows: number, to: number, inFlight: number, acceptGzip: boolean) {
  const cols = COLUMNS.map(([c]) => q(c)).join(', ');
  let next = 0;
  let bytes = 0;
  const lane = async () => {
    while (next < tables) {
      const t = next++;
      const r = await http.post(
        `SELECT ${cols} FROM ${q(db)}.${q(childName(t))} WHERE ${q('ts')} < ${to} ORDER BY ${q('ts')} ASC LIMIT ${rows}`,
        false,
        acceptGzip,
      );
      bytes += r.bytes;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { bytes };
}

/** Rows per child table: `SELECT TBNAME, COUNT(*) FROM db.meters PARTITION BY TBNAME`. */
export async function countsPerTable(http: TdHttp, db: string): Promise<Map<string, number>> {
  const r = await http.exec(`SELECT TBNAME, COUNT(*) FROM ${q(db)}.${q(STABLE)} PARTITION BY TBNAME`);
  return new Map((r.data ?? []).map((row) => [String(row[0]), Number(row[1])]));
}

export async function dropDatabase(http: TdHttp, db: string): Promise<void> {
  await http.exec(`DROP DATABASE IF EXISTS ${q(db)}`);
}

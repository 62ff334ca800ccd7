/**
 * Micro-benchmark of the load half of a restore: `importTable` of the same tick-like COPY
 * text into a fresh, empty table (as a restore's pre-data step leaves it), with and without
 * skipping WAL (`skipWal`), alternating, on a private server with the harness's settings
 * (wal_level = minimal). Reports, per run: wall seconds, CPU-seconds of the server backend
 * that ran the COPY (from /proc), and WAL bytes written.
 *
 *   npx tsx bench/postgres/import-micro.ts [--mib 200] [--runs 3]
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { importTable } from '@bk/postgres';
import { startPostgres } from '../../packages/test-utils/src/postgres.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });

function makeSample(bytes: number): Buffer[] {
  const parts: string[] = [];
  let size = 0;
  const ex = ['binance', 'okx', 'bybit', 'kraken'];
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  for (let g = 1; size < bytes; g++) {
    const ts = new Date(t0 + g * 31).toISOString().replace('T', ' ').replace('Z', '+00');
    const row = `${g}\tSYM${String(g % 500).padStart(3, '0')}USDT\t${ex[g % 4]}\t${ts}\t${(1000 + (g % 977) / 7).toFixed(4)}\t${((g % 2003) / 100).toFixed(8)}\t${g % 1000003}\t${1e9 + g * 3}\t${g % 2 ? 't' : 'f'}\t${g % 10 === 0 ? '\\N' : g % 16}\n`;
    parts.push(row);
    size += row.length;
  }
  const all = Buffer.from(parts.join(''), 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) out.push(all.subarray(i, i + 65536));
  return out;
}

/** utime + stime of a process, in seconds (clock ticks of 100 Hz). */
async function cpuOf(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const server = await startPostgres();
try {
  const url = await server.createDatabase('import_micro');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const input = makeSample(Number(values.mib) * 1024 * 1024);
  const bytes = input.reduce((a, b) => a + b.length, 0);
  console.log(`${(bytes / 1e6).toFixed(1)} MB of COPY text; server wal_level ${(await admin.query('SHOW wal_level')).rows[0].wal_level}`);
  const table = {
    schema: 'public',
    name: 'ticks',
    columns: ['id', 'symbol', 'exchange', 'ts', 'price', 'qty', 'volume', 'trade_id', 'is_buyer_maker', 'flags'],
  };
  for (let run = 0; run < Number(values.runs); run++) {
    for (const skipWal of [false, true]) {
      await admin.query(`DROP TABLE IF EXISTS public.ticks; CREATE TABLE public.ticks (id bigint NOT NULL, symbol text NOT NULL, exchange text NOT NULL,
        ts timestamptz NOT NULL, price numeric(16,4) NOT NULL, qty numeric(20,8) NOT NULL, volume bigint NOT NULL, trade_id bigint NOT NULL,
        is_buyer_maker boolean NOT NULL, flags integer); CHECKPOINT`);
      const lsn0 = (await admin.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l as string;
      // The load's backend: found through pg_stat_activity while it runs.
      let pid: number | undefined;
      let cpu0 = 0;
      const started = performance.now();
      const load = importTable({ url, table, source: Readable.from(input), skipWal });
      for (let i = 0; i < 200 && pid === undefined; i++) {
        const r = await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'bk-import' AND state <> 'idle' LIMIT 1`);
        if (r.rows[0]) {
          pid = r.rows[0].pid as number;
          cpu0 = await cpuOf(pid);
        } else await new Promise((r2) => setTimeout(r2, 5));
      }
      let cpuEnd = cpu0;
      const poll = setInterval(() => {
        if (pid !== undefined)
          cpuOf(pid).then(
            (c) => (cpuEnd = c),
            () => undefined,
          );
      }, 20);
      const { rows } = await load;
      clearInterval(poll);
      const wall = (performance.now() - started) / 1000;
      const wal = (await admin.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d`, [lsn0])).rows[0].d as string;
      console.log(
        JSON.stringify({
          skipWal,
          rows,
          wallS: +wall.toFixed(2),
          backendCpuS: +(cpuEnd - cpu0).toFixed(2),
          walMB: +(Number(wal) / 1e6).toFixed(1),
        }),
      );
    }
  }
  await admin.end();
} finally {
  await server.stop();
}

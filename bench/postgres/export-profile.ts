/**
 * Where a worker's CPU goes when it exports: a private PostgreSQL with a tick table, then
 * `--streams` concurrent exports of it in this one process (as one worker runs its jobs:
 * exportTable -> encodeForStorage -> a sink that drops the bytes), each a ctid range.
 * Prints wall time, this process's CPU (all threads), MB of COPY text per CPU-second of it,
 * and the size distribution of the chunks COPY delivers.
 *
 *   npx tsx bench/postgres/export-profile.ts [--rows 3000000] [--streams 2] [--codec zstd] [--level 3] [--prof /tmp/x.cpuprofile]
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { type Codec, encodeForStorage } from '@bk/core';
import { SnapshotSession, exportTable } from '@bk/postgres';
import { startPostgres } from '../../packages/test-utils/src/postgres.ts';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '3000000' },
    streams: { type: 'string', default: '2' },
    codec: { type: 'string', default: 'zstd' },
    level: { type: 'string', default: '3' },
    runs: { type: 'string', default: '2' },
    prof: { type: 'string' },
  },
});

const pgSvc = await startPostgres();
try {
  const c = new pg.Client({ connectionString: pgSvc.url });
  await c.connect();
  await c.query(`CREATE TABLE ticks (id bigint NOT NULL, symbol text NOT NULL, exchange text NOT NULL, ts timestamptz NOT NULL,
    price numeric(16,4) NOT NULL, qty numeric(20,8) NOT NULL, volume bigint NOT NULL, trade_id bigint NOT NULL,
    is_buyer_maker boolean NOT NULL, flags integer)`);
  await c.query(`INSERT INTO ticks SELECT g, 'SYM' || lpad((g % 500)::text, 3, '0') || 'USDT',
      (ARRAY['binance','okx','bybit','kraken'])[1 + (g % 4)::int], timestamptz '2024-01-01 00:00:00+00' + g * interval '31 milliseconds',
      round((1000 + 400 * sin(g / 50000.0) + 5 * random())::numeric, 4), round((random() * 20)::numeric, 8),
      (random() * 1000000)::bigint, 1000000000 + g * 3 + (g % 7), random() < 0.5, CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 16)::int END
    FROM generate_series(1, ${Number(values.rows)}) g`);
  await c.query('VACUUM (FREEZE, ANALYZE) ticks');
  const pages = Number((await c.query<{ n: string }>(`SELECT relpages::text AS n FROM pg_class WHERE relname = 'ticks'`)).rows[0]!.n);
  await c.end();
  const streams = Number(values.streams);

  const session = values.prof ? new Session() : undefined;
  for (let run = 0; run < Number(values.runs); run++) {
    const snap = await SnapshotSession.open(pgSvc.url);
    const sizes: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const jobs = Array.from({ length: streams }, async (_, i) => {
      const from = Math.floor((pages * i) / streams);
      const to = i === streams - 1 ? undefined : Math.floor((pages * (i + 1)) / streams);
      const { stream, done } = await exportTable({
        url: pgSvc.url,
        snapshotId: snap.snapshotId,
        table: {
          schema: 'public',
          name: 'ticks',
          columns: ['id', 'symbol', 'exchange', 'ts', 'price', 'qty', 'volume', 'trade_id', 'is_buyer_maker', 'flags'],
        },
        chunk: { fromBlock: from, toBlock: to ?? null },
      });
      stream.on('data', (b: Buffer) => sizes.push(b.length));
      const enc = encodeForStorage(stream, {
        compression: { codec: values.codec as Codec, level: Number(values.level) },
        countRows: false,
      });
      await pipeline(
        enc.stream,
        new Writable({
          highWaterMark: 256 * 1024,
          write(_c, _e, cb) {
            cb();
          },
        }),
      );
      return { ...enc.stats(), rows: (await done).rows };
    });
    if (session && run === Number(values.runs) - 1) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const stats = await Promise.all(jobs);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const raw = stats.reduce((a, x) => a + x.rawBytes, 0) / 1e6;
    sizes.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        run,
        wallS: +s.toFixed(2),
        mbCopyText: +raw.toFixed(1),
        processCpuS: +cpuS.toFixed(2),
        mbPerProcessCpuS: +(raw / cpuS).toFixed(1),
        chunks: sizes.length,
        chunkP10: sizes[Math.floor(sizes.length * 0.1)],
        chunkMedian: sizes[Math.floor(sizes.length / 2)],
        chunkP90: sizes[Math.floor(sizes.length * 0.9)],
        rows: stats.reduce((a, x) => a + x.rows, 0),
      }),
    );
    await snap.close();
  }
  if (session && values.prof) {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(values.prof, JSON.stringify(profile));
    session.disconnect();
  }
} finally {
  await pgSvc.stop();
}

/**
 * Where a worker's CPU goes when it restores: tick-like COPY text, compressed in memory the
 * way a backup stores it, then `--streams` concurrent loads in this one process (as one
 * worker runs its jobs: decodeFromStorage -> importTable) into fresh tables of a private
 * PostgreSQL. Prints wall time, this process's CPU (all threads) and MB of COPY text per
 * CPU-second of it.
 *
 *   npx tsx bench/postgres/import-profile.ts [--mib 150] [--streams 2] [--codec zstd] [--recycle on|off] [--prof /tmp/x.cpuprofile]
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { type Codec, decodeFromStorage, encodeForStorage, releaseBuffer } from '@bk/core';
import { importTable } from '@bk/postgres';
import pg from 'pg';
import { startPostgres } from '../../packages/test-utils/src/postgres.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '150' },
    streams: { type: 'string', default: '2' },
    codec: { type: 'string', default: 'zstd' },
    runs: { type: 'string', default: '2' },
    prof: { type: 'string' },
    recycle: { type: 'string', default: 'on' },
  },
});

function sample(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  let seed = 1;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  for (let g = 1; size < bytes; g++) {
    const ts = new Date(t0 + g * 31).toISOString().replace('T', ' ').replace('Z', '+00');
    const row = `${g}\tSYM${String(g % 500).padStart(3, '0')}USDT\tbinance\t${ts}\t${(1000 + 5 * rnd()).toFixed(4)}\t${(rnd() * 20).toFixed(8)}\t${Math.floor(rnd() * 1e6)}\t${1e9 + g * 3}\tt\t${g % 16}\n`;
    parts.push(row);
    size += row.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}
const chunks = (b: Buffer, n: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};

const codec = values.codec as Codec;
const raw = sample(Number(values.mib) * 1024 * 1024);
const enc = encodeForStorage(Readable.from(chunks(raw, 65536)), { compression: { codec, level: codec === 'gzip' ? 6 : 3 } });
const stored: Buffer[] = [];
await pipeline(
  enc.stream,
  new Writable({
    write(c: Buffer, _e, cb) {
      stored.push(c);
      cb();
    },
  }),
);
const st = enc.stats();
const storedBuf = Buffer.concat(stored);

const server = await startPostgres();
const session = values.prof ? new Session() : undefined;
try {
  const streams = Number(values.streams);
  for (let run = 0; run < Number(values.runs); run++) {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    for (let i = 0; i < streams; i++) {
      await c.query(`DROP TABLE IF EXISTS t${i}`);
      await c.query(`CREATE TABLE t${i} (id bigint, symbol text, exchange text, ts timestamptz, price numeric(16,4), qty numeric(20,8),
        volume bigint, trade_id bigint, is_buyer_maker boolean, flags integer)`);
    }
    await c.end();
    if (session && run === Number(values.runs) - 1) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(
      Array.from({ length: streams }, async (_, i) => {
        const dec = decodeFromStorage(Readable.from(chunks(storedBuf, 1024 * 1024)), {
          codec,
          ...(st.compression.memberBytes ? { memberBytes: st.compression.memberBytes } : {}),
          expected: { sha256: st.sha256, bytes: st.bytes },
          label: `t${i}`,
        });
        return importTable({
          url: server.url,
          table: {
            schema: 'public',
            name: `t${i}`,
            columns: ['id', 'symbol', 'exchange', 'ts', 'price', 'qty', 'volume', 'trade_id', 'is_buyer_maker', 'flags'],
          },
          source: dec.stream,
          // As a restore's load job: decoded buffers go back to their pool once sent.
          ...(values.recycle === 'off' ? {} : { sent: releaseBuffer }),
        });
      }),
    );
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const mb = (raw.length * streams) / 1e6;
    console.log(
      JSON.stringify({
        run,
        codec,
        wallS: +s.toFixed(2),
        mbCopyText: +mb.toFixed(1),
        processCpuS: +cpuS.toFixed(2),
        mbPerProcessCpuS: +(mb / cpuS).toFixed(1),
        rows: results.reduce((a, r) => a + r.rows, 0),
      }),
    );
  }
  if (session && values.prof) {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(values.prof, JSON.stringify(profile));
    session.disconnect();
  }
} finally {
  await server.stop();
}

/**
 * The bench dataset, generated server-side (generate_series) so a 2 GB load takes minutes,
 * not hours. At scale 1: about 2 GB of table data in 8 tables (+ 3 partitions) plus indexes.
 *
 * | table                            | rows (x scale) | what it exercises                        |
 * | public.ticks                     | 10,000,000     | the big one: chunked by ctid, >= 1 GB    |
 * | public.events                    | 800,000        | jsonb-heavy                              |
 * | public.blobs                     | 40,000         | bytea, half random, TOASTed, zero bytes  |
 * | public.klines_1m                 | 2,000,000      | minute klines, composite PK, FK          |
 * | public.symbols                   | 500            | small referenced table                   |
 * | public.array_samples             | 800,000        | int/text/float arrays with NULLs, 2-D    |
 * | public.measurements (3 parts)    | 2,400,000      | a partitioned table                      |
 * | "Mixed Case"."Quoted ""Table"""  | 500,000        | quoted mixed-case names, tabs in text    |
 *
 * Indexes (primary keys, a few secondary, one foreign key) are created after the load, so
 * a restore has index builds to do, as pg_restore has.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CANONICAL_SESSION_SQL } from '../../packages/postgres/src/connection.ts';

export const TICKS = { schema: 'public', name: 'ticks' } as const;

interface Step {
  label: string;
  sql: string;
}

/** `n` rows split into batches of at most `batch` as [from, to] ranges (1-based). */
function ranges(n: number, batch: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 1; a <= n; a += batch) out.push([a, Math.min(n, a + batch - 1)]);
  return out;
}

export function rowCountsFor(scale: number) {
  const n = (x: number) => Math.max(1000, Math.round(x * scale));
  return {
    ticks: n(10_000_000),
    events: n(800_000),
    blobs: n(40_000),
    klines: n(2_000_000),
    arrays: n(800_000),
    measurements: n(2_400_000),
    mixed: n(500_000),
  };
}

const SCHEMA = `
CREATE TABLE public.ticks (
  id bigint NOT NULL,
  symbol text NOT NULL,
  exchange text NOT NULL,
  ts timestamptz NOT NULL,
  price numeric(16,4) NOT NULL,
  qty numeric(20,8) NOT NULL,
  volume bigint NOT NULL,
  trade_id bigint NOT NULL,
  is_buyer_maker boolean NOT NULL,
  flags integer
);
CREATE TABLE public.events (
  id bigint NOT NULL,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL
);
CREATE SEQUENCE public.events_id_seq OWNED BY public.events.id;
ALTER TABLE public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq');
CREATE TABLE public.blobs (id integer NOT NULL, name text NOT NULL, mime text, content bytea NOT NULL);
CREATE TABLE public.symbols (symbol text NOT NULL, base text NOT NULL, quote text NOT NULL, listed date NOT NULL, tick_size numeric(12,8));
CREATE TABLE public.klines_1m (
  symbol text NOT NULL,
  open_time timestamptz NOT NULL,
  open numeric(16,4) NOT NULL,
  high numeric(16,4) NOT NULL,
  low numeric(16,4) NOT NULL,
  close numeric(16,4) NOT NULL,
  volume numeric(24,8) NOT NULL,
  quote_volume numeric(28,8) NOT NULL,
  trades integer NOT NULL,
  taker_buy_volume numeric(24,8)
);
CREATE TABLE public.array_samples (id bigint NOT NULL, ints integer[], tags text[], readings double precision[], matrix integer[]);
CREATE TABLE public.measurements (
  id bigint NOT NULL,
  device_id integer NOT NULL,
  ts timestamptz NOT NULL,
  temperature real,
  humidity real,
  status text
) PARTITION BY RANGE (ts);
CREATE TABLE public.measurements_2024q1 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-04-01 00:00+00');
CREATE TABLE public.measurements_2024q2 PARTITION OF public.measurements FOR VALUES FROM ('2024-04-01 00:00+00') TO ('2024-07-01 00:00+00');
CREATE TABLE public.measurements_2024q3 PARTITION OF public.measurements FOR VALUES FROM ('2024-07-01 00:00+00') TO ('2024-10-01 00:00+00');
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."Quoted ""Table""" ("ID" integer NOT NULL, "Name" text, "select" text, "Value" numeric(12,3), "Created At" timestamptz);
`;

function loadSteps(scale: number): Step[] {
  const n = rowCountsFor(scale);
  const steps: Step[] = [];
  for (const [a, b] of ranges(n.ticks, 1_000_000)) {
    steps.push({
      label: `ticks ${a}..${b}`,
      sql: `INSERT INTO public.ticks
        SELECT g,
          'SYM' || lpad((g % 500)::text, 3, '0') || 'USDT',
          (ARRAY['binance','okx','bybit','kraken'])[1 + (g % 4)::int],
          timestamptz '2024-01-01 00:00:00+00' + g * interval '31 milliseconds',
          round((1000 + 400 * sin(g / 50000.0) + 5 * random())::numeric, 4),
          round((random() * 20)::numeric, 8),
          (random() * 1000000)::bigint,
          1000000000 + g * 3 + (g % 7),
          random() < 0.5,
          CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 16)::int END
        FROM generate_series(${a}::bigint, ${b}::bigint) g`,
    });
  }
  for (const [a, b] of ranges(n.events, 400_000)) {
    steps.push({
      label: `events ${a}..${b}`,
      sql: `INSERT INTO public.events (id, occurred_at, kind, payload)
        SELECT g, timestamptz '2024-01-01 00:00:00+00' + g * interval '250 milliseconds',
          (ARRAY['login','logout','order','cancel','deposit','withdrawal','transfer'])[1 + (g % 7)::int],
          jsonb_build_object(
            'user_id', g % 100000,
            'session', md5(g::text),
            'ip', '10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || ((g / 65536) % 256),
            'amount', round((random() * 10000)::numeric, 2),
            'currency', (ARRAY['USD','EUR','BTC','ETH'])[1 + (g % 4)::int],
            'tags', jsonb_build_array('t' || (g % 13), 't' || (g % 17), CASE WHEN g % 3 = 0 THEN NULL ELSE 'vip' END),
            'device', jsonb_build_object('os', (ARRAY['ios','android','web'])[1 + (g % 3)::int], 'version', '1.' || (g % 40) || '.' || (g % 7),
                                         'ua', 'Mozilla/5.0 (X11; Linux x86_64) bench/' || (g % 1000)),
            'geo', jsonb_build_object('lat', round((random() * 180 - 90)::numeric, 5), 'lon', round((random() * 360 - 180)::numeric, 5)),
            'note', CASE WHEN g % 5 = 0 THEN E'multi\\nline "quoted" \\\\ text' ELSE NULL END,
            'ok', g % 11 <> 0)
        FROM generate_series(${a}::bigint, ${b}::bigint) g`,
    });
  }
  for (const [a, b] of ranges(n.blobs, 20_000)) {
    steps.push({
      label: `blobs ${a}..${b}`,
      // ~1.5 KB of random bytes + ~1.5 KB of compressible ones + zero bytes, per row.
      sql: `INSERT INTO public.blobs
        SELECT g, 'file-' || g || '.bin', (ARRAY['application/octet-stream','image/png','application/pdf'])[1 + g % 3],
          (SELECT string_agg(decode(md5(g::text || '-' || i), 'hex'), ''::bytea) FROM generate_series(1, 96) i)
            || decode(repeat(lpad(to_hex(g % 256), 2, '0') || '00ff10', 384), 'hex')
            || '\\x0000'::bytea
        FROM generate_series(${a}, ${b}) g`,
    });
  }
  steps.push({
    label: 'symbols',
    sql: `INSERT INTO public.symbols
      SELECT 'SYM' || lpad(g::text, 3, '0') || 'USDT', 'SYM' || lpad(g::text, 3, '0'), 'USDT', date '2020-01-01' + g, 0.0001
      FROM generate_series(0, 499) g`,
  });
  for (const [a, b] of ranges(n.klines, 1_000_000)) {
    steps.push({
      label: `klines ${a}..${b}`,
      sql: `INSERT INTO public.klines_1m
        SELECT 'SYM' || lpad((g % 200)::text, 3, '0') || 'USDT', timestamptz '2023-01-01 00:00+00' + (g / 200) * interval '1 minute',
          o, o + h, o - l, o + c, v, round(v * o, 8), t, round(v * random()::numeric, 8)
        FROM (SELECT g, round((100 + 50 * sin(g / 7000.0) + random())::numeric, 4) AS o,
                     round((random() * 2)::numeric, 4) AS h, round((random() * 2)::numeric, 4) AS l,
                     round((random() * 2 - 1)::numeric, 4) AS c, round((random() * 5000)::numeric, 8) AS v,
                     (random() * 3000)::int AS t
                FROM generate_series(${a}::bigint, ${b}::bigint) g) x`,
    });
  }
  for (const [a, b] of ranges(n.arrays, 400_000)) {
    steps.push({
      label: `array_samples ${a}..${b}`,
      sql: `INSERT INTO public.array_samples
        SELECT g,
          ARRAY[(g % 100)::int, CASE WHEN g % 5 = 0 THEN NULL ELSE (g % 1000)::int END, (g % 7)::int, NULL, (g % 100000)::int],
          ARRAY['alpha', CASE WHEN g % 3 = 0 THEN NULL ELSE 'beta' || (g % 50) END, 'gamma "quoted"', 'with,comma', NULL],
          ARRAY[random(), random(), CASE WHEN g % 4 = 0 THEN NULL ELSE random() END],
          CASE WHEN g % 10 = 0 THEN NULL ELSE ARRAY[[(g % 3)::int, (g % 5)::int], [(g % 7)::int, NULL]] END
        FROM generate_series(${a}::bigint, ${b}::bigint) g`,
    });
  }
  for (const [a, b] of ranges(n.measurements, 800_000)) {
    steps.push({
      label: `measurements ${a}..${b}`,
      sql: `INSERT INTO public.measurements
        SELECT g, (g % 5000)::int, timestamptz '2024-01-01 00:00+00' + (g::double precision / ${n.measurements + 1}) * interval '273 days',
          (20 + 10 * sin(g / 1000.0) + random())::real, (40 + 20 * random())::real,
          (ARRAY['ok','ok','ok','warn','error'])[1 + (g % 5)::int]
        FROM generate_series(${a}::bigint, ${b}::bigint) g`,
    });
  }
  steps.push({
    label: 'mixed case',
    sql: `INSERT INTO "Mixed Case"."Quoted ""Table"""
      SELECT g, 'Name ' || g || E'\\twith tab', CASE WHEN g % 9 = 0 THEN NULL ELSE 'reserved ' || (g % 100) END,
        round((g / 7.0)::numeric, 3), timestamptz '2022-01-01 00:00+00' + g * interval '1 minute'
      FROM generate_series(1, ${n.mixed}) g`,
  });
  return steps;
}

const INDEXES: Step[] = [
  { label: 'ticks pk', sql: 'ALTER TABLE public.ticks ADD PRIMARY KEY (id)' },
  { label: 'ticks (symbol, ts)', sql: 'CREATE INDEX ticks_symbol_ts ON public.ticks (symbol, ts)' },
  { label: 'events pk', sql: 'ALTER TABLE public.events ADD PRIMARY KEY (id)' },
  { label: 'events (kind, occurred_at)', sql: 'CREATE INDEX events_kind_time ON public.events (kind, occurred_at)' },
  { label: 'blobs pk', sql: 'ALTER TABLE public.blobs ADD PRIMARY KEY (id)' },
  { label: 'symbols pk', sql: 'ALTER TABLE public.symbols ADD PRIMARY KEY (symbol)' },
  { label: 'klines pk', sql: 'ALTER TABLE public.klines_1m ADD PRIMARY KEY (symbol, open_time)' },
  { label: 'array_samples pk', sql: 'ALTER TABLE public.array_samples ADD PRIMARY KEY (id)' },
  { label: 'measurements pk', sql: 'ALTER TABLE public.measurements ADD PRIMARY KEY (id, ts)' },
  { label: 'measurements (device_id, ts)', sql: 'CREATE INDEX measurements_device_ts ON public.measurements (device_id, ts)' },
  { label: 'mixed pk', sql: 'ALTER TABLE "Mixed Case"."Quoted ""Table""" ADD PRIMARY KEY ("ID")' },
];

const AFTER_INDEXES = [
  'ALTER TABLE public.klines_1m ADD CONSTRAINT klines_symbol_fk FOREIGN KEY (symbol) REFERENCES public.symbols (symbol)',
  "SELECT setval('public.events_id_seq', (SELECT max(id) FROM public.events))",
  'CREATE VIEW public.latest_ticks AS SELECT symbol, max(ts) AS last_ts FROM public.ticks GROUP BY symbol',
];

/** Runs steps on `parallel` connections, biggest first (they are listed in load order). */
async function runSteps(url: string, steps: Step[], parallel: number, log: (s: string) => void): Promise<void> {
  const queue = [...steps];
  const worker = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("SET maintenance_work_mem = '256MB'");
      for (let s = queue.shift(); s; s = queue.shift()) {
        const t = performance.now();
        await c.query(s.sql);
        log(`  ${s.label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
    } finally {
      await c.end();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

export async function generateDataset(
  url: string,
  scale: number,
  log: (s: string) => void,
): Promise<{ loadS: number; indexS: number; vacuumS: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(SCHEMA);
  } finally {
    await c.end();
  }
  let t = performance.now();
  await runSteps(url, loadSteps(scale), 2, log);
  const loadS = (performance.now() - t) / 1000;
  t = performance.now();
  await runSteps(url, INDEXES, 2, log);
  await runSteps(
    url,
    AFTER_INDEXES.map((sql, i) => ({ label: `post ${i + 1}`, sql })),
    1,
    () => undefined,
  );
  const indexS = (performance.now() - t) / 1000;
  t = performance.now();
  const v = new pg.Client({ connectionString: url });
  await v.connect();
  try {
    await v.query('VACUUM (ANALYZE, FREEZE)');
  } finally {
    await v.end();
  }
  return { loadS, indexS, vacuumS: (performance.now() - t) / 1000 };
}

export interface TableInfo {
  schema: string;
  name: string;
  /** Display name, quoted where needed. */
  display: string;
  rows: number;
  /** Heap + TOAST (pg_table_size). */
  tableBytes: number;
  indexBytes: number;
  /** COPY text bytes (canonical session settings, as our exports write). */
  copyBytes?: number;
  copySeconds?: number;
}

/** Every table with rows of its own (partitions yes, the partitioned parent no). */
export async function listTables(url: string): Promise<TableInfo[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ schema: string; name: string; display: string; table_bytes: string; index_bytes: string }>(`
      SELECT n.nspname AS schema, c.relname AS name, c.oid::regclass::text AS display,
             pg_table_size(c.oid)::text AS table_bytes, pg_indexes_size(c.oid)::text AS index_bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_bk_restore') AND n.nspname NOT LIKE 'pg_toast%'
       ORDER BY pg_table_size(c.oid) DESC, 1, 2`);
    const out: TableInfo[] = [];
    for (const t of r.rows) {
      const n = await c.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ONLY ${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.name)}`,
      );
      out.push({
        schema: t.schema,
        name: t.name,
        display: t.display,
        rows: Number(n.rows[0]!.n),
        tableBytes: Number(t.table_bytes),
        indexBytes: Number(t.index_bytes),
      });
    }
    return out;
  } finally {
    await c.end();
  }
}

/**
 * Streams every table's COPY text (2 connections, biggest first) to count its size; this
 * also warms the page cache for every later phase, and it is the floor of any COPY-based
 * backup: the server producing the text and Node receiving it, nothing else. The first
 * `sampleBytes` of the tick table's text are kept for the codec table.
 */
export async function measureCopyText(
  url: string,
  tables: TableInfo[],
  sampleBytes: number,
): Promise<{ seconds: number; bytes: number; sample: Buffer[] }> {
  const queue = [...tables];
  const sample: Buffer[] = [];
  let sampled = 0;
  const t0 = performance.now();
  const worker = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(CANONICAL_SESSION_SQL);
      for (let t = queue.shift(); t; t = queue.shift()) {
        const keep = t.schema === TICKS.schema && t.name === TICKS.name;
        let bytes = 0;
        const ts = performance.now();
        const sink = new Writable({
          highWaterMark: 1024 * 1024,
          write(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            if (keep && sampled < sampleBytes) {
              sample.push(chunk);
              sampled += chunk.length;
            }
            done();
          },
        });
        await pipeline(c.query(copyTo(`COPY ${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.name)} TO STDOUT`)), sink);
        t.copyBytes = bytes;
        t.copySeconds = (performance.now() - ts) / 1000;
      }
    } finally {
      await c.end();
    }
  };
  await Promise.all([worker(), worker()]);
  return { seconds: (performance.now() - t0) / 1000, bytes: tables.reduce((a, t) => a + (t.copyBytes ?? 0), 0), sample };
}

/** Row counts of every table of `url` (FROM ONLY), keyed by display name. */
export async function rowCounts(url: string): Promise<Record<string, number>> {
  return Object.fromEntries((await listTables(url)).map((t) => [t.display, t.rows]));
}

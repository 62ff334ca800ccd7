/**
 * Lag from commit to covered: how long after a transaction commits the recovery window says
 * it can be restored. Each sample commits a marker row on its own connection, reads the
 * server's clock after the COMMIT returned (so the commit is at or before that moment), and
 * a poller reads `GET /v1/sources/{name}/recovery-window` every 200 ms until
 * `streaming.coveredAt` reaches that moment; lag = when the poll that first saw it answered
 * minus the commit moment (same host, same clock). Samples are stratified in time over each
 * run (one per slot of runSeconds / samples, at a random offset inside it), so they meet
 * every phase of the streamer's partialUploadSeconds cycle.
 *
 * Loads, on connections of their own in a database of their own:
 * - idle: nothing but the markers;
 * - steady: small single-row INSERT transactions at a fixed rate;
 * - bulk: INSERT ... SELECT generate_series batches back to back (TRUNCATE every 10 batches
 *   so the table stays small; every batch is WAL all the same).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Stack } from '../postgres/platform.ts';

export type LoadKind = 'idle' | 'steady' | 'bulk';

export const LOAD_SCHEMA = `
CREATE TABLE marker (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE steady (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), v text NOT NULL);
CREATE TABLE bulk (id bigint NOT NULL, at timestamptz NOT NULL, a text NOT NULL, b text NOT NULL);
`;

export interface RecoveryWindowView {
  windows: { from: string; to: string; timeline: number }[];
  streaming: { state: string; lagSeconds: number | null; coveredAt: string | null; holder: string | null; lastError: string | null };
}

export async function recoveryWindow(stack: Stack, source: string): Promise<RecoveryWindowView> {
  const res = await stack.app.inject({ method: 'GET', url: `/v1/sources/${source}/recovery-window`, headers: stack.auth });
  if (res.statusCode !== 200) throw new Error(`recovery-window answered ${res.statusCode}: ${res.body}`);
  return res.json() as RecoveryWindowView;
}

/** Polls the window until `pred` holds; the view that satisfied it. */
export async function waitWindow(
  stack: Stack,
  source: string,
  pred: (w: RecoveryWindowView) => boolean,
  timeoutMs: number,
  what: string,
): Promise<RecoveryWindowView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const w = await recoveryWindow(stack, source);
    if (pred(w)) return w;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}: ${JSON.stringify(w.streaming)}`);
    await sleep(200);
  }
}

interface Load {
  stop(): Promise<{ transactions: number; rows: number }>;
}

function startLoad(kind: LoadKind, url: string, opts: { steadyTps: number; bulkRows: number }): Load {
  if (kind === 'idle') return { stop: () => Promise.resolve({ transactions: 0, rows: 0 }) };
  const c = new pg.Client({ connectionString: url, application_name: `bench-${kind}` });
  c.on('error', () => undefined);
  let stopping = false;
  let transactions = 0;
  let rows = 0;
  const loop = (async () => {
    await c.connect();
    if (kind === 'steady') {
      // A fixed schedule: a slow insert is caught up on, not stretched into a lower rate.
      const every = 1000 / opts.steadyTps;
      let next = performance.now();
      while (!stopping) {
        await c.query("INSERT INTO steady (v) VALUES ('steady load row: a few dozen bytes of text')");
        transactions++;
        rows++;
        next += every;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
    } else {
      let batch = 0;
      while (!stopping) {
        if (++batch % 10 === 0) await c.query('TRUNCATE bulk');
        const r = await c.query(
          `INSERT INTO bulk SELECT g, clock_timestamp(), md5(g::text), repeat(md5((g * 7)::text), 3) FROM generate_series(1, ${opts.bulkRows}) g`,
        );
        transactions++;
        rows += r.rowCount ?? 0;
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await c.end();
      return { transactions, rows };
    },
  };
}

export interface LagSample {
  /** Server clock after the marker's COMMIT returned, ms since the epoch. */
  commitMs: number;
  /** Seconds until the recovery window covered it; undefined when it never did in time. */
  lagS?: number;
  run: number;
}

export interface LagResult {
  load: LoadKind;
  samples: LagSample[];
  /** Per run, the lags of its covered samples (seconds). */
  runs: number[][];
  notCovered: number;
  /** What the load did while it ran: seconds from its start to its stop, transactions, rows, WAL bytes written on the server. */
  loadStats: { seconds: number; transactions: number; rows: number; walBytes: number };
  /**
   * Bulk only: seconds from stopping the load until the window covered the moment it
   * stopped (a backlog shows here). Idle and steady loads leave none worth a wait of up to
   * partialUploadSeconds, and their next phase does not depend on it.
   */
  catchUpS?: number;
  /** Which worker process streamed (pid from the window's holder). */
  holderPid?: number;
}

export interface LagOptions {
  stack: Stack;
  source: string;
  /** The load database (markers and loads). */
  url: string;
  load: LoadKind;
  runs: number;
  samplesPerRun: number;
  runSeconds: number;
  steadyTps: number;
  bulkRows: number;
  /** A sample not covered after this long counts as not covered. */
  timeoutMs: number;
  log: (s: string) => void;
}

export async function measureLag(o: LagOptions): Promise<LagResult> {
  const marker = new pg.Client({ connectionString: o.url, application_name: 'bench-marker' });
  marker.on('error', () => undefined);
  await marker.connect();
  const samples: LagSample[] = [];
  let holderPid: number | undefined;
  let polling = true;
  let pollError: unknown;
  // The poller: resolves every pending sample the window covers now.
  const poller = (async () => {
    while (polling) {
      try {
        const w = await recoveryWindow(o.stack, o.source);
        const seen = Date.now();
        const pid = Number(w.streaming.holder?.split(':')[1]);
        if (Number.isFinite(pid)) holderPid = pid;
        const covered = w.streaming.coveredAt ? Date.parse(w.streaming.coveredAt) : undefined;
        if (covered !== undefined)
          for (const s of samples) if (s.lagS === undefined && covered >= s.commitMs) s.lagS = Math.round(seen - s.commitMs) / 1000;
      } catch (e) {
        pollError = e;
      }
      await sleep(200);
    }
  })();
  const walAt = async () =>
    Number((await marker.query<{ n: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS n`)).rows[0]!.n);
  const wal0 = await walAt();
  const loadT0 = performance.now();
  const load = startLoad(o.load, o.url, o);
  let stats = { seconds: 0, transactions: 0, rows: 0, walBytes: 0 };
  let catchUpS: number | undefined;
  try {
    await sleep(o.load === 'idle' ? 0 : 3000); // let the load reach its pace first
    const slot = (o.runSeconds * 1000) / o.samplesPerRun;
    const t0 = performance.now();
    for (let run = 0; run < o.runs; run++) {
      for (let i = 0; i < o.samplesPerRun; i++) {
        const at = t0 + (run * o.samplesPerRun + i + Math.random()) * slot;
        const wait = at - performance.now();
        if (wait > 0) await sleep(wait);
        await marker.query('INSERT INTO marker DEFAULT VALUES');
        const r = await marker.query<{ ms: number }>('SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS ms');
        samples.push({ commitMs: r.rows[0]!.ms, run });
      }
      o.log(`    ${o.load} run ${run + 1}/${o.runs}: ${o.samplesPerRun} markers committed`);
    }
    // Keep the load on until every sample is covered (or timed out).
    const until = Date.now() + o.timeoutMs;
    while (samples.some((s) => s.lagS === undefined) && Date.now() < until) await sleep(200);
    stats = { ...(await load.stop()), seconds: Math.round(performance.now() - loadT0) / 1000, walBytes: (await walAt()) - wal0 };
    if (o.load === 'bulk') {
      const stoppedMs = (await marker.query<{ ms: number }>('SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS ms')).rows[0]!
        .ms;
      const t = performance.now();
      await waitWindow(
        o.stack,
        o.source,
        (w) => w.streaming.coveredAt !== null && Date.parse(w.streaming.coveredAt) >= stoppedMs,
        600_000,
        'the streamer to catch up after the load',
      );
      catchUpS = Math.round(performance.now() - t) / 1000;
    }
  } finally {
    polling = false;
    await poller;
    await load.stop().catch(() => undefined);
    await marker.end().catch(() => undefined);
  }
  if (pollError && samples.every((s) => s.lagS === undefined)) throw pollError;
  const runs = Array.from({ length: o.runs }, (_, r) => samples.filter((s) => s.run === r && s.lagS !== undefined).map((s) => s.lagS!));
  return {
    load: o.load,
    samples,
    runs,
    notCovered: samples.filter((s) => s.lagS === undefined).length,
    loadStats: stats,
    ...(catchUpS !== undefined ? { catchUpS } : {}),
    ...(holderPid !== undefined ? { holderPid } : {}),
  };
}

/**
 * `npm run bench:tdengine`: TDengine backup and restore through the platform (API, Redis,
 * separate worker processes, storage) against the TDengine REST *test* server in its own
 * child process, with the server's own ingest and serve rates measured in the same run
 * (issue 4 item 11). See bench/tdengine/README.md.
 *
 *   npm run bench:tdengine                 # 1,000 child tables x 10,000 rows, 1 and 2 workers
 *   npm run bench:tdengine:quick           # 50 x 2,000: a smoke check (~1 min)
 *   npx tsx bench/tdengine.ts --tables 200 --rows 5000 --workers 2 --concurrency 4 --s3
 */
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, installSignalHandlers, onCleanup } from './postgres/cleanup.ts';
import { type BackupRun, type RestoreRun, breakdown, deleteBackupObjects, runBackup, runRestore } from './postgres/platform.ts';
import { load } from './postgres/proc.ts';
import { type Target, mb, ratio, s1, s2, table } from './postgres/report.ts';
import {
  COLUMNS,
  STABLE,
  TAGS,
  TdHttp,
  buildStatements,
  countsPerTable,
  createSchema,
  dropDatabase,
  ingest,
  serve,
} from './tdengine/dataset.ts';
import { type Groups, type Phase, measure } from './tdengine/measure.ts';
import { rowsPerWorker, startTdStack, startTdWorkers } from './tdengine/platform.ts';
import { startServices } from './tdengine/services.ts';

const { values: args } = parseArgs({
  options: {
    tables: { type: 'string', default: '1000' },
    rows: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1,2' },
    'child-tables-per-job': { type: 'string' },
    concurrency: { type: 'string' },
    'in-flight': { type: 'string', default: '2' },
    s3: { type: 'boolean', default: false },
    'td-heap-mib': { type: 'string', default: '8192' },
    'cpu-prof': { type: 'string' },
    'worker-node-options': { type: 'string' },
    'keep-logs': { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    'report-from': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: npx tsx bench/tdengine.ts [--tables 1000] [--rows 10000] [--workers 1,2] [--child-tables-per-job N]
       [--concurrency N] [--in-flight 2] [--s3] [--td-heap-mib 8192] [--cpu-prof dir] [--worker-node-options=--trace-gc] [--keep-logs dir] [--out bench/results]
       npx tsx bench/tdengine.ts --report-from bench/results/<stamp>-tdengine.json   # print the report of a finished run again`);
  process.exit(0);
}

const TABLES = Number(args.tables);
const ROWS = Number(args.rows);
const WORKERS = args.workers!.split(',').map(Number);
const PER_JOB = args['child-tables-per-job'] ? Number(args['child-tables-per-job']) : undefined;
const CONCURRENCY = args.concurrency ? Number(args.concurrency) : undefined;
const IN_FLIGHT = Number(args['in-flight']);
const TOTAL = TABLES * ROWS;
for (const [k, v] of [
  ['--tables', TABLES],
  ['--rows', ROWS],
  ['--in-flight', IN_FLIGHT],
  ...WORKERS.map((w) => ['--workers', w] as const),
] as const)
  if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);

/** Issue 4 item 11, per worker process. */
const TARGET = { exportPerWorker: 150_000, importPerWorker: 100_000, rssMiB: 250 };
const SRC = 'bench_src';
const MAX_SQL = 900 * 1024;

const startedAt = new Date();
const T0 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(5)} s] ${s}`);
const rate = (rows: number, secs: number) => Math.round(rows / secs);
const k = (x: number | undefined) => (x === undefined ? undefined : Math.round(x).toLocaleString('en-US'));

interface Run {
  op: 'backup' | 'restore';
  workers: number;
  id: string;
  seconds: number;
  rows: number;
  rowsPerS: number;
  rowsPerSPerWorker: number;
  /** ours / the server's raw rate (serve for backups, ingest for restores). */
  vsServer: number;
  storedBytes?: number;
  objects?: number;
  perWorker: Record<string, { jobs: number; rows: number; jobSeconds: number }>;
  breakdown: Record<string, number>;
  idleRssMiB: Record<string, number>;
  verify?: { ok: boolean; tables: number; differing: string[] };
  phase: Phase;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const meta: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    args: {
      tables: TABLES,
      rows: ROWS,
      workers: WORKERS,
      childTablesPerJob: PER_JOB ?? 100,
      concurrency: CONCURRENCY ?? 2,
      inFlight: IN_FLIGHT,
      storage: args.s3 ? 's3' : 'file',
    },
    loadStart: load(),
  };
  log(
    `bench:tdengine: ${TABLES} child tables x ${ROWS} rows = ${k(TOTAL)} rows; workers ${WORKERS.join(',')}; ${cpus().length} CPUs, load ${load().join(' ')}`,
  );
  const svc = await startServices({ s3: args.s3!, tdHeapMiB: Number(args['td-heap-mib']) });
  log(
    `services up: TDengine test server pid ${svc.td.pid} (${svc.td.url}), Redis ${svc.redis.url}, PostgreSQL ${svc.postgres.port}${svc.swift ? `, Swift ${svc.swift.endpoint}` : ''}`,
  );
  const groups = (workers: Record<string, number> = {}): Groups => ({ ...svc.pids, workers });
  const http = new TdHttp(svc.td.port);

  // Dataset: built first, then sent with the clock running = the server's raw ingest rate.
  const tsStart = Math.floor((Date.now() - 2 * 86_400_000 - ROWS * 1000) / 60_000) * 60_000;
  const cut = tsStart + ROWS * 1000 + 1;
  await createSchema(http, SRC, TABLES, MAX_SQL);
  log(`building ${k(TOTAL)} rows of INSERT statements (< 900 KiB each, gzip 1)...`);
  const st = await buildStatements(SRC, TABLES, ROWS, tsStart, MAX_SQL);
  log(`  ${st.bodies.length} statements, ${mb(st.sqlBytes)} MB of SQL (${mb(st.gzBytes)} MB gzipped) in ${s1(st.seconds)} s`);
  const { result: ingested, phase: ingestPhase } = await measure('server ingest', groups(), () => ingest(http, st, IN_FLIGHT));
  st.bodies.length = 0;
  if (ingested !== TOTAL) throw new Error(`ingested ${ingested} rows, expected ${TOTAL}`);
  const ingestRate = rate(TOTAL, ingestPhase.seconds);
  log(
    `server raw ingest: ${k(ingestRate)} rows/s (${ingestPhase.seconds} s, ${IN_FLIGHT} in flight; server ${ingestPhase.cpu.td} CPU-s = ${ingestPhase.cores.td} cores, JS thread ${ingestPhase.cores.tdMain})`,
  );
  const srcCounts = await countsPerTable(http, SRC);
  const badSrc = [...srcCounts.values()].filter((n) => n !== ROWS).length;
  if (srcCounts.size !== TABLES || badSrc) throw new Error(`source: ${srcCounts.size} child tables, ${badSrc} with a wrong row count`);

  const { result: served, phase: servePhase } = await measure('server serve', groups(), () =>
    serve(http, SRC, TABLES, ROWS, cut, IN_FLIGHT, true),
  );
  const serveRate = rate(TOTAL, servePhase.seconds);
  log(
    `server raw serve: ${k(serveRate)} rows/s (${servePhase.seconds} s, ${mb(served.bytes)} MB gzipped; server ${servePhase.cpu.td} CPU-s = ${servePhase.cores.td} cores, JS thread ${servePhase.cores.tdMain})`,
  );

  const stack = await startTdStack(svc, {
    s3: args.s3!,
    ...(PER_JOB ? { childTablesPerJob: PER_JOB } : {}),
    ...(CONCURRENCY ? { concurrency: CONCURRENCY } : {}),
    ...(args['cpu-prof'] ? { cpuProfDir: args['cpu-prof'] } : {}),
    ...(args['worker-node-options'] ? { workerNodeOptions: args['worker-node-options'] } : {}),
  });
  const keepLogs = args['keep-logs'];
  if (keepLogs) onCleanup('keep worker logs', () => copyLogs(stack.dir, keepLogs));
  const runs: Run[] = [];
  const notes: string[] = [];
  for (const n of WORKERS) {
    const ws = await startTdWorkers(stack, n);
    log(`== ${n} worker process(es): pids ${JSON.stringify(ws.pids)}, idle RSS ${JSON.stringify(ws.idleRssMiB)} MiB`);
    const { result: b, phase: bp } = await measure(`backup, ${n} workers`, groups(ws.pids), () => runBackup(stack, { type: 'full' }));
    if (b.view.rows !== TOTAL) notes.push(`backup with ${n} workers holds ${b.view.rows} rows, expected ${TOTAL}`);
    runs.push(record('backup', n, b, bp, ws.idleRssMiB, await rowsPerWorker(stack, 'export', `exp-${b.id}-`, ws.pids), serveRate));
    log(
      `  backup: ${bp.seconds} s, ${k(b.view.rows)} rows = ${k(rate(b.view.rows, bp.seconds))} rows/s, ${mb(b.storedBytes)} MB in ${b.objects} objects; td server ${bp.cores.td} cores (JS ${bp.cores.tdMain}), workers ${bp.cores.workers} cores; peak RSS ${JSON.stringify(bp.peakRssMiB)} MiB`,
    );
    const target = `bench_restore_w${n}`;
    const { result: r, phase: rp } = await measure(`restore, ${n} workers`, groups(ws.pids), () =>
      runRestore(stack, { backupId: b.id, targetDatabase: target }),
    );
    const run = record('restore', n, r, rp, ws.idleRssMiB, await rowsPerWorker(stack, 'restore', `load-${r.id}-`, ws.pids), ingestRate);
    const got = await countsPerTable(http, target);
    const differing = [...srcCounts].filter(([t, c]) => got.get(t) !== c).map(([t, c]) => `${t}: source ${c}, restored ${got.get(t) ?? 0}`);
    if (got.size !== srcCounts.size) differing.push(`${got.size} child tables restored, ${srcCounts.size} in the source`);
    run.verify = { ok: differing.length === 0, tables: got.size, differing: differing.slice(0, 20) };
    if (differing.length) notes.push(`restore with ${n} workers DIFFERS: ${differing.slice(0, 5).join('; ')}`);
    runs.push(run);
    log(
      `  restore: ${rp.seconds} s, ${k(run.rows)} rows = ${k(run.rowsPerS)} rows/s; td server ${rp.cores.td} cores (JS ${rp.cores.tdMain}), workers ${rp.cores.workers} cores; peak RSS ${JSON.stringify(rp.peakRssMiB)} MiB; verify ${run.verify.ok ? `ok (${got.size} child tables, rows per table equal)` : 'DIFFERS'}`,
    );
    await dropDatabase(http, target);
    await deleteBackupObjects(stack, b.id);
    await ws.stop();
  }
  http.close();
  meta.loadEnd = load();
  meta.durationS = Math.round((performance.now() - T0) / 1000);

  const text = report(meta, st, ingestPhase, ingestRate, servePhase, serveRate, served.bytes, runs, notes);
  console.log(`\n${'='.repeat(100)}\n${text}\n`);
  await mkdir(args.out!, { recursive: true });
  const stamp = `${startedAt.toISOString().replace(/[:.]/g, '-')}-tdengine`;
  const { bodies: _b, ...stInfo } = st;
  await writeFile(
    join(args.out!, `${stamp}.json`),
    JSON.stringify(
      {
        meta,
        dataset: {
          stable: STABLE,
          columns: COLUMNS,
          tags: TAGS,
          tables: TABLES,
          rowsPerTable: ROWS,
          statements: { ...stInfo, rowsPer: undefined, count: st.rowsPer.length },
        },
        server: {
          ingest: { rowsPerS: ingestRate, phase: ingestPhase },
          serve: { rowsPerS: serveRate, bytes: served.bytes, phase: servePhase },
        },
        runs,
        targets: targets(runs),
        notes,
        report: text,
      },
      null,
      2,
    ),
  );
  await writeFile(join(args.out!, `${stamp}.txt`), `${text}\n`);
  log(`results: ${join(args.out!, `${stamp}.{json,txt}`)}`);
}

function record(
  op: 'backup' | 'restore',
  n: number,
  r: BackupRun | RestoreRun,
  phase: Phase,
  idleRssMiB: Record<string, number>,
  perWorker: Run['perWorker'],
  serverRate: number,
): Run {
  const rows = r.view.rows;
  const rowsPerS = rate(rows, phase.seconds);
  return {
    op,
    workers: n,
    id: r.id,
    seconds: phase.seconds,
    rows,
    rowsPerS,
    rowsPerSPerWorker: Math.round(rowsPerS / n),
    vsServer: Math.round((rowsPerS / serverRate) * 100) / 100,
    ...('storedBytes' in r ? { storedBytes: r.storedBytes, objects: r.objects } : {}),
    perWorker,
    breakdown: breakdown(r.jobs),
    idleRssMiB,
    phase,
  };
}

function targets(runs: Run[]): Target[] {
  const out: Target[] = [];
  const atLeast = (name: string, value: number, limit: number, note?: string): Target => ({
    name,
    target: `>= ${k(limit)} rows/s`,
    value,
    limit,
    pass: value >= limit,
    ...(note ? { note } : {}),
  });
  for (const r of runs) {
    const limit = r.op === 'backup' ? TARGET.exportPerWorker : TARGET.importPerWorker;
    out.push(atLeast(`${r.op === 'backup' ? 'export' : 'import'} per worker, ${r.workers} worker(s)`, r.rowsPerSPerWorker, limit));
  }
  let worst = 0;
  let where = '';
  for (const r of runs)
    for (const [w, v] of Object.entries(r.phase.peakRssMiB))
      if (v > worst) {
        worst = v;
        where = `${w} in ${r.op} with ${r.workers} worker(s)`;
      }
  out.push({
    name: 'peak RSS of any worker (VmHWM)',
    target: `<= ${TARGET.rssMiB} MiB`,
    value: worst,
    limit: TARGET.rssMiB,
    pass: worst <= TARGET.rssMiB,
    note: where,
  });
  return out;
}

function report(
  meta: Record<string, unknown>,
  st: { bodies: Buffer[]; rowsPer: number[]; sqlBytes: number; gzBytes: number; seconds: number },
  ingestPhase: Phase,
  ingestRate: number,
  servePhase: Phase,
  serveRate: number,
  servedBytes: number,
  runs: Run[],
  notes: string[],
): string {
  const out: string[] = [];
  const a = meta.args as Record<string, unknown>;
  const TABLES = a.tables as number;
  const ROWS = a.rows as number;
  const TOTAL = TABLES * ROWS;
  const IN_FLIGHT = a.inFlight as number;
  out.push(
    `bench/tdengine.ts ${meta.startedAt as string} on ${meta.host as string} (${meta.cpus as number} CPUs, ${meta.cpuModel as string}), node ${meta.node as string}`,
    `Dataset: ${k(TABLES)} child tables x ${k(ROWS)} rows = ${k(TOTAL)} rows of ${STABLE} (${COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}; tags ${TAGS.map(([c, t]) => `${c} ${t}`).join(', ')})`,
    `  as INSERT statements: ${st.rowsPer.length} of < 900 KiB, ${mb(st.sqlBytes)} MB of SQL, ${mb(st.gzBytes)} MB gzipped (level 1); built in ${s1(st.seconds)} s before the clock started`,
    `Platform: ${a.storage as string} storage, zstd 3 (default), API in-process; N worker processes each on every queue, export/restore concurrency ${a.concurrency as number} per process, tdengine.childTablesPerJob ${a.childTablesPerJob as number} (${Math.ceil(TABLES / (a.childTablesPerJob as number))} export jobs), importConcurrency 2, pageSize 10000`,
    `TDengine: the REST *test* server (packages/tdengine-test-server), one Node process in a child process: one JavaScript thread ("server JS cores" <= 1; gzip and GC run on helper threads, counted in "server cores"); ${IN_FLIGHT} requests in flight for its raw rates`,
  );
  out.push(
    '',
    "The test server's own rates (what it does for anyone; nothing built or parsed on the client)\n" +
      table(
        [
          'what',
          'rows/s',
          'wall s',
          'MB sent/received',
          'server CPU-s',
          'server cores',
          'server JS cores',
          'bench CPU-s',
          'other CPU-s',
          'server max RSS MiB',
        ],
        [
          [
            'ingest: prebuilt gzipped INSERTs',
            k(ingestRate),
            s1(ingestPhase.seconds),
            mb(st.gzBytes),
            s1(ingestPhase.cpu.td),
            s2(ingestPhase.cores.td),
            s2(ingestPhase.cores.tdMain),
            s1(ingestPhase.cpu.bench),
            s1(ingestPhase.cpu.other),
            ingestPhase.maxSampledRssMiB.td,
          ],
          [
            'serve: the export page SELECT per child table, gzip, bytes only',
            k(serveRate),
            s1(servePhase.seconds),
            mb(servedBytes),
            s1(servePhase.cpu.td),
            s2(servePhase.cores.td),
            s2(servePhase.cores.tdMain),
            s1(servePhase.cpu.bench),
            s1(servePhase.cpu.other),
            servePhase.maxSampledRssMiB.td,
          ],
        ],
      ),
  );
  const labels = [...new Set(runs.flatMap((r) => Object.keys(r.phase.peakRssMiB)))].sort();
  out.push(
    '',
    "Through the platform (wall = POST to succeeded, as the API reports it). ours/server = our rows/s over the server's raw serve (backup) or ingest (restore) rate\n" +
      table(
        [
          'op',
          'workers',
          'wall s',
          'rows/s',
          'rows/s per worker',
          'ours/server',
          'server CPU-s',
          'server cores',
          'server JS cores',
          'workers CPU-s',
          'workers cores',
          'server / workers CPU-s per M rows',
          'catalog pg CPU-s',
          'other CPU-s',
          'machine cores',
          ...labels.map((l) => `peak RSS ${l} MiB`),
          'stored MB',
          'verify',
        ],
        runs.map((r) => [
          r.op,
          r.workers,
          s1(r.seconds),
          k(r.rowsPerS),
          k(r.rowsPerSPerWorker),
          ratio(r.vsServer),
          s1(r.phase.cpu.td),
          s2(r.phase.cores.td),
          s2(r.phase.cores.tdMain),
          s1(r.phase.cpu.workersTotal),
          s2(r.phase.cores.workers),
          `${s2(r.phase.cpu.td / (r.rows / 1e6))} / ${s2(r.phase.cpu.workersTotal / (r.rows / 1e6))}`,
          s1(r.phase.cpu.pg),
          s1(r.phase.cpu.other),
          s2(r.phase.cores.machine),
          ...labels.map((l) => r.phase.peakRssMiB[l]),
          r.op === 'backup' ? mb(r.storedBytes) : '',
          r.verify
            ? r.verify.ok
              ? `rows ok (${r.verify.tables} tables)`
              : 'DIFFERS'
            : r.rows === TOTAL
              ? `${k(r.rows)} rows`
              : `ROWS ${k(r.rows)}`,
        ]),
      ),
  );
  out.push(
    '',
    "Per worker process (from the finished jobs: processedBy, returned rows; rows/s = its rows over the run's wall time)\n" +
      table(
        [
          'op',
          'workers',
          'worker',
          'jobs',
          'rows',
          'rows/s',
          'job seconds',
          'rows per job-second',
          'idle / start / max sampled / peak RSS MiB',
          'CPU-s',
        ],
        runs.flatMap((r) =>
          Object.entries(r.perWorker)
            .sort(([x], [y]) => x.localeCompare(y))
            .map(([w, e]) => [
              r.op,
              r.workers,
              w,
              e.jobs,
              k(e.rows),
              k(e.rows / r.seconds),
              s1(e.jobSeconds),
              k(e.rows / Math.max(0.001, e.jobSeconds)),
              `${r.idleRssMiB[w] ?? '-'} / ${r.phase.startRssMiB[w] ?? '-'} / ${r.phase.maxSampledRssMiB[w] ?? '-'} / ${r.phase.peakRssMiB[w] ?? '-'}`,
              s1(r.phase.cpu.workers[w]),
            ]),
        ),
      ),
  );
  out.push(
    '',
    'Where the time goes (seconds, from BullMQ job timestamps)\n' +
      table(
        [
          'op',
          'workers',
          'queue->coord',
          'coord->1st job',
          'jobs span',
          'last job->finalize',
          'finalize',
          'sum of job s',
          'longest job',
          'retries',
        ],
        runs.map((r) => {
          const b = r.breakdown;
          return [
            r.op,
            r.workers,
            s2(b.queueToCoordinator),
            s2(b.coordinatorToFirstChild),
            s2(b.children),
            s2(b.lastChildToFinalize),
            s2(b.finalize),
            s1(b.childJobSeconds),
            s1(b.longestChild),
            b.retries,
          ];
        }),
      ),
  );
  const ts = targets(runs);
  out.push(
    '',
    'Targets (issue 4 item 11; reported, never asserted)\n' +
      table(
        ['target', 'goal', 'measured', 'result'],
        ts.map((t) => [
          t.name,
          t.target,
          t.name.includes('RSS') ? `${t.value} MiB` : `${k(t.value)} rows/s`,
          `${t.pass ? 'PASS' : 'MISS'}${t.note ? ` [${t.note}]` : ''}`,
        ]),
      ),
  );
  // Who is the bottleneck: the test server is one Node process, so ~1 core busy means it is saturated.
  const lines = runs.map((r) => {
    const c = r.phase.cores;
    const who =
      c.tdMain >= 0.85
        ? `the test server (its JavaScript thread ${s2(c.tdMain)} cores: saturated)`
        : c.machine >= 1.8
          ? `the machine's 2 cores (server ${s2(c.td)}, workers ${s2(c.workers)}, other ${s2(c.other)} cores)`
          : `neither saturated: latency / job scheduling (server JS ${s2(c.tdMain)}, workers ${s2(c.workers)} cores)`;
    return `- ${r.op} with ${r.workers} worker(s): ${ratio(r.vsServer)} of the server's raw ${r.op === 'backup' ? 'serve' : 'ingest'} rate; busiest: ${who}`;
  });
  out.push('', 'Bottleneck', ...lines);
  out.push(
    '',
    `Load average at start ${(meta.loadStart as number[]).join(' ')}, at end ${(meta.loadEnd as number[]).join(' ')}; per phase (1-min, start -> end): ${[
      ['ingest', ingestPhase],
      ['serve', servePhase],
      ...runs.map((r) => [`${r.op} ${r.workers}w`, r.phase] as const),
    ]
      .map(([n, p]) => `${n as string} ${(p as Phase).load.start[0]}->${(p as Phase).load.end[0]}`)
      .join(', ')}. The machine is shared: "other CPU-s" is work that is not ours. Total run ${meta.durationS as number} s.`,
  );
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}

/** Copies the worker processes' logs out of the stack's temporary directory (removed at the end). */
async function copyLogs(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await readdir(from)) if (f.endsWith('.log')) await copyFile(join(from, f), join(to, f));
}

interface ResultsFile {
  meta: Record<string, unknown>;
  dataset: { statements: { sqlBytes: number; gzBytes: number; seconds: number; count: number } };
  server: { ingest: { rowsPerS: number; phase: Phase }; serve: { rowsPerS: number; bytes: number; phase: Phase } };
  runs: Run[];
  notes: string[];
}

/** --report-from: the report of a finished run, printed again from its JSON (e.g. after a change to the report). */
async function reprint(file: string): Promise<void> {
  const j = JSON.parse(await readFile(file, 'utf8')) as ResultsFile;
  const st = { ...j.dataset.statements, bodies: [], rowsPer: new Array<number>(j.dataset.statements.count).fill(0) };
  const { ingest: i, serve: v } = j.server;
  console.log(report(j.meta, st, i.phase, i.rowsPerS, v.phase, v.rowsPerS, v.bytes, j.runs, j.notes));
}

(args['report-from'] ? reprint(args['report-from']) : main())
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (e: unknown) => {
    console.error(`bench failed: ${(e as Error).stack ?? String(e)}`);
    await cleanup();
    process.exit(1);
  });

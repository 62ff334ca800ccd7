/**
 * `npm run bench`: our PostgreSQL backup and restore against pg_dump / pg_restore, in one
 * run on the same machine and data. See bench/README.md.
 *
 *   npm run bench                 # scale 1: ~2 GB of table data
 *   npm run bench:quick           # scale 0.05, with --verify
 *   npx tsx bench/postgres.ts --scale 0.1 --verify --repeat 2 --scenario A
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipImplementation } from '@bk/core';
import { compareDatabases } from '@bk/postgres';
import { cleanup, installSignalHandlers, onCleanup } from './postgres/cleanup.ts';
import { type CodecResult, codecTable } from './postgres/codecs.ts';
import { TICKS, type TableInfo, generateDataset, listTables, measureCopyText, rowCounts, rowCountsFor } from './postgres/dataset.ts';
import { type Phase, measure, median } from './postgres/measure.ts';
import { type PgTools, dirBytes, pgTools, runTool } from './postgres/pgtools.ts';
import {
  type BackupRun,
  type Stack,
  type StorageKind,
  type WorkerSet,
  breakdown,
  deleteBackupObjects,
  runBackup,
  runRestore,
  startStack,
  startWorkerSet,
} from './postgres/platform.ts';
import { load } from './postgres/proc.ts';
import { storageFloor } from './postgres/storage-floor.ts';
import { type Target, mb, ratio, s1, s2, table, target } from './postgres/report.ts';
import { type Services, createDatabase, dbUrl, dropDatabase, startServices } from './postgres/services.ts';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    verify: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    scenario: { type: 'string', default: 'all' },
    'chunk-mib': { type: 'string' },
    concurrency: { type: 'string' },
    'codec-sample-mib': { type: 'string', default: '300' },
    'skip-codecs': { type: 'boolean', default: false },
    'floor-mib': { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: npx tsx bench/postgres.ts [--scale 1] [--verify] [--repeat 1] [--scenario all|A|B]
       [--chunk-mib N] [--concurrency N] [--codec-sample-mib 300] [--skip-codecs] [--floor-mib N] [--out bench/results]`);
  process.exit(0);
}

const scale = Number(args.scale);
const repeat = Math.max(1, Number(args.repeat));
const chunkMiB = args['chunk-mib'] ? Number(args['chunk-mib']) : undefined;
const concurrency = args.concurrency ? Number(args.concurrency) : undefined;
const scenarios = args.scenario === 'all' ? ['A', 'B'] : args.scenario!.toUpperCase().split(',');
if (!(scale > 0) || !Number.isFinite(scale)) throw new Error('--scale must be a positive number');

const startedAt = new Date();
const T0 = performance.now();
const elapsed = () => `${((performance.now() - T0) / 1000).toFixed(0).padStart(5)} s`;
const log = (s: string) => console.log(`[${elapsed()}] ${s}`);

interface Verification {
  rowsEqual: boolean;
  rowDiffs: string[];
  compared?: { differences: number; seconds: number; first?: unknown[] };
}

interface RunRecord {
  scenario: string;
  name: string;
  op: 'backup' | 'restore';
  tool: 'pg_dump' | 'pg_restore' | 'ours';
  storage: StorageKind | 'dir';
  codec: string;
  level: number;
  /** Median wall seconds of the samples. */
  seconds: number;
  samples: number[];
  outputBytes?: number;
  outputFiles?: number;
  /** COPY-text MB per wall second. */
  mbPerS: number;
  phases: Phase[];
  breakdown?: Record<string, number>;
  /** Our worker processes' RSS when idle after start-up, MiB. */
  workerBaselineRssMiB?: Record<string, number>;
  verify?: Verification;
  id?: string;
}

const records: RunRecord[] = [];
const stackDirs: string[] = [];
const targets: Target[] = [];
const notes: string[] = [];

async function verifyRestore(svc: Services, srcUrl: string, db: string, only?: { schema: string; name: string }[]): Promise<Verification> {
  const url = dbUrl(svc, db);
  const [a, b] = await Promise.all([rowCounts(srcUrl), rowCounts(url)]);
  const names = only ? only.map((t) => `${t.schema === 'public' ? '' : `${t.schema}.`}${t.name}`) : Object.keys(a);
  const rowDiffs = names.filter((n) => a[n] !== b[n]).map((n) => `${n}: source ${a[n]}, restored ${b[n]}`);
  const v: Verification = { rowsEqual: rowDiffs.length === 0, rowDiffs };
  if (args.verify) {
    const t = performance.now();
    const diffs = await compareDatabases(srcUrl, url, only ? { tables: only } : {});
    v.compared = {
      differences: diffs.length,
      seconds: Math.round((performance.now() - t) / 100) / 10,
      ...(diffs.length ? { first: diffs.slice(0, 10) } : {}),
    };
  }
  const ok = v.rowsEqual && (v.compared?.differences ?? 0) === 0;
  log(
    `  verify ${db}: row counts ${v.rowsEqual ? 'equal' : `DIFFER (${rowDiffs.join('; ')})`}${v.compared ? `, compareDatabases: ${v.compared.differences} differences (${v.compared.seconds} s)` : ''}`,
  );
  if (!ok) notes.push(`restore into ${db} is NOT identical: ${JSON.stringify(v)}`);
  return v;
}

interface ScenarioSpec {
  id: 'A' | 'B';
  title: string;
  /** Extra pg_dump arguments (table selection). */
  pgDumpArgs: string[];
  /** Our backup request, besides source and compression. */
  backupBody: Record<string, unknown>;
  /** Our restore request, besides backupId and targetDatabase. */
  restoreBody: Record<string, unknown>;
  copyBytes: number;
  tables?: { schema: string; name: string }[];
}

let dbSeq = 0;
const freshDb = (label: string) => `bench_${label}_${++dbSeq}`;

/**
 * One scenario. With --repeat N the backups run in N interleaved rounds (pg_dump, then each
 * of ours, then pg_dump again...), so a burst of load from elsewhere hits both sides; the
 * figures are medians. Restores run once, from the last round's backups.
 */
async function scenario(
  svc: Services,
  tools: PgTools,
  srcUrl: string,
  stacks: Record<StorageKind, Stack>,
  workerSets: Record<StorageKind, WorkerSet>,
  spec: ScenarioSpec,
): Promise<void> {
  log(`== Scenario ${spec.id}: ${spec.title}`);
  const S = spec.id;
  const mbps = (secs: number) => Math.round((spec.copyBytes / 1e6 / secs) * 10) / 10;
  const dumpRoot = await mkdtemp(join(tmpdir(), `bk-bench-pgdump-${S}-`));
  onCleanup(`rm ${dumpRoot}`, () => rm(dumpRoot, { recursive: true, force: true }));
  const dumpDir = join(dumpRoot, 'dump');

  // Ours: gzip 6 (pg_dump's level), then the defaults (zstd 3); file and S3 each.
  const variants = [
    { codec: 'gzip', level: 6, body: { compression: { codec: 'gzip', level: 6 } } },
    { codec: 'zstd', level: 3, body: {} },
  ].flatMap((v) =>
    (['file', 's3'] as const).map((kind) => ({
      ...v,
      kind,
      name: `ours ${v.codec} ${v.level}${v.codec === 'zstd' ? ' (defaults)' : ''} -> ${kind}`,
    })),
  );
  const ours = variants.map((v) => ({
    v,
    phases: [] as Phase[],
    last: undefined as BackupRun | undefined,
    baseline: {} as Record<string, number>,
  }));
  const dumpPhases: Phase[] = [];
  let dumpSize = { bytes: 0, files: 0 };

  for (let round = 1; round <= repeat; round++) {
    if (repeat > 1) log(` round ${round}/${repeat}`);
    // pg_dump -Fd -j2 -Z6 (gzip 6 is also pg_dump's default for -Fd).
    await rm(dumpDir, { recursive: true, force: true });
    const { phase } = await measure(
      `${S} pg_dump`,
      { svc },
      () => runTool(tools.pgDump, ['-Fd', '-j2', '-Z6', ...spec.pgDumpArgs, '-f', dumpDir, '-d', srcUrl]),
      (r) => r.cpu,
    );
    dumpSize = await dirBytes(dumpDir);
    dumpPhases.push(phase);
    log(
      `  pg_dump -Fd -j2 -Z6 ${spec.pgDumpArgs.join(' ')}: ${phase.seconds} s, ${mb(dumpSize.bytes)} MB (server ${phase.cpu.server} CPU-s, pg_dump ${phase.cpu.tool} CPU-s, other ${phase.cpu.other} CPU-s, load ${phase.load.start[0]})`,
    );

    for (const o of ours) {
      const stack = stacks[o.v.kind];
      if (o.last) await deleteBackupObjects(stack, o.last.id);
      const ws = workerSets[o.v.kind];
      const { result, phase: p } = await measure(`${S} ${o.v.name} backup`, { svc, workers: ws.pids, before: ws.resetPeaks }, () =>
        runBackup(stack, { ...spec.backupBody, ...o.v.body }),
      );
      o.last = result;
      o.phases.push(p);
      o.baseline = ws.baselineRssMiB;
      log(
        `  ${o.v.name} backup: ${p.seconds} s, ${mb(result.storedBytes)} MB in ${result.objects} objects (server ${p.cpu.server}, workers ${p.cpu.workersTotal}, swift ${p.cpu.swift}, other ${p.cpu.other} CPU-s; RSS at start ${JSON.stringify(p.startRssMiB)}, peak ${JSON.stringify(p.peakRssMiB)} MiB)`,
      );
    }
  }

  const dumpSecs = median(dumpPhases.map((p) => p.seconds));
  records.push({
    scenario: S,
    name: `pg_dump -Fd -j2 -Z6${spec.pgDumpArgs.length ? ` ${spec.pgDumpArgs.join(' ')}` : ''}`,
    op: 'backup',
    tool: 'pg_dump',
    storage: 'dir',
    codec: 'gzip',
    level: 6,
    seconds: dumpSecs,
    samples: dumpPhases.map((p) => p.seconds),
    outputBytes: dumpSize.bytes,
    outputFiles: dumpSize.files,
    mbPerS: mbps(dumpSecs),
    phases: dumpPhases,
  });
  for (const o of ours) {
    const secs = median(o.phases.map((p) => p.seconds));
    records.push({
      scenario: S,
      name: o.v.name,
      op: 'backup',
      tool: 'ours',
      storage: o.v.kind,
      codec: o.v.codec,
      level: o.v.level,
      seconds: secs,
      samples: o.phases.map((p) => p.seconds),
      outputBytes: o.last!.storedBytes,
      outputFiles: o.last!.objects,
      mbPerS: mbps(secs),
      phases: o.phases,
      breakdown: breakdown(o.last!.jobs),
      workerBaselineRssMiB: o.baseline,
      id: o.last!.id,
    });
  }

  // pg_restore -j2 into a fresh database.
  const pgrDb = freshDb(`${S.toLowerCase()}_pgrestore`);
  const pgrUrl = await createDatabase(svc, pgrDb);
  const { phase: pgrPhase } = await measure(
    `${S} pg_restore`,
    { svc },
    () => runTool(tools.pgRestore, ['-j2', '-d', pgrUrl, dumpDir]),
    (r) => r.cpu,
  );
  log(
    `  pg_restore -j2: ${pgrPhase.seconds} s (server ${pgrPhase.cpu.server} CPU-s, pg_restore ${pgrPhase.cpu.tool} CPU-s, other ${pgrPhase.cpu.other} CPU-s, WAL ${mb(pgrPhase.walBytes)} MB)`,
  );
  const pgrVerify = await verifyRestore(svc, srcUrl, pgrDb, spec.tables);
  await dropDatabase(svc, pgrDb);
  await rm(dumpRoot, { recursive: true, force: true });
  records.push({
    scenario: S,
    name: 'pg_restore -j2',
    op: 'restore',
    tool: 'pg_restore',
    storage: 'dir',
    codec: 'gzip',
    level: 6,
    seconds: pgrPhase.seconds,
    samples: [pgrPhase.seconds],
    mbPerS: mbps(pgrPhase.seconds),
    phases: [pgrPhase],
    verify: pgrVerify,
  });

  // Our restores, each into a fresh database.
  for (const o of ours) {
    const stack = stacks[o.v.kind];
    const b = o.last!;
    const ws = workerSets[o.v.kind];
    {
      const db = freshDb(`${S.toLowerCase()}_${o.v.codec}_${o.v.kind}`);
      const { result: r, phase } = await measure(`${S} ${o.v.name} restore`, { svc, workers: ws.pids, before: ws.resetPeaks }, () =>
        runRestore(stack, { backupId: b.id, targetDatabase: db, ...spec.restoreBody }),
      );
      log(
        `  ${o.v.name} restore: ${phase.seconds} s (server ${phase.cpu.server}, workers ${phase.cpu.workersTotal}, other ${phase.cpu.other} CPU-s, WAL ${mb(phase.walBytes)} MB; RSS at start ${JSON.stringify(phase.startRssMiB)}, peak ${JSON.stringify(phase.peakRssMiB)} MiB)`,
      );
      const verify = await verifyRestore(svc, srcUrl, db, spec.tables);
      records.push({
        scenario: S,
        name: o.v.name.replace('->', '<-'),
        op: 'restore',
        tool: 'ours',
        storage: o.v.kind,
        codec: o.v.codec,
        level: o.v.level,
        seconds: phase.seconds,
        samples: [phase.seconds],
        mbPerS: mbps(phase.seconds),
        phases: [phase],
        breakdown: breakdown(r.jobs),
        workerBaselineRssMiB: ws.baselineRssMiB,
        verify,
        id: r.id,
      });
      await dropDatabase(svc, db);
      await deleteBackupObjects(stack, b.id);
    }
  }
}

/** CPU seconds the run itself used: everything busy on the machine minus "other". */
const ownCpu = (p: Phase) => Math.round((p.cpu.machineBusy - p.cpu.other) * 10) / 10;
const medianOf = (r: RunRecord, f: (p: Phase) => number) => median(r.phases.map(f));
const maxOf = (r: RunRecord, f: (p: Phase) => number | undefined) => Math.max(...r.phases.map((p) => f(p) ?? 0)) || undefined;

function printScenario(id: string, copyBytes: number): string {
  const rs = records.filter((r) => r.scenario === id);
  const pgDump = rs.find((r) => r.tool === 'pg_dump');
  const pgRestore = rs.find((r) => r.tool === 'pg_restore');
  const rows = rs.map((r) => {
    const base = r.op === 'backup' ? pgDump : pgRestore;
    const own = medianOf(r, ownCpu);
    const baseOwn = base ? medianOf(base, ownCpu) : undefined;
    return [
      r.op,
      r.name,
      s1(r.seconds),
      r.samples.length > 1 ? r.samples.map((x) => x.toFixed(1)).join('/') : '',
      base && base !== r ? ratio(r.seconds / base.seconds) : '1.00x',
      r.op === 'backup' ? mb(r.outputBytes) : '',
      r.op === 'backup' && pgDump?.outputBytes && r.outputBytes ? ratio(r.outputBytes / pgDump.outputBytes) : '',
      r.mbPerS.toFixed(1),
      s1(medianOf(r, (p) => p.cpu.server)),
      s1(medianOf(r, (p) => (r.tool === 'ours' ? p.cpu.workersTotal : p.cpu.tool))),
      s1(medianOf(r, (p) => p.cpu.swift)),
      s1(own),
      base && base !== r && baseOwn ? ratio(own / baseOwn) : '1.00x',
      s1(medianOf(r, (p) => p.cpu.other)),
      s2(medianOf(r, (p) => p.cores.total)),
      maxOf(r, (p) => p.peakRssMiB.w1) ?? '',
      maxOf(r, (p) => p.peakRssMiB.w2) ?? '',
      maxOf(r, (p) => p.peakRssMiB.coord) ?? '',
      mb(medianOf(r, (p) => p.walBytes)),
      r.verify ? (r.verify.rowsEqual && !r.verify.compared?.differences ? (r.verify.compared ? 'identical' : 'rows ok') : 'DIFFERS') : '',
    ];
  });
  return (
    `Scenario ${id} (COPY text ${mb(copyBytes)} MB). CPU-s: srv = PostgreSQL server, ours/tool = our 3 worker processes or pg_dump/pg_restore, ` +
    'own = all CPU the run used (srv + ours/tool + swift + redis + driver), other = busy CPU of everything else on the machine\n' +
    table(
      [
        'op',
        'run',
        'wall s',
        'samples',
        'vs pg',
        'out MB',
        'size vs pg',
        'MB/s',
        'srv CPU-s',
        'ours/tool CPU-s',
        'swift CPU-s',
        'own CPU-s',
        'own CPU vs pg',
        'other CPU-s',
        'cores busy',
        'RSS w1 MiB',
        'RSS w2 MiB',
        'RSS coord MiB',
        'WAL MB',
        'verify',
      ],
      rows,
    )
  );
}

/**
 * Server CPU-s by what the backends were doing (bench/postgres/proc.ts ServerProfiler):
 * where a restore's server time goes against pg_restore's, e.g. COPY against index builds.
 */
function printServerActivity(): string {
  const main = ['COPY', 'CREATE INDEX', 'ALTER TABLE', 'SELECT', 'autovacuum worker'];
  const background = ['checkpointer', 'background writer', 'walwriter'];
  const rows = records.map((r) => {
    const by = (k: string) => medianOf(r, (p) => p.serverByActivity[k] ?? 0);
    const keys = new Set(r.phases.flatMap((p) => Object.keys(p.serverByActivity)));
    const rest = [...keys].filter((k) => !main.includes(k) && !background.includes(k));
    const attributed = [...keys].reduce((a, k) => a + by(k), 0);
    const total = medianOf(r, (p) => p.cpu.server);
    return [
      r.scenario,
      r.op,
      r.name,
      s1(total),
      ...main.map((k) => s1(by(k))),
      s1(background.reduce((a, k) => a + by(k), 0)),
      rest.map((k) => `${k} ${s1(by(k))}`).join(', '),
      s1(Math.max(0, total - attributed)),
    ];
  });
  return (
    'Server CPU-s by backend activity (process titles sampled every 200 ms; parallel workers count with their leader)\n' +
    table(['sc', 'op', 'run', 'srv CPU-s', ...main, 'checkpointer+writers', 'other activities', 'unattributed'], rows)
  );
}

function printBreakdowns(): string {
  const rows = records
    .filter((r) => r.breakdown)
    .map((r) => {
      const b = r.breakdown!;
      return [
        r.scenario,
        r.op,
        r.name,
        s2(b.queueToCoordinator),
        s2(b.coordinatorToFirstChild),
        s2(b.children),
        s2(b.lastChildToFinalize),
        s2(b.finalize),
        s1(b.childJobSeconds),
        s1(b.longestChild),
        b.retries,
      ];
    });
  return (
    'Where our time goes (seconds, from BullMQ job timestamps)\n' +
    table(
      [
        'sc',
        'op',
        'run',
        'queue->coord',
        'coord->1st job',
        'jobs span',
        'last job->fin',
        'finalize',
        'sum of job s',
        'longest job',
        'retries',
      ],
      rows,
    )
  );
}

function printRss(): string {
  const labels = ['w1', 'w2', 'coord'];
  const rows = records
    .filter((r) => r.tool === 'ours')
    .map((r) => {
      return [
        r.scenario,
        r.op,
        r.name,
        ...labels.map(
          (k) =>
            `${r.workerBaselineRssMiB?.[k] ?? '-'} / ${maxOf(r, (p) => p.startRssMiB[k]) ?? '-'} / ${maxOf(r, (p) => p.maxSampledRssMiB[k]) ?? '-'} / ${maxOf(r, (p) => p.peakRssMiB[k]) ?? '-'}`,
        ),
      ];
    });
  return (
    'Worker memory, MiB: idle after start-up / VmRSS when the run started / highest VmRSS sampled every 200 ms / VmHWM (peak RSS; reset before the run)\n' +
    table(['sc', 'op', 'run', ...labels.map((k) => `${k} idle/start/max/peak`)], rows)
  );
}

function addTargets(id: string): void {
  const rs = records.filter((r) => r.scenario === id);
  const pgDump = rs.find((r) => r.tool === 'pg_dump');
  const pgRestore = rs.find((r) => r.tool === 'pg_restore');
  if (!pgDump || !pgRestore) return;
  for (const kind of ['file', 's3'] as const) {
    const g = rs.find((r) => r.tool === 'ours' && r.op === 'backup' && r.codec === 'gzip' && r.storage === kind);
    const gr = rs.find((r) => r.tool === 'ours' && r.op === 'restore' && r.codec === 'gzip' && r.storage === kind);
    const z = rs.find((r) => r.tool === 'ours' && r.op === 'backup' && r.codec === 'zstd' && r.storage === kind);
    if (id === 'A') {
      if (g) targets.push(target(`A backup gzip 6 -> ${kind} vs pg_dump -j2 -Z6 (time)`, g.seconds / pgDump.seconds, 1.0, 'x', 0.8));
      if (gr) targets.push(target(`A restore (gzip 6, ${kind}) vs pg_restore -j2 (time)`, gr.seconds / pgRestore.seconds, 1.0, 'x', 0.8));
      if (z) {
        targets.push(
          target(`A backup defaults (zstd 3) -> ${kind} vs pg_dump -Fd -j2 defaults (time)`, z.seconds / pgDump.seconds, 0.5, 'x'),
        );
        targets.push(
          target(
            `A backup defaults (zstd 3) -> ${kind} vs pg_dump -Fd -j2 defaults (size)`,
            (z.outputBytes ?? 0) / (pgDump.outputBytes ?? 1),
            1.1,
            'x',
          ),
        );
      }
    } else {
      if (g)
        targets.push(target(`B one big table: backup gzip 6 -> ${kind} vs pg_dump -j2 -Z6 (time)`, g.seconds / pgDump.seconds, 0.6, 'x'));
    }
  }
}

function rssTargets(): void {
  let worst = 0;
  let where = '';
  for (const r of records.filter((x) => x.tool === 'ours')) {
    for (const p of r.phases) {
      for (const [k, v] of Object.entries(p.peakRssMiB)) {
        if (v > worst) {
          worst = v;
          where = `${k} in ${p.label}`;
        }
      }
    }
  }
  // The issue's limit is 250 MB (10^6 bytes), i.e. 238.4 MiB: compare in its unit, unrounded.
  if (worst) targets.push(target('peak RSS of any worker process (MB, VmHWM)', worst * 1.048576, 250, ' MB', undefined, `${worst} MiB, ${where}`));
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
    args: { scale, repeat, verify: args.verify, scenarios, chunkMiB: chunkMiB ?? 256, concurrency: concurrency ?? 2 },
    loadStart: load(),
  };
  log(
    `bench: scale ${scale}, repeat ${repeat}, verify ${args.verify}, scenarios ${scenarios.join(',')}; ${cpus().length} CPUs, load ${load().join(' ')}`,
  );
  const svc = await startServices();
  const tools = await pgTools(svc.postgres.binDir);
  meta.postgres = svc.serverInfo;
  meta.pgDump = tools.version;
  log(
    `services up: PostgreSQL ${svc.serverInfo.server_version} (${svc.postgres.binDir}), Redis ${svc.redis.url}, Swift ${svc.swift.endpoint}`,
  );

  // Dataset.
  const srcDb = 'bench_src';
  const srcUrl = await createDatabase(svc, srcDb);
  log(`generating the dataset (scale ${scale}: ${JSON.stringify(rowCountsFor(scale))})`);
  const gen = await generateDataset(srcUrl, scale, (s) => log(s));
  log(`dataset loaded in ${gen.loadS.toFixed(0)} s, indexes ${gen.indexS.toFixed(0)} s, VACUUM ANALYZE ${gen.vacuumS.toFixed(0)} s`);
  const tables = await listTables(srcUrl);
  const sampleBytes = Number(args['codec-sample-mib']) * 1024 * 1024;
  const { result: copy, phase: copyPhase } = await measure('COPY text, 2 connections', { svc }, () =>
    measureCopyText(srcUrl, tables, sampleBytes),
  );
  const totalTable = tables.reduce((a, t) => a + t.tableBytes, 0);
  const totalIndex = tables.reduce((a, t) => a + t.indexBytes, 0);
  const ticks = tables.find((t) => t.schema === TICKS.schema && t.name === TICKS.name)!;
  const datasetText =
    'Dataset\n' +
    table(
      ['table', 'rows', 'table MB', 'index MB', 'COPY text MB', 'COPY MB/s per conn (2 in parallel)'],
      [
        ...tables.map((t: TableInfo) => [
          t.display,
          t.rows,
          mb(t.tableBytes),
          mb(t.indexBytes),
          mb(t.copyBytes),
          t.copySeconds ? s1((t.copyBytes ?? 0) / 1e6 / t.copySeconds) : undefined,
        ]),
        ['TOTAL', tables.reduce((a, t) => a + t.rows, 0), mb(totalTable), mb(totalIndex), mb(copy.bytes), ''],
      ],
    ) +
    `\nCOPY of every table to a null sink, 2 connections: ${copy.seconds.toFixed(1)} s = ${s1(copy.bytes / 1e6 / copy.seconds)} MB/s; server ${copyPhase.cpu.server} CPU-s (${s1(copy.bytes / 1e6 / Math.max(0.01, copyPhase.cpu.server))} MB per server CPU-s), this process ${copyPhase.cpu.bench} CPU-s`;
  console.log(`\n${datasetText}\n`);
  if (ticks.tableBytes < 1e9)
    notes.push(`the tick table is ${mb(ticks.tableBytes)} MB (< 1 GB): scenario B needs --scale 1 or more to be the ">= 1 GB table" case`);

  // Codecs.
  let codecs: CodecResult[] = [];
  let codecText = '';
  if (!args['skip-codecs']) {
    const sampleMb = copy.sample.reduce((a, b) => a + b.length, 0) / 1e6;
    log(`codec table: ${sampleMb.toFixed(0)} MB of tick COPY text through encodeForStorage`);
    codecs = await codecTable(copy.sample, (s) => log(s));
    // The baseline is zlib's gzip 6: pg_dump's compressor.
    const gz6 = codecs.find((c) => c.codec === 'gzip' && c.level === 6 && c.impl === 'node zlib');
    codecText =
      `Codecs (encodeForStorage: row count -> compress -> SHA-256 -> null sink; one stream; ${sampleMb.toFixed(0)} MB of tick COPY text in memory)\n` +
      table(
        [
          'codec',
          'level',
          'library',
          'MB/s (median of 3)',
          'runs MB/s',
          'MB per CPU-s',
          'ratio',
          'CPU-s',
          'speed vs zlib gzip 6 (per CPU-s)',
          'size vs zlib gzip 6',
          'CLI MB per CPU-s',
          'CLI ratio',
        ],
        codecs.map((c) => [
          c.codec,
          c.level,
          c.impl,
          s1(c.mbPerS),
          (c.samplesMbPerS ?? []).map((x) => x.toFixed(0)).join('/'),
          s1(c.mbPerCpuS),
          s2(c.ratio),
          s2(c.cpu),
          gz6 ? ratio(c.mbPerCpuS / gz6.mbPerCpuS) : '',
          gz6 ? ratio(c.outputBytes / gz6.outputBytes) : '',
          s1(c.cli?.mbPerCpuS),
          s2(c.cli?.ratio),
        ]),
      );
    console.log(`\n${codecText}\n`);
  }
  copy.sample.length = 0;

  const stacks = {
    file: await startStack(svc, {
      kind: 'file',
      sourceUrl: srcUrl,
      ...(chunkMiB ? { chunkMiB } : {}),
      ...(concurrency ? { concurrency } : {}),
    }),
    s3: await startStack(svc, {
      kind: 's3',
      sourceUrl: srcUrl,
      ...(chunkMiB ? { chunkMiB } : {}),
      ...(concurrency ? { concurrency } : {}),
    }),
  };
  stackDirs.push(stacks.file.dir, stacks.s3.dir);

  // Storage floor: what each store takes with no database and no compression in the way.
  const floorBytes = args['floor-mib'] !== undefined ? Number(args['floor-mib']) * 1e6 : Math.round(copy.bytes * 0.28);
  const floors: { kind: StorageKind; seconds: number; bytes: number; mbPerS: number; phase: Phase }[] = [];
  let floorText = '';
  if (floorBytes > 0) {
    for (const kind of ['file', 's3'] as const) {
      const { result, phase } = await measure(`storage floor ${kind}`, { svc }, () => storageFloor(stacks[kind], floorBytes));
      floors.push({ kind, ...result, phase });
      log(
        `storage floor ${kind}: ${mb(result.bytes)} MB in ${result.seconds} s = ${result.mbPerS} MB/s (driver ${phase.cpu.bench}, swift ${phase.cpu.swift}, other ${phase.cpu.other} CPU-s)`,
      );
    }
    floorText =
      'Storage floor: 4 concurrent store.put of incompressible in-memory bytes from the driver process (same driver and config as the workers)\n' +
      table(
        ['storage', 'MB', 'wall s', 'MB/s', 'driver CPU-s', 'swift CPU-s', 'other CPU-s'],
        floors.map((f) => [
          f.kind,
          mb(f.bytes),
          s2(f.seconds),
          s1(f.mbPerS),
          s1(f.phase.cpu.bench),
          s1(f.phase.cpu.swift),
          s1(f.phase.cpu.other),
        ]),
      );
    console.log(`\n${floorText}\n`);
  }

  // Long-lived worker processes, one set per stack, started once (as a deployment runs
  // them); their peak RSS is reset before every phase. Started one set after the other.
  const workerSets = { file: await startWorkerSet(stacks.file), s3: await startWorkerSet(stacks.s3) };
  for (const ws of Object.values(workerSets)) onCleanup('worker set', () => ws.stop());
  log(
    `worker processes: ${JSON.stringify({ file: workerSets.file.pids, s3: workerSets.s3.pids })}, idle RSS ${JSON.stringify({ file: workerSets.file.baselineRssMiB, s3: workerSets.s3.baselineRssMiB })} MiB`,
  );

  const specs: ScenarioSpec[] = [
    {
      id: 'A',
      title: 'the whole database',
      pgDumpArgs: [],
      backupBody: { type: 'database' },
      restoreBody: {},
      copyBytes: copy.bytes,
    },
    {
      id: 'B',
      title: `one big table alone (public.ticks, ${mb(ticks.tableBytes)} MB of table data)`,
      pgDumpArgs: ['-t', 'public.ticks'],
      backupBody: { type: 'table', tables: ['public.ticks'] },
      restoreBody: { tables: ['public.ticks'] },
      copyBytes: ticks.copyBytes ?? 0,
      tables: [TICKS],
    },
  ];
  for (const spec of specs.filter((s) => scenarios.includes(s.id))) {
    await scenario(svc, tools, srcUrl, stacks, workerSets, spec);
    addTargets(spec.id);
  }
  rssTargets();

  // Report.
  const out: string[] = [];
  out.push(`bench/postgres.ts ${startedAt.toISOString()} on ${hostname()} (${cpus().length} CPUs), scale ${scale}, repeat ${repeat}`);
  out.push(`PostgreSQL ${svc.serverInfo.server_version}, ${tools.version}; server settings ${JSON.stringify(svc.serverInfo)}`);
  out.push(`Our gzip: ${gzipImplementation()} (pg_dump: zlib)`);
  out.push(
    `Layout: per storage, 2 long-lived data worker processes (export+restore queues, concurrency ${concurrency ?? 2} each) + 1 process for coordinate+finalize; chunkMiB ${chunkMiB ?? 256}; API in-process (app.inject)`,
  );
  out.push('', datasetText);
  if (codecText) out.push('', codecText);
  if (floorText) out.push('', floorText);
  for (const spec of specs.filter((s) => scenarios.includes(s.id))) out.push('', printScenario(spec.id, spec.copyBytes));
  out.push('', printRss());
  out.push('', printBreakdowns());
  out.push('', printServerActivity());
  out.push(
    '',
    'Targets (reported, never asserted)\n' +
      table(
        ['target', 'goal', 'measured', 'result'],
        targets.map((t) => [
          t.name,
          t.target,
          `${t.value}${t.unit ?? 'x'}`,
          `${t.pass ? 'PASS' : 'MISS'}${t.aim !== undefined && t.pass && t.value > t.aim ? ' (aim missed)' : ''}${t.note ? ` [${t.note}]` : ''}`,
        ]),
      ),
  );
  meta.loadEnd = load();
  meta.durationS = Math.round((performance.now() - T0) / 1000);
  out.push(
    '',
    `Load average at start ${(meta.loadStart as number[]).join(' ')}, at end ${(meta.loadEnd as number[]).join(' ')}; total run ${meta.durationS} s`,
  );
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  const text = out.join('\n');
  console.log(`\n${'='.repeat(100)}\n${text}\n`);

  await mkdir(args.out!, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = join(args.out!, `${stamp}.json`);
  await writeFile(
    file,
    JSON.stringify(
      {
        meta,
        dataset: {
          scale,
          rowCounts: rowCountsFor(scale),
          generation: gen,
          tables,
          totals: { tableBytes: totalTable, indexBytes: totalIndex, copyBytes: copy.bytes },
          copyPhase,
        },
        codecs,
        storageFloors: floors,
        runs: records,
        targets,
        notes,
        report: text,
      },
      null,
      2,
    ),
  );
  await writeFile(join(args.out!, `${stamp}.txt`), `${text}\n`);
  log(`results: ${file}`);
}

/** On failure: keep the worker logs and whatever was measured, next to the results. */
async function saveFailure(e: unknown): Promise<void> {
  const dir = join(args.out!, `failed-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(dir, { recursive: true });
  for (const d of stackDirs) {
    for (const f of await readdir(d).catch(() => [] as string[])) {
      if (f.endsWith('.log')) await copyFile(join(d, f), join(dir, `${basename(d)}-${f}`));
    }
  }
  await writeFile(
    join(dir, 'partial.json'),
    JSON.stringify({ error: String((e as Error)?.stack ?? e), runs: records, targets, notes }, null, 2),
  );
  console.error(`worker logs and partial results kept in ${dir}`);
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (e: unknown) => {
    console.error(`bench failed: ${(e as Error).stack ?? String(e)}`);
    await saveFailure(e).catch((err: unknown) => console.error(`could not keep the logs: ${String(err)}`));
    await cleanup();
    process.exit(1);
  });

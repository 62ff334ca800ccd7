/**
 * `npm run bench:pitr`: PostgreSQL point-in-time recovery through the platform (issue 22's
 * figures), each against what PostgreSQL's own tools do in the same run on the same server:
 *
 * 1. lag from commit to covered (the recovery window's `streaming.coveredAt`), idle, under a
 *    steady stream of small transactions and under a bulk load, with partialUploadSeconds 15
 *    (the default) and 5; goal <= 30 s;
 * 2. base backups (`POST /v1/backups { type: "base" }`) to file storage and to S3 (Swift)
 *    against `pg_basebackup -Ft -X fetch -c fast` to a local directory, plain and `-z`; goal
 *    <= 1.1x pg_basebackup;
 * 3. restores to a moment of one database and of one table against the manual path
 *    (pg_basebackup tar + pg_receivewal's WAL + recovery cluster + pg_dump -Fd -j2 +
 *    pg_restore -j2); goal: faster than the manual path.
 *
 *   npm run bench:pitr                    # scale 0.2 (~0.7 GB cluster), 3 runs: ~15 min on a quiet machine
 *   npm run bench:pitr:quick              # scale 0.02, 1 run, partialUploadSeconds 5: ~2-3 min
 *   npx tsx bench/pitr.ts --help
 *
 * See bench/README.md ("PITR benchmark").
 */
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { recoveryOwner } from '@bk/postgres';
import { parse, stringify } from 'yaml';
import { cleanup, installSignalHandlers, onCleanup } from './postgres/cleanup.ts';
import { generateDataset, listTables, rowCounts, rowCountsFor } from './postgres/dataset.ts';
import {
  type Stack,
  type WorkerSet,
  assembleStack,
  breakdown,
  deleteBackupObjects,
  runBackup,
  runRestore,
  startWorkerSet,
} from './postgres/platform.ts';
import { load } from './postgres/proc.ts';
import { mb, s1, table } from './postgres/report.ts';
import { LOAD_SCHEMA, type LoadKind, measureLag, waitWindow } from './pitr/lag.ts';
import { type Owner, manualRestore, ownedDir, pgBasebackup, startReceiveWal } from './pitr/manual.ts';
import { type Groups, type Phase, measure, median } from './pitr/measure.ts';
import {
  type BaseRecord,
  type LagRecord,
  type RestoreLevel,
  type RestoreRecord,
  type TargetRow,
  baseTable,
  lagTable,
  memoryTable,
  restoreTable,
  targetsTable,
} from './pitr/report.ts';
import { type Services, createDatabase, currentLsn, dropDatabase, query, serverMs, startServices, waitForQuiet } from './pitr/services.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string' },
    scale: { type: 'string' },
    quick: { type: 'boolean', default: false },
    partial: { type: 'string' },
    loads: { type: 'string', default: 'idle,steady,bulk' },
    'lag-samples': { type: 'string' },
    'lag-run-seconds': { type: 'string' },
    'steady-tps': { type: 'string', default: '50' },
    'bulk-rows': { type: 'string', default: '200000' },
    table: { type: 'string', default: 'public.ticks' },
    'manual-dump-args': { type: 'string', default: '' },
    'skip-lag': { type: 'boolean', default: false },
    'skip-s3': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: npx tsx bench/pitr.ts [--runs 3] [--scale 0.2] [--quick] [--partial 15,5] [--loads idle,steady,bulk]
       [--lag-samples 20] [--lag-run-seconds 15] [--steady-tps 50] [--bulk-rows 200000] [--table public.ticks|none]
       [--manual-dump-args "-Z0"] [--skip-lag] [--skip-s3] [--out bench/results]
  --quick: --scale 0.02 --runs 1 --partial 5 --lag-samples 5 --lag-run-seconds 5 (base backups and restores with partialUploadSeconds 5 too)`);
  process.exit(0);
}

const quick = args.quick;
const runs = Math.max(1, Number(args.runs ?? (quick ? 1 : 3)));
const scale = Number(args.scale ?? (quick ? 0.02 : 0.2));
const partials = (args.partial ?? (quick ? '5' : '15,5')).split(',').map(Number);
/** partialUploadSeconds of the workers during base backups and restores: the default, 15 (5 with --quick). */
const PHASE_PARTIAL = quick ? 5 : 15;
const loads = args.loads!.split(',').filter(Boolean) as LoadKind[];
const lagSamples = Number(args['lag-samples'] ?? (quick ? 5 : 20));
const lagRunSeconds = Number(args['lag-run-seconds'] ?? (quick ? 5 : 15));
const steadyTps = Number(args['steady-tps']);
const bulkRows = Number(args['bulk-rows']);
const tableRef = args.table === 'none' ? undefined : args.table!;
const manualDumpArgs = args['manual-dump-args']!.split(' ').filter(Boolean);
const LAG_GOAL_S = 30;
const BASE_GOAL = 1.1;
const SOURCE = 'bench';
const SRC_DB = 'bench_src';
const LOAD_DB = 'bench_load';

if (!(scale > 0) || partials.some((p) => !(p >= 1 && p <= 300)) || loads.some((l) => !['idle', 'steady', 'bulk'].includes(l)))
  throw new Error('bad --scale, --partial (1..300) or --loads (idle,steady,bulk)');
// The default (15) last, so its workers carry on into the base backups and restores.
partials.sort((a, b) => Number(a === PHASE_PARTIAL) - Number(b === PHASE_PARTIAL));

const startedAt = new Date();
const T0 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(5)} s] ${s}`);

const lagRecords: LagRecord[] = [];
const baseRecords: BaseRecord[] = [];
const restoreRecords: RestoreRecord[] = [];
const notes: string[] = [];
const stacks: Stack[] = [];

/** A worker set (coord + w1 + w2) for `stack` with the given partialUploadSeconds, streaming before it returns. */
async function workersFor(
  stack: Stack,
  partial: number,
  prefix = '',
): Promise<{ ws: WorkerSet; labels: Record<number, string>; streamer: string | undefined }> {
  const doc = parse(stack.yaml) as { sources: Record<string, { pitr: Record<string, unknown> }> };
  doc.sources[SOURCE]!.pitr.partialUploadSeconds = partial;
  await writeFile(join(stack.dir, 'backup.config.yaml'), stringify(doc));
  const since = Date.now();
  const ws = await startWorkerSet(stack, 2);
  const undo = onCleanup('worker set', () => ws.stop());
  const stop = ws.stop;
  ws.stop = async () => {
    await stop();
    undo();
  };
  const labels = Object.fromEntries(Object.entries(ws.pids).map(([l, p]) => [p, `${prefix}${l}`]));
  // The new set holds the stream (the old holder released it on SIGTERM) and has covered a moment.
  const w = await waitWindow(
    stack,
    SOURCE,
    (v) =>
      v.streaming.state === 'streaming' &&
      labels[Number(v.streaming.holder?.split(':')[1])] !== undefined &&
      v.streaming.coveredAt !== null &&
      Date.parse(v.streaming.coveredAt) >= since,
    120_000 + partial * 3000,
    `the WAL streamer of ${stack.platform.config.redis.prefix}`,
  );
  const streamer = labels[Number(w.streaming.holder?.split(':')[1])];
  log(
    `  workers ${JSON.stringify(ws.pids)} (partialUploadSeconds ${partial}), idle RSS ${JSON.stringify(ws.baselineRssMiB)} MiB; streaming in ${streamer}`,
  );
  return { ws, labels, streamer };
}

function groupsOf(svc: Services, sets: { ws: WorkerSet; prefix: string }[], extra: Record<string, number> = {}): Groups {
  const workers: Record<string, number> = {};
  for (const { ws, prefix } of sets) for (const [l, p] of Object.entries(ws.pids)) workers[`${prefix}${l}`] = p;
  return { source: svc.pids.source, catalog: svc.pids.catalog, redis: svc.pids.redis, swift: svc.pids.swift, workers, extra };
}

const cpuLine = (p: Phase) =>
  `src ${p.cpu.source}, workers ${p.cpu.workersTotal}, tools ${p.cpu.tools}, swift ${p.cpu.swift}, catalog ${p.cpu.catalog}, other ${p.cpu.other} CPU-s; load ${p.load.start[0]}`;

async function main(): Promise<void> {
  installSignalHandlers();
  const meta: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    args: { runs, scale, quick, partials, loads, lagSamples, lagRunSeconds, steadyTps, bulkRows, table: tableRef, manualDumpArgs },
    loadStart: load(),
  };
  log(
    `bench:pitr: scale ${scale}, runs ${runs}, partialUploadSeconds ${partials.join(',')}, loads ${loads.join(',')}; load ${load().join(' ')}`,
  );
  const svc = await startServices();
  const binDir = svc.source.binDir;
  const owner: Owner = await recoveryOwner();
  meta.source = svc.sourceInfo;
  log(`services up: source PostgreSQL ${svc.sourceInfo.server_version} (${JSON.stringify(svc.sourceInfo)}), catalog on its own server`);

  // Dataset, and a database of its own for the lag loads.
  const srcUrl = await createDatabase(svc.source, SRC_DB);
  log(`generating the dataset (scale ${scale}: ${JSON.stringify(rowCountsFor(scale))})`);
  const gen = await generateDataset(srcUrl, scale, () => undefined);
  const tables = await listTables(srcUrl);
  const loadUrl = await createDatabase(svc.source, LOAD_DB);
  await query(loadUrl, LOAD_SCHEMA);
  await query(svc.source.url, 'CHECKPOINT');
  const [size] = await query<{ n: string }>(svc.source.url, 'SELECT sum(pg_database_size(oid))::text AS n FROM pg_database');
  const clusterBytes = Number(size!.n);
  const datasetText =
    `Dataset (scale ${scale}, generated in ${(gen.loadS + gen.indexS + gen.vacuumS).toFixed(0)} s): ` +
    `${tables.length} tables, ${mb(tables.reduce((a, t) => a + t.tableBytes, 0))} MB of table data + ${mb(tables.reduce((a, t) => a + t.indexBytes, 0))} MB of indexes; ` +
    `all databases of the cluster ${mb(clusterBytes)} MB\n` +
    table(
      ['table', 'rows', 'table MB', 'index MB'],
      tables.map((t) => [t.display, t.rows, mb(t.tableBytes), mb(t.indexBytes)]),
    );
  console.log(`\n${datasetText}\n`);

  // The platform: API in-process, one stack per storage, each with the source streamed (own slot).
  const stackFor = async (kind: 'file' | 's3', slot: string) => {
    const label = `pitr_${kind}_${Math.random().toString(16).slice(2, 8)}`;
    const stack = await assembleStack({
      kind,
      label,
      catalogUrl: await createDatabase(svc.catalog, `${label}_catalog`),
      redisUrl: svc.redis.url,
      swift: svc.swift,
      doc: {
        postgres: { binDir },
        sources: { [SOURCE]: { kind: 'postgres', url: srcUrl, pitr: { enabled: true, slot, partialUploadSeconds: PHASE_PARTIAL } } },
      },
    });
    stacks.push(stack);
    return stack;
  };
  const fileStack = await stackFor('file', 'bk_bench');
  const s3Stack = args['skip-s3'] ? undefined : await stackFor('s3', 'bk_bench_s3');

  // 1. Lag from commit to covered.
  let file: Awaited<ReturnType<typeof workersFor>> | undefined;
  let filePartial = 0;
  const lagPhases: { what: string; phase: Phase }[] = [];
  if (!args['skip-lag']) {
    for (const partial of partials) {
      log(`== lag, partialUploadSeconds ${partial}`);
      await file?.ws.stop();
      file = await workersFor(fileStack, partial);
      filePartial = partial;
      for (const kind of loads) {
        const g = groupsOf(svc, [{ ws: file.ws, prefix: '' }]);
        const { result, phase } = await measure(`lag ${partial} ${kind}`, srcUrl, g, () =>
          measureLag({
            stack: fileStack,
            source: SOURCE,
            url: loadUrl,
            load: kind,
            runs,
            samplesPerRun: lagSamples,
            runSeconds: lagRunSeconds,
            steadyTps,
            bulkRows,
            timeoutMs: Math.max(120_000, partial * 8000),
            log,
          }),
        );
        const streamer = result.holderPid !== undefined ? file.labels[result.holderPid] : undefined;
        lagRecords.push({ partialUploadSeconds: partial, load: kind, result, phase, ...(streamer ? { streamer } : {}) });
        lagPhases.push({ what: `lag ${partial} s ${kind}`, phase });
        const all = result.runs.flat();
        log(
          `  ${kind}: median ${s1(median(all))} s, max ${s1(Math.max(...all))} s over ${all.length}/${result.samples.length} samples; WAL ${mb(phase.walBytes)} MB in ${phase.seconds} s; ${result.catchUpS !== undefined ? `catch-up ${result.catchUpS} s; ` : ''}${cpuLine(phase)}`,
        );
      }
    }
  }
  await dropDatabase(svc.source, LOAD_DB);
  await query(svc.source.url, 'CHECKPOINT');
  if (!file || filePartial !== PHASE_PARTIAL) {
    await file?.ws.stop();
    file = await workersFor(fileStack, PHASE_PARTIAL);
  }
  const fileWs = file.ws;
  const phaseStreamer = file.streamer;

  // 2. Base backups, interleaved rounds: pg_basebackup -Ft, -Ft -z, ours -> file, ours -> S3.
  const root = await mkdtemp(join(tmpdir(), 'bk-bench-pitr-'));
  onCleanup(`rm ${root}`, () => rm(root, { recursive: true, force: true }));
  await chmod(root, 0o755); // the recovery cluster and pg_receivewal run as the server's OS user
  const walDir = await ownedDir(join(root, 'wal'), owner);
  const s3 = s3Stack ? await workersFor(s3Stack, PHASE_PARTIAL, 's3:') : undefined;
  // The manual path's WAL archive, from before its base backup to after the moment restored.
  const receive = await startReceiveWal(binDir, svc.source.url, walDir, 'bench_manual', owner);
  const sets = [{ ws: fileWs, prefix: '' }, ...(s3 ? [{ ws: s3.ws, prefix: 's3:' }] : [])];
  const baseGroups = () => groupsOf(svc, sets, { pg_receivewal: receive.pid });
  let plainDir: string | undefined;
  log(`== base backups, ${runs} round(s)`);
  for (let round = 1; round <= runs; round++) {
    const steps: { method: BaseRecord['method']; go: () => Promise<Omit<BaseRecord, 'round' | 'method' | 'phase'>> }[] = [
      {
        method: 'pg_basebackup -Ft',
        go: async () => {
          const dir = join(root, `pgbb-${round}`);
          const r = await pgBasebackup(binDir, svc.source.url, dir, false);
          if (plainDir) await rm(plainDir, { recursive: true, force: true });
          plainDir = dir;
          return { seconds: r.seconds, bytes: r.bytes, tarBytes: r.bytes };
        },
      },
      {
        method: 'pg_basebackup -Ft -z',
        go: async () => {
          const dir = join(root, `pgbbz-${round}`);
          const r = await pgBasebackup(binDir, svc.source.url, dir, true);
          await rm(dir, { recursive: true, force: true });
          return { seconds: r.seconds, bytes: r.bytes };
        },
      },
      {
        method: 'ours -> file',
        go: async () => {
          const r = await runBackup(fileStack, { type: 'base' });
          return { seconds: r.seconds, bytes: r.storedBytes, tarBytes: r.view.rawBytes, id: r.id };
        },
      },
      ...(s3Stack
        ? [
            {
              method: 'ours -> S3' as const,
              go: async () => {
                const r = await runBackup(s3Stack, { type: 'base' });
                await deleteBackupObjects(s3Stack, r.id);
                return { seconds: r.seconds, bytes: r.storedBytes, tarBytes: r.view.rawBytes, id: r.id };
              },
            },
          ]
        : []),
    ];
    for (const step of steps) {
      await waitForQuiet(svc.source.url);
      const { result, phase } = await measure(`base ${step.method} ${round}`, srcUrl, baseGroups(), step.go);
      baseRecords.push({ round, method: step.method, phase, ...result, seconds: Math.round(result.seconds * 100) / 100 });
      log(
        `  round ${round} ${step.method}: ${result.seconds.toFixed(1)} s, ${mb(result.bytes)} MB (${cpuLine(phase)}; peak RSS ${JSON.stringify(phase.peakRssMiB)} MiB)`,
      );
    }
  }
  if (s3) {
    await s3.ws.stop();
    await query(svc.source.url, `SELECT pg_drop_replication_slot('bk_bench_s3')`);
  }
  // The manual path reads the tar as the server's OS user: hand it over (not timed, like a copy to the restore host).
  const baseTar = join(plainDir!, 'base.tar');
  if (owner) {
    await chown(plainDir!, owner.uid, owner.gid);
    await chown(baseTar, owner.uid, owner.gid);
  }

  // 3. Writes after the base backups, the moment T, writes after T (which a restore to T must not show).
  log('== restore target: writes, the moment, more writes');
  const lsnBefore = await currentLsn(svc.source.url);
  await query(
    srcUrl,
    `INSERT INTO public.ticks SELECT id + 1000000000, symbol, exchange, ts, price, qty, volume, trade_id, is_buyer_maker, flags FROM public.ticks WHERE id % 50 = 0`,
  );
  await query(srcUrl, `UPDATE public.events SET payload = payload || '{"pitr": true}'::jsonb WHERE id % 20 = 0`);
  const countsAtT = await rowCounts(srcUrl);
  await sleep(50);
  const targetTime = new Date(Math.floor(await serverMs(srcUrl))).toISOString();
  const walToTarget = Number(
    (await query<{ n: string }>(svc.source.url, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS n`, [lsnBefore]))[0]!.n,
  );
  await sleep(1100);
  await query(srcUrl, `DELETE FROM public.ticks WHERE id % 10 = 1; DELETE FROM public.events WHERE id % 10 = 1`);
  const after = await currentLsn(svc.source.url);
  await waitWindow(fileStack, SOURCE, (w) => (w.windows.at(-1)?.to ?? '') > targetTime, 300_000, `the window to reach ${targetTime}`);
  await receive.waitWritten(after, 120_000);
  await receive.stop();
  const walFiles = (await readdir(walDir)).length;
  log(`  T = ${targetTime}; ${mb(walToTarget)} MB of WAL written from the base backups to T; pg_receivewal kept ${walFiles} files`);

  // 4. Restores to T, interleaved: ours, manual (database, then table).
  const levels: { level: RestoreLevel; ours: Record<string, unknown>; tables: string[]; check: string[] }[] = [
    { level: 'database', ours: { databases: [SRC_DB] }, tables: [], check: Object.keys(countsAtT) },
    ...(tableRef
      ? [
          {
            level: 'table' as const,
            ours: { tables: [`${SRC_DB}.${tableRef}`] },
            tables: [tableRef],
            check: [tableRef.startsWith('public.') ? tableRef.slice(7) : tableRef],
          },
        ]
      : []),
  ];
  const verify = async (db: string, check: string[]): Promise<{ ok: boolean; note?: string }> => {
    const got = await rowCounts(svc.source.urlFor(db));
    const diffs = check.filter((k) => got[k] !== countsAtT[k]).map((k) => `${k}: at T ${countsAtT[k]}, restored ${got[k]}`);
    return diffs.length ? { ok: false, note: diffs.join('; ') } : { ok: true };
  };
  const coordLog = fileWs.workers.find((w) => w.label === 'coord')!.logPath;
  log(`== restores to T, ${runs} round(s)`);
  let seq = 0;
  for (let round = 1; round <= runs; round++) {
    for (const lv of levels) {
      // Ours.
      {
        const db = `pitr_ours_${lv.level}_${++seq}`;
        await waitForQuiet(svc.source.url);
        const started = Date.now();
        const { result, phase } = await measure(
          `restore ours ${lv.level} ${round}`,
          srcUrl,
          groupsOf(svc, [{ ws: fileWs, prefix: '' }]),
          () => runRestore(fileStack, { source: SOURCE, targetTime, ...lv.ours, targetDatabase: db }),
        );
        const b = breakdown(result.jobs, started);
        const recovered = (await readFile(coordLog, 'utf8'))
          .split('\n')
          .filter((l) => l.includes(result.id) && l.includes('recovered to the moment'))
          .map((l) => JSON.parse(l) as { time: number; recoveredTo?: string })
          .at(-1);
        const firstLoad = Math.min(...result.jobs.children.map((c) => c.start));
        const lastLoad = Math.max(...result.jobs.children.map((c) => c.end));
        const steps: Record<string, number> = recovered
          ? {
              'fetch+recover': (recovered.time - started) / 1000,
              'read out': (firstLoad - recovered.time) / 1000,
              load: (lastLoad - firstLoad) / 1000,
              'finalize+rest': result.seconds - (lastLoad - started) / 1000,
            }
          : { ...b };
        const v = await verify(db, lv.check);
        restoreRecords.push({
          round,
          level: lv.level,
          path: 'ours',
          seconds: Math.round(result.seconds * 100) / 100,
          steps: Object.fromEntries(Object.entries(steps).map(([k, x]) => [k, Math.round(x * 100) / 100])),
          phase,
          verified: v.ok,
          ...(v.note ? { verifyNote: v.note } : {}),
          recoveredTo: recovered?.recoveredTo,
          id: result.id,
        });
        log(
          `  round ${round} ours ${lv.level}: ${result.seconds.toFixed(1)} s (${Object.entries(steps)
            .map(([k, x]) => `${k} ${x.toFixed(1)}`)
            .join(
              ', ',
            )}); recovered to ${recovered?.recoveredTo ?? '?'}; ${v.ok ? 'rows ok' : `DIFFERS ${v.note}`} (${cpuLine(phase)}; peak RSS ${JSON.stringify(phase.peakRssMiB)} MiB)`,
        );
        await dropDatabase(svc.source, db);
      }
      // Manual.
      {
        const db = `pitr_manual_${lv.level}_${++seq}`;
        const work = join(root, `manual-${seq}`);
        await waitForQuiet(svc.source.url);
        const { result, phase } = await measure(
          `restore manual ${lv.level} ${round}`,
          srcUrl,
          groupsOf(svc, [{ ws: fileWs, prefix: '' }]),
          () =>
            manualRestore({
              binDir,
              baseTar,
              walDir,
              targetTime,
              database: SRC_DB,
              tables: lv.tables,
              dumpArgs: manualDumpArgs,
              targetServerUrl: svc.source.url,
              targetUrl: svc.source.urlFor(db),
              targetDatabase: db,
              work,
              owner,
            }),
        );
        const v = await verify(db, lv.check);
        const total = Object.values(result.steps).reduce((a, x) => a + x, 0);
        restoreRecords.push({
          round,
          level: lv.level,
          path: 'manual',
          seconds: Math.round(phase.seconds * 100) / 100,
          steps: result.steps,
          phase,
          verified: v.ok,
          ...(v.note ? { verifyNote: v.note } : {}),
          recoveredTo: result.recoveredTo,
        });
        log(
          `  round ${round} manual ${lv.level}: ${phase.seconds.toFixed(1)} s (${Object.entries(result.steps)
            .map(([k, x]) => `${k} ${x.toFixed(1)}`)
            .join(
              ', ',
            )}; steps sum ${total.toFixed(1)}); dump ${mb(result.dumpBytes)} MB; recovered to ${result.recoveredTo ?? '?'}; ${v.ok ? 'rows ok' : `DIFFERS ${v.note}`} (${cpuLine(phase)})`,
        );
        await dropDatabase(svc.source, db);
        await rm(work, { recursive: true, force: true });
      }
    }
  }

  // Report.
  const targets: TargetRow[] = [];
  for (const r of lagRecords) {
    const all = r.result.runs.flat();
    const worst = all.length ? Math.max(...all) : NaN;
    targets.push({
      name: `lag commit -> covered, partialUploadSeconds ${r.partialUploadSeconds}, ${r.load}`,
      goal: `max <= ${LAG_GOAL_S} s`,
      measured: `max ${s1(worst)} s (median ${s1(median(all))}${r.result.notCovered ? `, ${r.result.notCovered} never covered` : ''})`,
      pass: r.result.notCovered === 0 && worst <= LAG_GOAL_S,
    });
  }
  for (const m of ['ours -> file', 'ours -> S3'] as const) {
    const rs = baseRecords.filter((r) => r.method === m);
    const per = rs.flatMap((r) => {
      const ref = baseRecords.find((x) => x.method === 'pg_basebackup -Ft' && x.round === r.round);
      return ref ? [r.seconds / ref.seconds] : [];
    });
    if (per.length)
      targets.push({
        name: `base backup ${m} vs pg_basebackup -Ft -X fetch (uncompressed, local dir), time`,
        goal: `<= ${BASE_GOAL}x`,
        measured: `median ${median(per).toFixed(2)}x, worst ${Math.max(...per).toFixed(2)}x`,
        pass: median(per) <= BASE_GOAL,
      });
  }
  for (const lv of levels) {
    const per = restoreRecords
      .filter((r) => r.level === lv.level && r.path === 'ours')
      .flatMap((r) => {
        const m = restoreRecords.find((x) => x.level === lv.level && x.path === 'manual' && x.round === r.round);
        return m ? [r.seconds / m.seconds] : [];
      });
    if (per.length)
      targets.push({
        name: `restore to a moment, ${lv.level === 'table' ? `one table (${tableRef})` : 'one database'}: ours vs the manual path, time`,
        goal: '< 1.0x',
        measured: `median ${median(per).toFixed(2)}x, worst ${Math.max(...per).toFixed(2)}x`,
        pass: median(per) < 1,
      });
  }
  const memPhases = [
    ...baseRecords.filter((r) => r.method.startsWith('ours')).map((r) => ({ what: `base ${r.method} round ${r.round}`, phase: r.phase })),
    ...restoreRecords.filter((r) => r.path === 'ours').map((r) => ({ what: `restore ${r.level} round ${r.round}`, phase: r.phase })),
  ];
  const memLabels = ['coord', 'w1', 'w2', ...(s3Stack ? ['s3:coord', 's3:w1', 's3:w2'] : [])];
  const streamerOf = lagRecords.map((r) => r.streamer).filter(Boolean);

  meta.loadEnd = load();
  meta.durationS = Math.round((performance.now() - T0) / 1000);
  const out: string[] = [];
  out.push(
    `bench/pitr.ts ${startedAt.toISOString()} on ${hostname()} (${cpus().length} CPUs, ${meta.memGiB} GiB), scale ${scale}, runs ${runs}${quick ? ' (--quick)' : ''}`,
  );
  out.push(`Source PostgreSQL ${svc.sourceInfo.server_version}: ${JSON.stringify(svc.sourceInfo)}; the catalog on a second private server`);
  out.push(
    'Layout: API in-process (app.inject), per storage 3 worker processes (coord = coordinate+finalize: base backups, recovery and read-out of a restore to a moment; w1, w2 = export+restore: the loads); ' +
      `the WAL streamer runs in whichever of them wins its lock${streamerOf.length ? ` (here: ${[...new Set(streamerOf)].join(', ')})` : ''}; production config defaults (zstd 3, no encryption key)`,
  );
  out.push('', datasetText);
  if (lagRecords.length)
    out.push(
      '',
      `1. Lag, commit -> covered (s): ${runs} run(s) of ${lagSamples} markers over ${lagRunSeconds} s each, back to back under the same load, polled every 200 ms; ` +
        `steady = ${steadyTps} single-row INSERT tx/s, bulk = INSERT ... generate_series(1, ${bulkRows}) batches back to back; "streamer cores" = CPU of the worker that streams / wall; ` +
        'load tx/s and WAL MB/s: while the load ran (markers included); catch-up (bulk) = from stopping the load until the window covered that moment',
      lagTable(lagRecords, LAG_GOAL_S),
    );
  out.push(
    '',
    `2. Base backups (${runs} interleaved round(s); ratios are per round, then median / worst; MB/s = tar bytes (${mb(baseRecords.find((r) => r.method === 'pg_basebackup -Ft')?.tarBytes)} MB) / wall). ` +
      'Ours: pg_basebackup -D - -Ft -X fetch -c fast through zstd 3 into storage; pg_basebackup -Ft writes base.tar + backup_manifest and fsyncs them; CPU: tool = pg_basebackup, workers = our 3 (6 with S3) processes incl. the pg_basebackup they run',
    baseTable(baseRecords),
  );
  out.push(
    '',
    `3. Restores to T = ${targetTime} (${mb(walToTarget)} MB of WAL written between the base backups and T; ${runs} interleaved round(s)). ` +
      'Ours: POST /v1/restores { source, targetTime, databases | tables, targetDatabase } from file storage; steps from the coordinator log ("recovered to the moment") and the BullMQ load jobs. ' +
      `Manual: tar -x of the last pg_basebackup -Ft, recovery with recovery_target_time and restore_command from pg_receivewal's directory, pg_dump -Fd -j2${manualDumpArgs.length ? ` ${manualDumpArgs.join(' ')}` : ''}, stop, CREATE DATABASE + pg_restore -j2`,
    restoreTable(restoreRecords),
  );
  out.push(
    '',
    `Worker memory during base backups and restores (VmRSS at start / highest VmRSS sampled every 200 ms / VmHWM, reset at the start); the file stack's WAL streamer ran in ${phaseStreamer ?? '?'}${s3?.streamer ? `, the S3 stack's in ${s3.streamer}` : ''} (it also streams the WAL the restores write)`,
    memoryTable(memPhases, memLabels),
  );
  out.push('', 'Targets (reported, never asserted)', targetsTable(targets));
  out.push(
    '',
    `Load average at start ${(meta.loadStart as number[]).join(' ')}, at end ${(meta.loadEnd as number[]).join(' ')}; total run ${meta.durationS} s`,
  );
  const others = [...lagRecords.map((r) => r.phase), ...baseRecords.map((r) => r.phase), ...restoreRecords.map((r) => r.phase)];
  const busiest = others.reduce((a, p) => (p.cpu.other > a.cpu.other ? p : a), others[0]!);
  const otherCpu = others.reduce((a, p) => a + p.cpu.other, 0);
  const phaseSecs = others.reduce((a, p) => a + p.seconds, 0);
  const loads1 = others.map((p) => p.load.start[0]);
  if (busiest && busiest.cpu.other > 5)
    notes.push(
      `other work on the machine (CPU not accounted to this run): ${otherCpu.toFixed(0)} CPU-s over ${phaseSecs.toFixed(0)} s of timed phases ` +
        `(${(otherCpu / Math.max(1, phaseSecs)).toFixed(2)} cores on average), up to ${busiest.cpu.other} CPU-s in one phase ("${busiest.label}"); ` +
        `1-min load average at phase starts ${Math.min(...loads1)}-${Math.max(...loads1)}: compare ratios within a round, not seconds across runs`,
    );
  const recovered = new Set(
    restoreRecords.map((r) => (r.recoveredTo ? new Date(r.recoveredTo.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).getTime() : NaN)),
  );
  if (recovered.size > 1)
    notes.push(`the restores did not all stop at the same transaction: ${restoreRecords.map((r) => r.recoveredTo).join(', ')}`);
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  const text = out.join('\n');
  console.log(`\n${'='.repeat(100)}\n${text}\n`);

  await mkdir(args.out!, { recursive: true });
  const stamp = `${startedAt.toISOString().replace(/[:.]/g, '-')}-pitr`;
  await writeFile(
    join(args.out!, `${stamp}.json`),
    JSON.stringify(
      {
        meta,
        dataset: { scale, tables, clusterBytes, generation: gen },
        targetTime,
        walToTarget,
        lag: lagRecords,
        base: baseRecords,
        restore: restoreRecords,
        targets,
        notes,
        report: text,
      },
      null,
      2,
    ),
  );
  await writeFile(join(args.out!, `${stamp}.txt`), `${text}\n`);
  log(`results: ${join(args.out!, `${stamp}.txt`)}`);
}

/** On failure: keep the worker logs and what was measured, next to the results. */
async function saveFailure(e: unknown): Promise<void> {
  const dir = join(args.out!, `failed-${startedAt.toISOString().replace(/[:.]/g, '-')}-pitr`);
  await mkdir(dir, { recursive: true });
  for (const s of stacks)
    for (const f of await readdir(s.dir).catch(() => [] as string[]))
      if (f.endsWith('.log')) await copyFile(join(s.dir, f), join(dir, `${basename(s.dir)}-${f}`));
  await writeFile(
    join(dir, 'partial.json'),
    JSON.stringify(
      { error: String((e as Error)?.stack ?? e), lag: lagRecords, base: baseRecords, restore: restoreRecords, notes },
      null,
      2,
    ),
  );
  console.error(`worker logs and partial results kept in ${dir}`);
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (e: unknown) => {
    console.error(`bench:pitr failed: ${(e as Error).stack ?? String(e)}`);
    await saveFailure(e).catch((err: unknown) => console.error(`could not keep the logs: ${String(err)}`));
    await cleanup();
    process.exit(1);
  });

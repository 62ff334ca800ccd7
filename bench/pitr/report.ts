/** The PITR benchmark's printed tables: lag, base backups, restores to a moment, targets. */
import { mb, ratio, s1, s2, table } from '../postgres/report.ts';
import type { LagResult, LoadKind } from './lag.ts';
import { type Phase, median, percentile } from './measure.ts';

export interface LagRecord {
  partialUploadSeconds: number;
  load: LoadKind;
  result: LagResult;
  phase: Phase;
  /** Label of the worker process that held the stream. */
  streamer?: string;
}

export type BaseMethod = 'pg_basebackup -Ft' | 'pg_basebackup -Ft -z' | 'ours -> file' | 'ours -> S3';

export interface BaseRecord {
  round: number;
  method: BaseMethod;
  seconds: number;
  /** Stored: the output directory, or everything under the backup's prefix. */
  bytes: number;
  /** The tar stream's size (ours: rawBytes; pg_basebackup -Ft: its output). */
  tarBytes?: number;
  phase: Phase;
  id?: string;
}

export type RestoreLevel = 'database' | 'table';

export interface RestoreRecord {
  round: number;
  level: RestoreLevel;
  path: 'ours' | 'manual';
  seconds: number;
  /** Seconds per step, in order. */
  steps: Record<string, number>;
  phase: Phase;
  verified: boolean;
  verifyNote?: string;
  /** Commit time of the last transaction replayed, as PostgreSQL logged it. */
  recoveredTo?: string | undefined;
  id?: string;
}

const fmtRuns = (xs: number[]) => xs.map((x) => x.toFixed(1)).join('/');
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
const workersCpu = (p: Phase) => p.cpu.workersTotal;

export function lagTable(records: LagRecord[], goalS: number): string {
  const rows = records.map((r) => {
    const all = r.result.runs.flat();
    const secs = r.phase.seconds;
    const streamerCpu = r.streamer ? (r.phase.cpu.workers[r.streamer] ?? 0) : undefined;
    const worst = Math.max(max(all), 0);
    return [
      r.partialUploadSeconds,
      r.load,
      `${all.length}/${r.result.samples.length}`,
      fmtRuns(r.result.runs.map((x) => median(x))),
      fmtRuns(r.result.runs.map((x) => max(x))),
      s1(median(all)),
      s1(percentile(all, 95)),
      s1(worst),
      r.result.loadStats.transactions ? s1(r.result.loadStats.transactions / r.result.loadStats.seconds) : '',
      s1(r.result.loadStats.walBytes / 1e6 / r.result.loadStats.seconds),
      r.streamer ?? '?',
      streamerCpu === undefined ? '' : s2(streamerCpu / secs),
      s1(r.phase.cpu.source),
      s1(r.phase.cpu.other),
      s1(r.result.catchUpS),
      r.result.notCovered ? `MISS (${r.result.notCovered} never covered)` : worst <= goalS ? 'PASS' : `MISS (max ${worst.toFixed(1)} s)`,
    ];
  });
  return table(
    [
      'partial s',
      'load',
      'covered',
      'run medians s',
      'run worst s',
      'median s',
      'p95 s',
      'max s',
      'load tx/s',
      'WAL MB/s',
      'streamer',
      'streamer cores',
      'src CPU-s',
      'other CPU-s',
      'catch-up s',
      `goal max <= ${goalS} s`,
    ],
    rows,
  );
}

const METHODS: BaseMethod[] = ['pg_basebackup -Ft', 'pg_basebackup -Ft -z', 'ours -> file', 'ours -> S3'];

/** Per-round ratios against a reference method: [median, worst]. */
function ratios(records: BaseRecord[], method: BaseMethod, ref: BaseMethod): [number, number] | undefined {
  const rs = records
    .filter((r) => r.method === method)
    .flatMap((r) => {
      const base = records.find((x) => x.method === ref && x.round === r.round);
      return base ? [r.seconds / base.seconds] : [];
    });
  return rs.length ? [median(rs), Math.max(...rs)] : undefined;
}

export function baseTable(records: BaseRecord[]): string {
  const rows = METHODS.filter((m) => records.some((r) => r.method === m)).map((m) => {
    const rs = records.filter((r) => r.method === m);
    const secs = rs.map((r) => r.seconds);
    const last = rs.at(-1)!;
    const vsPlain = ratios(records, m, 'pg_basebackup -Ft');
    const vsGz = ratios(records, m, 'pg_basebackup -Ft -z');
    const tar = last.tarBytes ?? records.find((r) => r.method === 'pg_basebackup -Ft')?.tarBytes;
    const ours = m.startsWith('ours');
    const pk = (label: string) => max(rs.map((r) => r.phase.peakRssMiB[label] ?? 0)) || undefined;
    return [
      m,
      s1(median(secs)),
      fmtRuns(secs),
      s1(max(secs)),
      vsPlain ? `${ratio(vsPlain[0])} / ${ratio(vsPlain[1])}` : '',
      vsGz ? `${ratio(vsGz[0])} / ${ratio(vsGz[1])}` : '',
      mb(last.bytes),
      tar ? s1(tar / 1e6 / median(secs)) : '',
      s1(median(rs.map((r) => (ours ? workersCpu(r.phase) : r.phase.cpu.tools)))),
      s1(median(rs.map((r) => r.phase.cpu.source))),
      s1(median(rs.map((r) => r.phase.cpu.swift))),
      s1(median(rs.map((r) => r.phase.cpu.other))),
      ours ? `${pk(m === 'ours -> S3' ? 's3:coord' : 'coord') ?? '-'}` : '',
      ours ? `${pk(m === 'ours -> S3' ? 's3:w1' : 'w1') ?? '-'} / ${pk(m === 'ours -> S3' ? 's3:w2' : 'w2') ?? '-'}` : '',
    ];
  });
  return table(
    [
      'method',
      'wall s (median)',
      'runs',
      'worst s',
      'vs -Ft median / worst',
      'vs -z median / worst',
      'output MB',
      'MB/s of tar',
      'tool/workers CPU-s',
      'src CPU-s',
      'swift CPU-s',
      'other CPU-s',
      'peak RSS coord MiB',
      'peak RSS w1 / w2 MiB',
    ],
    rows,
  );
}

export function restoreTable(records: RestoreRecord[]): string {
  const rows: (string | number | undefined)[][] = [];
  for (const level of ['database', 'table'] as const) {
    for (const path of ['ours', 'manual'] as const) {
      const rs = records.filter((r) => r.level === level && r.path === path);
      if (!rs.length) continue;
      const secs = rs.map((r) => r.seconds);
      const vs = rs.flatMap((r) => {
        const m = records.find((x) => x.level === level && x.path === 'manual' && x.round === r.round);
        return m ? [r.seconds / m.seconds] : [];
      });
      const stepNames = Object.keys(rs[0]!.steps);
      const pk = (label: string) => max(rs.map((r) => r.phase.peakRssMiB[label] ?? 0)) || undefined;
      rows.push([
        level,
        path,
        s1(median(secs)),
        fmtRuns(secs),
        s1(max(secs)),
        vs.length ? `${ratio(median(vs))} / ${ratio(Math.max(...vs))}` : '',
        stepNames.map((k) => `${k} ${s1(median(rs.map((r) => r.steps[k] ?? 0)))}`).join(', '),
        s1(median(rs.map((r) => (path === 'ours' ? workersCpu(r.phase) : r.phase.cpu.tools)))),
        s1(median(rs.map((r) => r.phase.cpu.source))),
        s1(median(rs.map((r) => r.phase.cpu.other))),
        mb(median(rs.map((r) => r.phase.walBytes))),
        path === 'ours' ? `${pk('coord') ?? '-'} / ${pk('w1') ?? '-'} / ${pk('w2') ?? '-'}` : '',
        rs.every((r) => r.verified) ? 'rows ok' : `DIFFERS: ${rs.find((r) => !r.verified)?.verifyNote ?? ''}`,
      ]);
    }
  }
  return table(
    [
      'level',
      'path',
      'wall s (median)',
      'runs',
      'worst s',
      'vs manual median / worst',
      'steps, median s',
      'tool/workers CPU-s',
      'src CPU-s',
      'other CPU-s',
      'WAL MB (target)',
      'peak RSS coord / w1 / w2 MiB',
      'verify',
    ],
    rows,
  );
}

export interface TargetRow {
  name: string;
  goal: string;
  measured: string;
  pass: boolean;
}

export function targetsTable(targets: TargetRow[]): string {
  return table(
    ['target', 'goal', 'measured', 'result'],
    targets.map((t) => [t.name, t.goal, t.measured, t.pass ? 'PASS' : 'MISS']),
  );
}

export function memoryTable(phases: { what: string; phase: Phase }[], labels: string[]): string {
  return table(
    ['phase', ...labels.map((l) => `${l} start/max/peak MiB`)],
    phases.map(({ what, phase }) => [
      what,
      ...labels.map((l) =>
        phase.peakRssMiB[l] === undefined
          ? '-'
          : `${phase.startRssMiB[l] ?? '-'} / ${phase.maxSampledRssMiB[l] ?? '-'} / ${phase.peakRssMiB[l]}`,
      ),
    ]),
  );
}

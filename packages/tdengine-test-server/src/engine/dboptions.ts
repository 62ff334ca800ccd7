/**
 * Database options: parsing `CREATE DATABASE ... <options>` and printing them back the way
 * TDengine 3.x does (SHOW CREATE DATABASE, information_schema.ins_databases).
 * Defaults are those of the contract's illustrative SHOW CREATE DATABASE output.
 */
import { syntaxError, TaosError } from '../protocol/errors.ts';
import type { DbOption, Literal } from '../sql/ast.ts';
import { durationMinutes } from './time.ts';
import type { Precision } from './types.ts';

const INVALID_DB_OPTION = 0x2619;

export interface DbOptions {
  buffer: number;
  cacheSize: number;
  cacheModel: string;
  comp: number;
  /** minutes */
  duration: number;
  walFsyncPeriod: number;
  maxRows: number;
  minRows: number;
  sttTrigger: number;
  /** minutes, three tiers */
  keep: [number, number, number];
  pages: number;
  pageSize: number;
  precision: Precision;
  replica: number;
  walLevel: number;
  vgroups: number;
  singleStable: number;
  tablePrefix: number;
  tableSuffix: number;
  tsdbPageSize: number;
  walRetentionPeriod: number;
  walRetentionSize: bigint;
  keepTimeOffset: number;
  encryptAlgorithm: string;
  s3ChunkSize: number;
  /** minutes */
  s3KeepLocal: number;
  s3Compact: number;
  strict: string;
  retentions: string | null;
}

export function defaultDbOptions(): DbOptions {
  return {
    buffer: 256,
    cacheSize: 1,
    cacheModel: 'none',
    comp: 2,
    duration: 14400,
    walFsyncPeriod: 3000,
    maxRows: 4096,
    minRows: 100,
    sttTrigger: 2,
    keep: [5256000, 5256000, 5256000],
    pages: 256,
    pageSize: 4,
    precision: 'ms',
    replica: 1,
    walLevel: 1,
    vgroups: 2,
    singleStable: 0,
    tablePrefix: 0,
    tableSuffix: 0,
    tsdbPageSize: 4,
    walRetentionPeriod: 3600,
    walRetentionSize: 0n,
    keepTimeOffset: 0,
    encryptAlgorithm: 'none',
    s3ChunkSize: 131072,
    s3KeepLocal: 525600,
    s3Compact: 1,
    strict: 'on',
    retentions: null,
  };
}

function invalid(name: string, detail: string): TaosError {
  return new TaosError(INVALID_DB_OPTION, `Invalid option ${name.toLowerCase()}: ${detail}`);
}

function single(o: DbOption): Literal {
  if (o.values.length !== 1) throw invalid(o.name, 'expects a single value');
  return o.values[0]!;
}

function int(o: DbOption, min: number, max: number): number {
  const v = single(o);
  if (v.t !== 'int') throw invalid(o.name, 'expects an integer');
  const n = Number(v.text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(o.name, `out of range [${min}, ${max}]`);
  return n;
}

function str(o: DbOption, allowed?: readonly string[]): string {
  const v = single(o);
  if (v.t !== 'string') throw invalid(o.name, 'expects a string');
  const s = v.text.toLowerCase();
  if (allowed && !allowed.includes(s)) throw invalid(o.name, `expects one of ${allowed.join(', ')}`);
  return s;
}

/** A DURATION/KEEP value: a duration with m/h/d unit, or an integer number of days. */
function minutes(o: DbOption, v: Literal): number {
  if (v.t === 'int') return Number(v.text) * 1440;
  if (v.t === 'duration') {
    const m = durationMinutes(Number(v.text), v.unit ?? '');
    if (m !== undefined) return m;
  }
  throw invalid(o.name, 'expects a duration in m, h or d');
}

export function parseDbOptions(list: readonly DbOption[]): DbOptions {
  const opts = defaultDbOptions();
  for (const o of list) {
    switch (o.name) {
      case 'BUFFER':
        opts.buffer = int(o, 3, 16384);
        break;
      case 'CACHESIZE':
        opts.cacheSize = int(o, 1, 65536);
        break;
      case 'CACHEMODEL':
        opts.cacheModel = str(o, ['none', 'last_row', 'last_value', 'both']);
        break;
      case 'COMP':
        opts.comp = int(o, 0, 2);
        break;
      case 'DURATION':
        opts.duration = minutes(o, single(o));
        break;
      case 'WAL_FSYNC_PERIOD':
        opts.walFsyncPeriod = int(o, 0, 180000);
        break;
      case 'MAXROWS':
        opts.maxRows = int(o, 200, 10000);
        break;
      case 'MINROWS':
        opts.minRows = int(o, 10, 1000);
        break;
      case 'STT_TRIGGER':
        opts.sttTrigger = int(o, 1, 16);
        break;
      case 'KEEP': {
        if (o.values.length < 1 || o.values.length > 3) throw invalid(o.name, 'expects 1 to 3 values');
        const k = o.values.map((v) => minutes(o, v));
        opts.keep = [k[0]!, k[1] ?? k[0]!, k[2] ?? k[1] ?? k[0]!];
        break;
      }
      case 'PAGES':
        opts.pages = int(o, 64, 2147483647);
        break;
      case 'PAGESIZE':
        opts.pageSize = int(o, 1, 16384);
        break;
      case 'PRECISION':
        opts.precision = str(o, ['ms', 'us', 'ns']) as Precision;
        break;
      case 'REPLICA':
        opts.replica = int(o, 1, 3);
        break;
      case 'WAL_LEVEL':
        opts.walLevel = int(o, 0, 2);
        break;
      case 'VGROUPS':
        opts.vgroups = int(o, 1, 1024);
        break;
      case 'SINGLE_STABLE':
        opts.singleStable = int(o, 0, 1);
        break;
      case 'TABLE_PREFIX':
        opts.tablePrefix = int(o, -128, 128);
        break;
      case 'TABLE_SUFFIX':
        opts.tableSuffix = int(o, -128, 128);
        break;
      case 'TSDB_PAGESIZE':
        opts.tsdbPageSize = int(o, 1, 16384);
        break;
      case 'WAL_RETENTION_PERIOD':
        opts.walRetentionPeriod = int(o, -1, 2147483647);
        break;
      case 'WAL_RETENTION_SIZE':
        opts.walRetentionSize = BigInt(int(o, -1, Number.MAX_SAFE_INTEGER));
        break;
      case 'KEEP_TIME_OFFSET':
        opts.keepTimeOffset = int(o, 0, 23);
        break;
      case 'ENCRYPT_ALGORITHM':
        opts.encryptAlgorithm = str(o);
        break;
      case 'S3_CHUNKSIZE':
      case 'S3_CHUNKPAGES':
        opts.s3ChunkSize = int(o, 131072, 1048576);
        break;
      case 'S3_KEEPLOCAL':
        opts.s3KeepLocal = minutes(o, single(o));
        break;
      case 'S3_COMPACT':
        opts.s3Compact = int(o, 0, 1);
        break;
      case 'STRICT':
        opts.strict = str(o, ['on', 'off']);
        break;
      case 'RETENTIONS':
        opts.retentions = o.values.map((v) => v.text).join(',');
        break;
      case 'DNODES':
      case 'WAL_ROLL_PERIOD':
      case 'WAL_SEGMENT_SIZE':
        // accepted, no effect on a single in-memory node
        break;
      default:
        throw syntaxError(o.name.toLowerCase());
    }
  }
  return opts;
}

/** TDengine's formatDurationOrKeep: minutes → "10d" / "240h" / "90m". */
export function formatMinutes(m: number): string {
  if (m % 1440 === 0) return `${m / 1440}d`;
  if (m % 60 === 0) return `${m / 60}h`;
  return `${m}m`;
}

export function keepText(o: DbOptions): string {
  return o.keep.map(formatMinutes).join(',');
}

/** SHOW CREATE DATABASE text, in the newest build's format (see the contract §3.2). */
export function showCreateDatabase(name: string, o: DbOptions): string {
  let s =
    `CREATE DATABASE \`${name}\` BUFFER ${o.buffer} CACHESIZE ${o.cacheSize} CACHEMODEL '${o.cacheModel}' COMP ${o.comp}` +
    ` DURATION ${formatMinutes(o.duration)} WAL_FSYNC_PERIOD ${o.walFsyncPeriod} MAXROWS ${o.maxRows} MINROWS ${o.minRows}` +
    ` STT_TRIGGER ${o.sttTrigger} KEEP ${keepText(o)} PAGES ${o.pages} PAGESIZE ${o.pageSize}` +
    ` PRECISION '${o.precision}' REPLICA ${o.replica} WAL_LEVEL ${o.walLevel} VGROUPS ${o.vgroups}` +
    ` SINGLE_STABLE ${o.singleStable} TABLE_PREFIX ${o.tablePrefix} TABLE_SUFFIX ${o.tableSuffix} TSDB_PAGESIZE ${o.tsdbPageSize}` +
    ` WAL_RETENTION_PERIOD ${o.walRetentionPeriod} WAL_RETENTION_SIZE ${o.walRetentionSize}` +
    ` KEEP_TIME_OFFSET ${o.keepTimeOffset} ENCRYPT_ALGORITHM '${o.encryptAlgorithm}' S3_CHUNKSIZE ${o.s3ChunkSize}` +
    ` S3_KEEPLOCAL ${o.s3KeepLocal}m S3_COMPACT ${o.s3Compact}`;
  if (o.retentions !== null) s += ` RETENTIONS ${o.retentions}`;
  return s;
}

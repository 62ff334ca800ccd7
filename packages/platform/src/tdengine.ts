import { type BackupRecord, listBackupsWithCut } from '@bk/catalog';
import { BadRequestError, type Manifest, type ManifestObject, type SourceConfig } from '@bk/core';
import {
  type Precision,
  TdClient,
  childTables,
  countOf,
  databaseOptions,
  describe,
  listDatabases,
  listNormalTables,
  listSuperTables,
  quoteQualified,
  rowsPerChildTable,
  serverVersion,
} from '@bk/tdengine';
import type { Platform } from './platform.ts';

/** A REST client for a TDengine source, with the configured deadline per request. */
export function tdClientFor(platform: Pick<Platform, 'config'>, source: SourceConfig): TdClient {
  return new TdClient({ url: source.url, timeoutMs: platform.config.tdengine.requestTimeoutSeconds * 1000, app: 'bk-backup' });
}

const PER_MS: Readonly<Record<Precision, bigint>> = { ms: 1n, us: 1000n, ns: 1_000_000n };

/** Nanoseconds since the epoch of an ISO 8601 time, every fraction digit kept. */
export function isoToEpochNs(iso: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/i.exec(iso);
  if (!m) throw new BadRequestError(`not an ISO 8601 time with a zone: ${iso}`, 'invalid_time');
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) throw new BadRequestError(`not a valid time: ${iso}`, 'invalid_time');
  const frac = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  return BigInt(seconds) * 1_000_000n + BigInt(frac);
}

/** A time (ns since the epoch) in a database's precision, rounded down. */
export function nsToEpoch(ns: bigint, precision: Precision): bigint {
  const per = 1_000_000n / PER_MS[precision];
  const q = ns / per;
  return ns < 0n && q * per !== ns ? q - 1n : q;
}

export function dateToEpoch(d: Date, precision: Precision): bigint {
  return BigInt(d.getTime()) * PER_MS[precision];
}

/** The backup an incremental builds on: the newest good backup of its chain. */
export interface IncrementalBase {
  base: BackupRecord;
  parent: BackupRecord;
}

const sameScope = (a: BackupRecord['scope'], b: { databases?: string[] | undefined; tables?: string[] | undefined }) =>
  JSON.stringify([...(a.databases ?? [])].sort()) === JSON.stringify([...(b.databases ?? [])].sort()) &&
  JSON.stringify([...(a.tables ?? [])].sort()) === JSON.stringify([...(b.tables ?? [])].sort());

/** A cut this far ahead of the clock is a deliberate "future" cut (asOf), not clock skew. */
const FUTURE_SKEW_MS = 60_000;

/**
 * Finds what an incremental backup of `source` with this scope builds on: the newest
 * succeeded non-incremental backup with the same scope (the base; a scope-less request
 * takes a `full`), and the newest succeeded backup of that base's chain (the parent).
 * Backups cut in the future (`asOf`) start no chain: nothing could follow them.
 */
export async function findIncrementalBase(
  platform: Pick<Platform, 'db'>,
  source: string,
  scope: { databases?: string[] | undefined; tables?: string[] | undefined },
): Promise<IncrementalBase | undefined> {
  const now = Date.now() + FUTURE_SKEW_MS;
  const all = (await listBackupsWithCut(platform.db, source)).filter((b) => b.asOf!.getTime() <= now);
  const bases = all.filter(
    (b) =>
      b.type !== 'incremental' && (scope.databases || scope.tables ? b.type !== 'full' && sameScope(b.scope, scope) : b.type === 'full'),
  );
  const base = bases[bases.length - 1];
  if (!base) return undefined;
  const chain = all.filter((b) => b.id === base.id || (b.type === 'incremental' && b.baseBackupId === base.id));
  return { base, parent: chain[chain.length - 1] ?? base };
}

/** The backups to apply, oldest first, to restore `backupId` (an incremental needs its chain). */
export async function chainOf(platform: Pick<Platform, 'db'>, backup: BackupRecord): Promise<BackupRecord[]> {
  if (backup.type !== 'incremental') return [backup];
  const chain = walkChain(backup, new Map((await listBackupsWithCut(platform.db, backup.source)).map((b) => [b.id, b])));
  if (typeof chain === 'string')
    throw new BadRequestError(`backup ${backup.id} is an incremental whose chain is broken: ${chain}`, 'chain_broken');
  return chain;
}

/** Follows parent links from `end` back to its base; a string says why the chain is broken. */
function walkChain(end: BackupRecord, byId: ReadonlyMap<string, BackupRecord>): BackupRecord[] | string {
  const chain: BackupRecord[] = [end];
  let cur = end;
  while (cur.type === 'incremental') {
    const parent = cur.parentBackupId ? byId.get(cur.parentBackupId) : undefined;
    if (!parent) return `the parent ${cur.parentBackupId ?? '(none)'} of ${cur.id} is no longer available`;
    if (parent.asOf! >= cur.asOf!) return `${parent.id} is not cut before ${cur.id}`;
    chain.unshift(parent);
    cur = parent;
  }
  return chain;
}

/** Whether a chain starting at `base` holds everything a restore selection asks for. */
function covers(base: BackupRecord, want: { databases?: string[] | undefined; tables?: string[] | undefined }): boolean {
  if (base.type === 'full') return true;
  const dbs = base.scope.databases ?? [];
  const tables = base.scope.tables ?? [];
  if (want.tables?.length) return want.tables.every((t) => tables.includes(t) || dbs.includes(parseTdTableRef(t).database));
  if (want.databases?.length) return base.type === 'database' && want.databases.every((d) => dbs.includes(d));
  // no selection: the whole source, which only a full holds
  return false;
}

/**
 * Point in time: the newest full (or database/table backup holding what the request
 * selects) whose cut is not after `targetTime`, then every incremental of its chain, by
 * parent links, up to the first cut after `targetTime` (rows after the target are dropped
 * while loading). A time no intact chain covers is the caller's mistake: the answer names
 * the ranges that are covered.
 */
export async function planPointInTime(
  platform: Pick<Platform, 'db'>,
  source: string,
  targetTime: string,
  want: { databases?: string[] | undefined; tables?: string[] | undefined } = {},
): Promise<BackupRecord[]> {
  const target = isoToEpochNs(targetTime);
  const all = await listBackupsWithCut(platform.db, source);
  const byId = new Map(all.map((b) => [b.id, b]));
  const cutNs = (b: BackupRecord) => BigInt(b.asOf!.getTime()) * 1_000_000n;
  const chains: BackupRecord[][] = [];
  for (const end of all) {
    const chain = walkChain(end, byId);
    if (typeof chain !== 'string' && covers(chain[0]!, want)) chains.push(chain);
  }
  // The chain that ends soonest after the target (fewest rows to drop), from the newest base.
  const fitting = chains
    .filter((c) => cutNs(c[0]!) <= target && cutNs(c[c.length - 1]!) > target && c.slice(0, -1).every((b) => cutNs(b) <= target))
    .sort((a, b) => Number(cutNs(a[a.length - 1]!) - cutNs(b[b.length - 1]!)) || Number(cutNs(b[0]!) - cutNs(a[0]!)));
  if (fitting[0]) return fitting[0];
  const ranges = new Map<string, { base: BackupRecord; to: Date; n: number }>();
  for (const c of chains) {
    const r = ranges.get(c[0]!.id);
    const end = c[c.length - 1]!.asOf!;
    if (!r || end > r.to) ranges.set(c[0]!.id, { base: c[0]!, to: end, n: c.length - 1 });
  }
  const described = ranges.size
    ? [...ranges.values()]
        .map((r) => `${r.base.asOf!.toISOString()} .. ${r.to.toISOString()} (${r.base.type} ${r.base.id}, ${r.n} incrementals)`)
        .join('; ')
    : 'none: the source has no succeeded backup holding this selection to start from';
  throw new BadRequestError(
    `no backup of ${source} covers ${targetTime}: a point in time needs a backup cut before it and a backup of the same chain cut after it. Covered: ${described}`,
    'time_not_covered',
  );
}

export interface TdRestoreSelection {
  /** Source database -> target database. */
  databases: Map<string, string>;
  /** Data objects to load (for one manifest). */
  data: ManifestObject[];
  /** Tables (super or normal) chosen per source database; undefined: whole databases. */
  tables: Map<string, Set<string>> | undefined;
}

/** `db.table` of a TDengine request (table: a super or normal table). */
export function parseTdTableRef(ref: string): { database: string; table: string } {
  const dot = ref.indexOf('.');
  if (dot <= 0 || dot === ref.length - 1)
    throw new BadRequestError(`TDengine tables are named database.table (a super or normal table), got "${ref}"`, 'invalid_table_name');
  return { database: ref.slice(0, dot), table: ref.slice(dot + 1) };
}

/**
 * What a TDengine restore covers in one manifest. Objects are per super table (a batch of its
 * child tables) or per batch of normal tables; `tables` filters both.
 */
export function selectTdForRestore(
  manifest: Manifest,
  req: { databases?: string[] | undefined; tables?: string[] | undefined; targetDatabase?: string | undefined },
  onError: (msg: string) => never,
): TdRestoreSelection {
  let dbNames = manifest.databases.map((d) => d.name);
  if (req.databases?.length) {
    const missing = req.databases.filter((d) => !dbNames.includes(d));
    if (missing.length) onError(`databases not in this backup: ${missing.join(', ')} (it has: ${dbNames.join(', ')})`);
    dbNames = req.databases;
  }
  let tables: TdRestoreSelection['tables'];
  if (req.tables?.length) {
    tables = new Map();
    const unknown: string[] = [];
    for (const t of req.tables) {
      let ref: { database: string; table: string };
      try {
        ref = parseTdTableRef(t);
      } catch (e) {
        return onError((e as Error).message);
      }
      const known = tdTablesOf(manifest, ref.database);
      if (!dbNames.includes(ref.database) || !known.has(ref.table)) unknown.push(t);
      else tables.set(ref.database, (tables.get(ref.database) ?? new Set()).add(ref.table));
    }
    if (unknown.length) onError(`tables not in this backup: ${unknown.join(', ')} (name super or normal tables as database.table)`);
    dbNames = dbNames.filter((d) => tables?.has(d));
  }
  if (req.targetDatabase && dbNames.length > 1)
    onError(
      `targetDatabase needs exactly one database to restore, but the selection covers ${dbNames.length}: ${dbNames.join(', ')}; pass databases`,
    );
  const data = manifest.objects.filter(
    (o) => o.kind === 'data' && dbNames.includes(o.database) && (!tables || objectTouches(o, tables.get(o.database))),
  );
  return { databases: new Map(dbNames.map((d) => [d, req.targetDatabase ?? d])), data, tables };
}

/** Super and normal tables of a database in a manifest (from its data objects and DDL names). */
function tdTablesOf(manifest: Manifest, database: string): Set<string> {
  const out = new Set<string>();
  for (const o of manifest.objects) {
    if (o.database !== database || o.kind !== 'data') continue;
    if (o.tableName !== undefined) out.add(o.tableName);
    else for (const m of o.members ?? []) out.add(m.table);
  }
  for (const d of manifest.databases) {
    if (d.name !== database) continue;
    const names = d.options?.tables;
    if (Array.isArray(names)) for (const n of names) if (typeof n === 'string') out.add(n);
  }
  return out;
}

/** Whether an object holds rows of the chosen tables (its super table, or one of its normal tables). */
export function objectTouches(o: ManifestObject, chosen: Set<string> | undefined): boolean {
  if (!chosen) return true;
  if (o.tableName !== undefined) return chosen.has(o.tableName);
  return (o.members ?? []).some((m) => chosen.has(m.table));
}

export interface TdDiscovery {
  serverVersion: string;
  databases: {
    name: string;
    precision: Precision;
    tables: {
      name: string;
      kind: 'super table' | 'child table' | 'normal table';
      rows: number;
      parent: string | null;
      tags?: Record<string, unknown>;
    }[];
  }[];
}

/**
 * Discovery of a TDengine source: user databases with their precision, super tables with
 * their child tables (typed tag values) and rows per child table, and normal tables.
 */
export async function discoverTd(
  platform: Pick<Platform, 'config'>,
  source: SourceConfig,
  signal: AbortSignal,
  onlyDatabases = false,
): Promise<TdDiscovery> {
  const client = tdClientFor(platform, source);
  const call = { signal };
  try {
    const version = await serverVersion(client, call);
    const out: TdDiscovery['databases'] = [];
    for (const name of await listDatabases(client, call)) {
      const { precision } = await databaseOptions(client, name, call);
      const tables: TdDiscovery['databases'][number]['tables'] = [];
      if (!onlyDatabases) {
        for (const st of await listSuperTables(client, name, call)) {
          const schema = await describe(client, name, st, call);
          const counts = await rowsPerChildTable(client, name, st, call);
          const kids = await childTables(client, name, st, { ...call, precision, tags: schema.tags });
          tables.push({ name: st, kind: 'super table', rows: [...counts.values()].reduce((a, n) => a + n, 0), parent: null });
          for (const c of kids)
            tables.push({
              name: c.name,
              kind: 'child table',
              rows: counts.get(c.name) ?? 0,
              parent: st,
              tags: Object.fromEntries(c.tags.map((t) => [t.name, t.value])),
            });
        }
        for (const t of await listNormalTables(client, name, call)) {
          const rows = await countOf(client, `SELECT COUNT(*) FROM ${quoteQualified(name, t)}`, call);
          tables.push({ name: t, kind: 'normal table', rows, parent: null });
        }
      }
      out.push({ name, precision, tables });
    }
    return { serverVersion: version, databases: out };
  } finally {
    client.close();
  }
}

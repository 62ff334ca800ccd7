import { BadRequestError, type SourceConfig, displayName, parsePgTableRef } from '@bk/core';
import { discover, listDatabases } from '@bk/postgres';
import type { BackupRequest } from './backups.ts';
import type { Platform } from './platform.ts';
import { pgDatabaseOf } from './sources.ts';
import { discoverTd, parseTdTableRef } from './tdengine.ts';

/** PostgreSQL's own schemas and template databases: never the subject of a backup. */
const PG_SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);
const PG_SYSTEM_DATABASES = new Set(['template0', 'template1']);
/** TDengine's system databases. */
const TD_SYSTEM_DATABASES = new Set(['information_schema', 'performance_schema', 'log', 'audit']);

/** How long request-time discovery may take before the request goes ahead unchecked. */
const CHECK_TIMEOUT_MS = 5000;

type Deps = Pick<Platform, 'config'>;
type Scope = Pick<BackupRequest, 'type' | 'databases' | 'tables'>;

/**
 * Backups name what exists: system schemas, catalogs and databases are refused outright, and
 * the databases and tables a request (or a schedule) names are checked against the source's
 * discovery, with the nearest existing names in the answer (`400 unknown_database`,
 * `unknown_table`, `system_object`), before anything is recorded. A source that cannot be
 * reached within a few seconds is not checked here: the backup then fails in the worker,
 * saying what is missing, as before.
 */
export async function checkNamesExist(platform: Deps, sourceName: string, source: SourceConfig, req: Scope): Promise<void> {
  if (source.kind === 'postgres') return checkPg(source.url, req);
  return checkTd(platform, sourceName, source, req);
}

async function checkPg(url: string, req: Scope): Promise<void> {
  const defaultDb = pgDatabaseOf(url);
  const refs = (req.tables ?? []).map((t) => ({ text: t, ref: parsePgTableRef(t) }));
  for (const d of req.databases ?? [])
    if (PG_SYSTEM_DATABASES.has(d))
      throw new BadRequestError(`database ${d} is a PostgreSQL template, not something to back up`, 'system_object');
  for (const { text, ref } of refs)
    if (PG_SYSTEM_SCHEMAS.has(ref.schema) || /^pg_(toast_)?temp_\d+$/.test(ref.schema))
      throw new BadRequestError(`${text} is in PostgreSQL's system schema ${ref.schema}; back up your own tables`, 'system_object');
  if (req.type !== 'database' && req.type !== 'table') return;
  const wantedDbs =
    req.type === 'database'
      ? req.databases?.length
        ? req.databases
        : [defaultDb]
      : [...new Set(refs.map((r) => r.ref.database ?? defaultDb))];
  const existing = await bounded((signal) => listDatabases(url, { signal }));
  if (!existing) return;
  const missingDbs = wantedDbs.filter((d) => !existing.includes(d));
  if (missingDbs.length)
    throw new BadRequestError(
      `databases not found on the server: ${missingDbs.map((d) => withNearest(d, existing)).join('; ')}`,
      'unknown_database',
      { missing: missingDbs },
    );
  if (req.type !== 'table') return;
  const found = await bounded((signal) => discover(url, { signal, databases: wantedDbs }));
  if (!found) return;
  const missing: string[] = [];
  for (const { text, ref } of refs) {
    const db = found.databases.find((d) => d.name === (ref.database ?? defaultDb));
    const names = (db?.tables ?? []).map((t) => displayName(t.schema, t.name));
    if (!db?.tables.some((t) => t.schema === ref.schema && t.name === ref.name)) missing.push(withNearest(text, names));
  }
  if (missing.length) throw new BadRequestError(`tables not found: ${missing.join('; ')}`, 'unknown_table', { missing });
}

async function checkTd(platform: Deps, _name: string, source: SourceConfig, req: Scope): Promise<void> {
  const dbs = [...(req.databases ?? []), ...(req.tables ?? []).map((t) => parseTdTableRef(t).database)];
  for (const d of dbs)
    if (TD_SYSTEM_DATABASES.has(d))
      throw new BadRequestError(`${d} is a TDengine system database, not something to back up`, 'system_object');
  if (!dbs.length) return;
  const existing = await bounded(async (signal) => (await discoverTd(platform, source, signal, true)).databases.map((d) => d.name));
  if (!existing) return;
  const missing = [...new Set(dbs)].filter((d) => !existing.includes(d));
  if (missing.length)
    throw new BadRequestError(
      `databases not found on the server: ${missing.map((d) => withNearest(d, existing)).join('; ')}`,
      'unknown_database',
      {
        missing,
      },
    );
}

/** The answer of a discovery call, or undefined when the source does not answer in time. */
async function bounded<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    return await fn(signal);
  } catch {
    return undefined;
  }
}

/** "public.ordrs (did you mean public.orders?)" with the up to three nearest names. */
export function withNearest(name: string, candidates: readonly string[]): string {
  const near = candidates
    .map((c) => ({ c, d: distance(name.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, 3)
    .map((x) => x.c);
  return near.length ? `${name} (did you mean ${near.join(', ')}?)` : name;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

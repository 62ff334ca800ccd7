import { type SourceConfig, type SourceKind, displayName, errorMessage } from '@bk/core';
import { discover, listDatabases } from '@bk/postgres';
import type { Platform } from './platform.ts';
import { discoverTd } from './tdengine.ts';

/** One table as discovery reports it, whatever the source kind. */
export interface DiscoveredTable {
  /** PostgreSQL schema; '' for TDengine. */
  schema: string;
  name: string;
  kind: string;
  /** PostgreSQL: the planner's estimate; TDengine: rows counted. */
  estimatedRows: number;
  /** 0 where the source does not say (TDengine). */
  sizeBytes: number;
  parent: string | null;
  /** TDengine child tables: tag values (64-bit integers and timestamps as strings, exact). */
  tags?: Record<string, unknown>;
}

export interface DiscoveredDatabase {
  name: string;
  /** TDengine: the database's time precision. */
  precision?: 'ms' | 'us' | 'ns';
  schemas: string[];
  tables: DiscoveredTable[];
}

export interface SourceCatalog {
  serverVersion: string;
  databases: DiscoveredDatabase[];
}

/** Discovery answers even when a source is down: a failure (or no answer in time) is `reachable: false`. */
export type Reachability<T> = ({ reachable: true } & T) | { reachable: false; error: string };

/** How long listing databases (every source, for the overview) and discovering one source may take. */
const LIST_TIMEOUT_MS = 5000;
const DISCOVER_TIMEOUT_MS = 30000;

type DiscoveryDeps = Pick<Platform, 'config'>;

interface Discoverer {
  databases(platform: DiscoveryDeps, source: SourceConfig, signal: AbortSignal): Promise<string[]>;
  catalog(platform: DiscoveryDeps, source: SourceConfig, signal: AbortSignal): Promise<SourceCatalog>;
}

const discoverers = {
  postgres: {
    databases: (_platform, source, signal) => listDatabases(source.url, { signal }),
    catalog: (_platform, source, signal) => pgCatalog(source.url, signal),
  },
  tdengine: {
    databases: async (platform, source, signal) => (await discoverTd(platform, source, signal, true)).databases.map((d) => d.name),
    catalog: tdCatalog,
  },
} satisfies Record<SourceKind, Discoverer>;

/** The databases of a source: the quick check `GET /v1/sources` runs on every source. */
export async function listSourceDatabases(platform: DiscoveryDeps, source: SourceConfig): Promise<Reachability<{ databases: string[] }>> {
  try {
    return {
      reachable: true,
      databases: await withTimeout(LIST_TIMEOUT_MS, (signal) => discoverers[source.kind].databases(platform, source, signal)),
    };
  } catch (e) {
    return { reachable: false, error: errorMessage(e) };
  }
}

/** Databases, schemas and tables of a source, with sizes (PostgreSQL) or rows counted (TDengine). */
export async function discoverSource(platform: DiscoveryDeps, source: SourceConfig): Promise<Reachability<SourceCatalog>> {
  try {
    return {
      reachable: true,
      ...(await withTimeout(DISCOVER_TIMEOUT_MS, (signal) => discoverers[source.kind].catalog(platform, source, signal))),
    };
  } catch (e) {
    return { reachable: false, error: errorMessage(e) };
  }
}

/** Runs `f` with a signal that aborts after `ms` (the connectors stop on it). */
async function withTimeout<T>(ms: number, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new Error(`no answer within ${ms / 1000}s`)), ms);
  try {
    return await f(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

async function pgCatalog(url: string, signal: AbortSignal): Promise<SourceCatalog> {
  const d = await discover(url, { signal });
  return {
    serverVersion: d.serverVersion,
    databases: d.databases.map((x) => ({
      name: x.name,
      schemas: x.schemas,
      tables: x.tables.map((t) => ({
        schema: t.schema,
        name: t.name,
        kind: t.kind,
        estimatedRows: t.estimatedRows,
        sizeBytes: t.sizeBytes,
        parent: t.parent ? displayName(t.parent.schema, t.parent.name) : null,
      })),
    })),
  };
}

/** Super, child (with tags) and normal tables, rows counted. */
async function tdCatalog(platform: DiscoveryDeps, source: SourceConfig, signal: AbortSignal): Promise<SourceCatalog> {
  const d = await discoverTd(platform, source, signal);
  return {
    serverVersion: d.serverVersion,
    databases: d.databases.map((x) => ({
      name: x.name,
      precision: x.precision,
      schemas: [],
      tables: x.tables.map((t) => ({
        schema: '',
        name: t.name,
        kind: t.kind,
        estimatedRows: t.rows,
        sizeBytes: 0,
        parent: t.parent,
        ...(t.tags ? { tags: t.tags } : {}),
      })),
    })),
  };
}

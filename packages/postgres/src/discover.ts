/** Discovery: what a server holds, for `GET /v1/sources/{name}` and for planning a backup. */

import type { Client } from 'pg';
import { NOT_EXTENSION_MEMBER_SQL, PARENT_SQL, USER_SCHEMA_SQL } from './catalog-sql.ts';
import { withClient } from './connection.ts';
import { PgConnectorError } from './errors.ts';
import { parseTarget } from './target.ts';
import { serverVersionFromNum, type ServerVersion, type TableRef } from './types.ts';

/**
 * - `table`: an ordinary table;
 * - `partitioned`: a partitioned table (holds no rows itself; a sub-partition has a parent);
 * - `partition`: a partition holding rows;
 * - `inheritance-child`: a table inheriting from another (legacy inheritance).
 * Foreign tables, views and materialized views are not listed.
 */
export type DiscoveredTableKind = 'table' | 'partitioned' | 'partition' | 'inheritance-child';

export interface DiscoveredTable extends TableRef {
  readonly kind: DiscoveredTableKind;
  /** pg_class.reltuples: -1 when unknown (never vacuumed or analyzed; 0 also means that before PostgreSQL 14). */
  readonly estimatedRows: number;
  /** Size of the heap (main fork), what a COPY reads: pg_relation_size. */
  readonly sizeBytes: number;
  /** Heap + TOAST + indexes: pg_total_relation_size. */
  readonly totalBytes: number;
  /** Partition parent, or first inheritance parent. */
  readonly parent: TableRef | null;
}

export interface DiscoveredDatabase {
  readonly name: string;
  readonly sizeBytes: number;
  readonly schemas: string[];
  readonly tables: DiscoveredTable[];
  /** Set when the database could not be opened (schemas and tables are then empty). */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface Discovery {
  /** e.g. "15.19" */
  readonly serverVersion: string;
  /** e.g. 150019 */
  readonly serverVersionNum: number;
  readonly databases: DiscoveredDatabase[];
}

export interface DiscoverOptions {
  readonly signal?: AbortSignal | undefined;
  /** Only these databases (default: all connectable, non-template ones). */
  readonly databases?: readonly string[] | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

async function serverVersionOf(client: Client): Promise<ServerVersion> {
  const r = await client.query<{ v: string }>("SELECT pg_catalog.current_setting('server_version_num') AS v");
  return serverVersionFromNum(Number(r.rows[0]?.v));
}

async function databaseNames(client: Client): Promise<string[]> {
  const r = await client.query<{ datname: string }>(
    `SELECT datname FROM pg_catalog.pg_database
      WHERE NOT datistemplate AND datallowconn AND pg_catalog.has_database_privilege(datname, 'CONNECT')
      ORDER BY datname`,
  );
  return r.rows.map((row) => row.datname);
}

/**
 * Names of the databases that are not templates, allow connections and that the URL's user
 * may connect to, sorted. Connects to the URL's database.
 */
export async function listDatabases(
  url: string,
  opts: { signal?: AbortSignal | undefined; connectTimeoutMs?: number | undefined } = {},
): Promise<string[]> {
  return withClient(url, { ...opts, applicationName: 'bk-discover' }, databaseNames);
}

interface TableRow {
  schema: string;
  name: string;
  relkind: string;
  relispartition: boolean;
  reltuples: number;
  size_bytes: string;
  total_bytes: string;
  parent_schema: string | null;
  parent_name: string | null;
}

async function describeDatabase(client: Client, name: string): Promise<DiscoveredDatabase> {
  const schemas = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA_SQL}
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.objid = n.oid AND d.deptype = 'e')
     ORDER BY n.nspname`,
  );
  const tables = await client.query<TableRow>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relispartition, c.reltuples,
            pg_catalog.pg_relation_size(c.oid) AS size_bytes, pg_catalog.pg_total_relation_size(c.oid) AS total_bytes,
            ${PARENT_SQL}
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}
      ORDER BY n.nspname, c.relname`,
  );
  const size = await client.query<{ s: string }>('SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS s');
  return {
    name,
    sizeBytes: Number(size.rows[0]?.s ?? 0),
    schemas: schemas.rows.map((r) => r.nspname),
    tables: tables.rows.map((r): DiscoveredTable => {
      const parent = r.parent_schema !== null && r.parent_name !== null ? { schema: r.parent_schema, name: r.parent_name } : null;
      const kind: DiscoveredTableKind =
        r.relkind === 'p' ? 'partitioned' : r.relispartition ? 'partition' : parent ? 'inheritance-child' : 'table';
      return {
        schema: r.schema,
        name: r.name,
        kind,
        estimatedRows: r.reltuples < 0 ? -1 : r.reltuples,
        sizeBytes: Number(r.size_bytes),
        totalBytes: Number(r.total_bytes),
        parent,
      };
    }),
  };
}

/**
 * Describes the server: its version and, per database, the user schemas (not pg_catalog,
 * information_schema, pg_toast*, pg_temp*, nor extension-owned ones) and tables (ordinary,
 * partitioned, partitions, inheritance children; foreign tables skipped) with estimated rows
 * and sizes. One connection per database, one at a time. A database that cannot be opened is
 * reported with its error instead of failing the whole discovery; failing to reach the
 * server at all throws (SourceUnreachableError, SourceAuthError...).
 */
export async function discover(url: string, opts: DiscoverOptions = {}): Promise<Discovery> {
  const target = parseTarget(url);
  const base = { signal: opts.signal, connectTimeoutMs: opts.connectTimeoutMs, applicationName: 'bk-discover' };
  const { serverVersion, names } = await withClient(target, base, async (client) => ({
    serverVersion: await serverVersionOf(client),
    names: opts.databases ? [...opts.databases] : await databaseNames(client),
  }));
  const databases: DiscoveredDatabase[] = [];
  for (const name of names) {
    try {
      databases.push(await withClient(target, { ...base, database: name }, (client) => describeDatabase(client, name)));
    } catch (err) {
      opts.signal?.throwIfAborted();
      if (!(err instanceof PgConnectorError)) throw err;
      databases.push({ name, sizeBytes: 0, schemas: [], tables: [], error: { code: err.code, message: err.message } });
    }
  }
  return { serverVersion: serverVersion.text, serverVersionNum: serverVersion.num, databases };
}

/** Restore-side helpers on the target database: create it, check it, set sequences, count. */

import type { Client } from 'pg';
import { withClient } from './connection.ts';
import { DatabaseMissingError, SourceUnreachableError } from './errors.ts';
import { quoteIdent, quoteLiteral, quoteQualified } from './quote.ts';
import { parseTarget } from './target.ts';
import { tableKey, type SequenceValue, type TableRef } from './types.ts';

interface Signalled {
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

export interface EnsureDatabaseOptions extends Signalled {
  /** Default template0: a clean database, as pg_dump recommends for restores. */
  readonly template?: string | undefined;
  /** ENCODING / LC_COLLATE / LC_CTYPE for a new database (default: the server's). */
  readonly encoding?: string | undefined;
  readonly lcCollate?: string | undefined;
  readonly lcCtype?: string | undefined;
}

/**
 * Creates database `name` on the URL's server unless it exists (`CREATE DATABASE "name"
 * TEMPLATE template0`, every part quoted). Connects to the URL's database, falling back to
 * `postgres` then `template1` when that one does not exist (so a URL naming the database to
 * create works). Returns true if this call created it; a concurrent creation counts as
 * existing.
 */
export async function ensureDatabase(url: string, name: string, opts: EnsureDatabaseOptions = {}): Promise<boolean> {
  const target = parseTarget(url);
  const candidates = [...new Set([target.database, 'postgres', 'template1'])];
  let lastErr: unknown;
  for (const database of candidates) {
    try {
      return await withClient(target, { ...opts, database, applicationName: 'bk-restore' }, (client) =>
        createIfMissing(client, name, opts),
      );
    } catch (err) {
      if (!(err instanceof DatabaseMissingError)) throw err;
      lastErr = err;
    }
  }
  throw lastErr instanceof Error
    ? lastErr
    : new SourceUnreachableError(`${target.host}:${target.port}`, 'no maintenance database to connect to');
}

async function createIfMissing(client: Client, name: string, opts: EnsureDatabaseOptions): Promise<boolean> {
  const exists = await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [name]);
  if (exists.rowCount) return false;
  const parts = [`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(opts.template ?? 'template0')}`];
  if (opts.encoding) parts.push(`ENCODING ${quoteLiteral(opts.encoding)}`);
  if (opts.lcCollate) parts.push(`LC_COLLATE ${quoteLiteral(opts.lcCollate)}`);
  if (opts.lcCtype) parts.push(`LC_CTYPE ${quoteLiteral(opts.lcCtype)}`);
  try {
    await client.query(parts.join(' '));
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false; // created concurrently
    throw err;
  }
}

/**
 * The tables among `tables` that exist in the URL's database and hold at least one row
 * (`SELECT EXISTS (SELECT 1 FROM ONLY t)`; missing tables are skipped). A database that does
 * not exist has none. For the fail-if-exists check of a restore.
 */
export async function tablesWithRows(url: string, tables: readonly TableRef[], opts: Signalled = {}): Promise<TableRef[]> {
  try {
    return await withClient(url, { ...opts, applicationName: 'bk-restore' }, async (client) => {
      const existing = await existingTables(client, tables);
      const out: TableRef[] = [];
      for (const t of existing) {
        const r = await client.query<{ e: boolean }>(`SELECT EXISTS (SELECT 1 FROM ONLY ${quoteQualified(t)}) AS e`);
        if (r.rows[0]?.e) out.push(t);
      }
      return out;
    });
  } catch (err) {
    if (err instanceof DatabaseMissingError) return [];
    throw err;
  }
}

/** True when none of `tables` holds a row in the URL's database (see {@link tablesWithRows}). */
export async function databaseIsEmptyFor(url: string, tables: readonly TableRef[], opts: Signalled = {}): Promise<boolean> {
  return (await tablesWithRows(url, tables, opts)).length === 0;
}

/** Which of `tables` exist (tables, partitioned tables, views, matviews, foreign tables). */
export async function existingTables(client: Client, tables: readonly TableRef[]): Promise<TableRef[]> {
  if (tables.length === 0) return [];
  const r = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS u(s, t)
       JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = u.t
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return r.rows;
}

/**
 * Sets each sequence with `setval(seq, last_value, is_called)`, all in one transaction, so a
 * restored database hands out the same next values as the source would have. A missing
 * sequence fails the call, unless `onlyExisting` (selective restores create only some).
 * Returns the number of sequences set.
 */
export async function setSequences(
  url: string,
  seqs: readonly SequenceValue[],
  opts: Signalled & { onlyExisting?: boolean | undefined } = {},
): Promise<number> {
  if (seqs.length === 0) return 0;
  return withClient(url, { ...opts, applicationName: 'bk-restore' }, async (client) => {
    let todo = seqs;
    if (opts.onlyExisting) {
      const r = await client.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name
           FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS u(s, t)
           JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
           JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = u.t AND c.relkind = 'S'`,
        [seqs.map((s) => s.schema), seqs.map((s) => s.name)],
      );
      const present = new Set(r.rows.map(tableKey));
      todo = seqs.filter((s) => present.has(tableKey(s)));
    }
    await client.query('BEGIN');
    try {
      for (const s of todo) {
        if (!/^-?\d+$/.test(s.lastValue))
          throw new RangeError(`sequence ${quoteQualified(s)}: last value ${JSON.stringify(s.lastValue)} is not an integer`);
        await client.query('SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::bigint, $3)', [
          quoteQualified(s),
          s.lastValue,
          s.isCalled,
        ]);
      }
      await client.query('COMMIT');
      return todo.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

export interface TableRowCount extends TableRef {
  /** False when the table does not exist (rows is then 0). */
  readonly exists: boolean;
  readonly rows: number;
}

/**
 * Exact `count(*)` of each table's own rows (`FROM ONLY`), in the order given; a table that
 * does not exist is reported with `exists: false, rows: 0`.
 */
export async function rowCounts(url: string, tables: readonly TableRef[], opts: Signalled = {}): Promise<TableRowCount[]> {
  return withClient(url, { ...opts, applicationName: 'bk-verify' }, async (client) => {
    const present = new Set((await existingTables(client, tables)).map(tableKey));
    const out: TableRowCount[] = [];
    for (const t of tables) {
      if (!present.has(tableKey(t))) {
        out.push({ schema: t.schema, name: t.name, exists: false, rows: 0 });
        continue;
      }
      const r = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${quoteQualified(t)}`);
      out.push({ schema: t.schema, name: t.name, exists: true, rows: Number(r.rows[0]?.n ?? 0) });
    }
    return out;
  });
}

/**
 * Whether the server skips WAL for rows COPied into a table created or truncated in the same
 * transaction (`wal_level = minimal`): then loading a table's chunks one after another in
 * one transaction writes no WAL at all, where parallel loads into one table would.
 */
export async function skipsWalForNewTables(url: string, opts: Signalled = {}): Promise<boolean> {
  return withClient(url, { ...opts, applicationName: 'bk-restore' }, async (client) => {
    const r = await client.query<{ w: string }>("SELECT pg_catalog.current_setting('wal_level') AS w");
    return r.rows[0]?.w === 'minimal';
  });
}

/**
 * Whether `table` is a plain table: an ordinary table that is neither a partition nor a
 * parent or child in an inheritance tree. Only such a table's post-data (indexes, keys)
 * concerns it alone; a partition's entries reach up to its parent's.
 */
export async function isPlainTable(url: string, table: TableRef, opts: Signalled = {}): Promise<boolean> {
  return withClient(url, { ...opts, applicationName: 'bk-restore' }, async (client) => {
    const r = await client.query<{ plain: boolean }>(
      `SELECT c.relkind = 'r' AND NOT c.relispartition
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) AS plain
         FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
      [quoteQualified(table)],
    );
    return r.rows[0]?.plain === true;
  });
}

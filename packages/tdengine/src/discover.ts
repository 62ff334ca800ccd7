/**
 * Discovery: databases, their options, super / normal / child tables, schemas and typed tag
 * values (contract §3). `information_schema.ins_*` with explicit columns rather than SHOW
 * (SHOW's column names changed across 3.x); results are read by position; tag values come
 * from `SELECT TAGS` (never the lossy `ins_tags.tag_value`).
 */

import type { TdClient } from './client.ts';
import { TdProtocolError } from './errors.ts';
import { quoteIdent, quoteQualified, quoteString } from './quote.ts';
import { type ColumnInfo, isPrecision, parseTdType, type Precision, type RawValue, type TagValue, type TdType } from './types.ts';
import { toCanonical } from './values.ts';

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** TDengine's own databases, never backed up (what taosdump and taosBackup skip). */
export const SYSTEM_DATABASES: readonly string[] = ['information_schema', 'performance_schema'];

function str(v: RawValue | undefined, what: string): string {
  if (typeof v !== 'string') throw new TdProtocolError(`${what} is not a string`);
  return v;
}

function int(v: RawValue | undefined, what: string): number {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new TdProtocolError(`${what} is not an integer`);
  return Number(v);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** User databases, sorted by name (system databases left out). */
export async function listDatabases(client: TdClient, opts: CallOptions = {}): Promise<string[]> {
  const { rows } = await client.queryAll('SELECT name FROM information_schema.ins_databases', opts);
  return rows
    .map((r) => str(r[0], 'ins_databases.name'))
    .filter((n) => !SYSTEM_DATABASES.includes(n))
    .sort(byName);
}

export interface DatabaseOptions {
  readonly precision: Precision;
  /**
   * The options of `SHOW CREATE DATABASE`, in its order, as `[KEY, value text]`
   * (`['KEEP', '3650d,3650d,3650d']`, `['CACHEMODEL', "'none'"]`), PRECISION included.
   */
  readonly options: readonly (readonly [string, string])[];
  /** The statement as the server printed it. */
  readonly createSql: string;
}

/**
 * Splits the option part of `CREATE DATABASE `name` KEY value ...` into pairs. Values are a
 * single-quoted string or a run of non-blank characters.
 */
export function parseCreateDatabase(sql: string): { name: string; options: [string, string][] } {
  const head = /^\s*CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?`([^`]*)`/i.exec(sql);
  if (!head) throw new TdProtocolError(`SHOW CREATE DATABASE gave an unexpected statement: ${sql.slice(0, 80)}`);
  const options: [string, string][] = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s+('(?:[^'\\]|\\.)*'|[^\s']+)/y;
  let pos = head[0].length;
  for (;;) {
    if (/^\s*;?\s*$/.test(sql.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(sql);
    if (!m) throw new TdProtocolError(`cannot read the options of SHOW CREATE DATABASE near: ${sql.slice(pos, pos + 40)}`);
    options.push([m[1]!.toUpperCase(), m[2]!]);
    pos = re.lastIndex;
  }
  return { name: head[1]!, options };
}

/** The options of a database, from `SHOW CREATE DATABASE` (precision from ins_databases if absent). */
export async function databaseOptions(client: TdClient, db: string, opts: CallOptions = {}): Promise<DatabaseOptions> {
  const { rows } = await client.queryAll(`SHOW CREATE DATABASE ${quoteIdent(db)}`, opts);
  const createSql = str(rows[0]?.[1], 'SHOW CREATE DATABASE text');
  const { options } = parseCreateDatabase(createSql);
  const p = options
    .find(([k]) => k === 'PRECISION')?.[1]
    .replace(/'/g, '')
    .toLowerCase();
  let precision: Precision;
  if (isPrecision(p)) precision = p;
  else {
    const r = await client.queryAll(`SELECT \`precision\` FROM information_schema.ins_databases WHERE name = ${quoteString(db)}`, opts);
    const v = r.rows[0]?.[0];
    if (!isPrecision(v)) throw new TdProtocolError(`cannot tell the precision of database ${db}`);
    precision = v;
  }
  return { precision, options, createSql };
}

/** Super tables of a database, sorted. */
export async function listSuperTables(client: TdClient, db: string, opts: CallOptions = {}): Promise<string[]> {
  const { rows } = await client.queryAll(`SELECT stable_name FROM information_schema.ins_stables WHERE db_name = ${quoteString(db)}`, opts);
  return rows.map((r) => str(r[0], 'ins_stables.stable_name')).sort(byName);
}

/** Normal (non-child) tables of a database, sorted. */
export async function listNormalTables(client: TdClient, db: string, opts: CallOptions = {}): Promise<string[]> {
  const { rows } = await client.queryAll(
    `SELECT table_name FROM information_schema.ins_tables WHERE db_name = ${quoteString(db)} AND type = 'NORMAL_TABLE'`,
    opts,
  );
  return rows.map((r) => str(r[0], 'ins_tables.table_name')).sort(byName);
}

/** `SHOW CREATE TABLE` of a super or normal table: the DDL text (second column). */
export async function showCreate(client: TdClient, db: string, table: string, opts: CallOptions = {}): Promise<string> {
  const { rows } = await client.queryAll(`SHOW CREATE TABLE ${quoteQualified(db, table)}`, opts);
  return str(rows[0]?.[1], 'SHOW CREATE TABLE text');
}

export interface DescribedColumn extends ColumnInfo {
  /** DESCRIBE's `note`: '' for data columns, 'TAG' for tags, 'PRIMARY KEY' for a composite key. */
  readonly note: string;
}

export interface TableSchema {
  /** Data columns, the timestamp first. */
  readonly columns: readonly DescribedColumn[];
  /** Tags (super and child tables), in order. */
  readonly tags: readonly DescribedColumn[];
}

/** `DESCRIBE db.table`, read by position: field, type, length, note. */
export async function describe(client: TdClient, db: string, table: string, opts: CallOptions = {}): Promise<TableSchema> {
  const { rows } = await client.queryAll(`DESCRIBE ${quoteQualified(db, table)}`, opts);
  const columns: DescribedColumn[] = [];
  const tags: DescribedColumn[] = [];
  for (const r of rows) {
    const name = str(r[0], 'DESCRIBE field');
    const type: TdType = parseTdType(str(r[1], 'DESCRIBE type'), int(r[2], 'DESCRIBE length'));
    const note = typeof r[3] === 'string' ? r[3] : '';
    (note.toUpperCase() === 'TAG' ? tags : columns).push({ name, type, note });
  }
  if (columns[0]?.type.name !== 'TIMESTAMP') throw new TdProtocolError(`DESCRIBE ${db}.${table}: the first column is not a TIMESTAMP`);
  return { columns, tags };
}

export interface ChildTable {
  readonly name: string;
  /** Typed tag values, canonical form (timestamps as integer epochs, JSON as text). */
  readonly tags: readonly TagValue[];
}

export interface ChildTablesOptions extends CallOptions {
  /** The database precision (for TIMESTAMP tags); looked up when absent. */
  readonly precision?: Precision | undefined;
  /** The super table's tags, from {@link describe}; looked up when absent. */
  readonly tags?: readonly ColumnInfo[] | undefined;
}

/**
 * The child tables of a super table with their typed tag values, via
 * `SELECT TAGS tbname, <tags> FROM db.stb` (one row per child table, with or without data),
 * sorted by name.
 */
export async function childTables(client: TdClient, db: string, stable: string, opts: ChildTablesOptions = {}): Promise<ChildTable[]> {
  const tagCols = opts.tags ?? (await describe(client, db, stable, opts)).tags;
  if (tagCols.length === 0) throw new TdProtocolError(`${db}.${stable} has no tags: it is not a super table`);
  const precision = opts.precision ?? (await databaseOptions(client, db, opts)).precision;
  const convert = tagCols.map((t) => toCanonical(t.type, precision));
  const sql = `SELECT TAGS tbname, ${tagCols.map((t) => quoteIdent(t.name)).join(', ')} FROM ${quoteQualified(db, stable)}`;
  const res = await client.query(sql, opts);
  const out: ChildTable[] = [];
  for await (const batch of res.batches()) {
    for (const r of batch) {
      out.push({
        name: str(r[0], 'tbname'),
        tags: tagCols.map((t, i) => ({ name: t.name, type: t.type, value: convert[i]!(r[i + 1] ?? null) })),
      });
    }
  }
  return out.sort((a, b) => byName(a.name, b.name));
}

/** `SELECT SERVER_VERSION()` */
export async function serverVersion(client: TdClient, opts: CallOptions = {}): Promise<string> {
  const { rows } = await client.queryAll('SELECT SERVER_VERSION()', opts);
  return str(rows[0]?.[0], 'SERVER_VERSION()');
}

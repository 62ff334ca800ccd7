/**
 * DDL for restores: databases with the source's precision and options, super, normal and
 * child tables. Statements are generated from structured input (names through
 * {@link quoteIdent}, types through {@link typeSql}, values through the literal encoders),
 * never by splicing text read from a backup.
 */

import type { TdClient } from './client.ts';
import { type CallOptions, databaseOptions, type DatabaseOptions } from './discover.ts';
import { TdConflictError, TdInvalidInputError } from './errors.ts';
import { quoteIdent, quoteQualified } from './quote.ts';
import { type ColumnInfo, type TagValue, typeSql } from './types.ts';
import { sqlLiteralEncoder } from './values.ts';

/**
 * Options carried to a restored database by default: those of the CREATE DATABASE manual
 * (02-database.md). Edition- and version-specific ones printed by newer servers (S3_*,
 * ENCRYPT_ALGORITHM, ...) are left out so the statement works on other targets.
 */
export const PORTABLE_DATABASE_OPTIONS: readonly string[] = [
  'VGROUPS',
  'PRECISION',
  'REPLICA',
  'BUFFER',
  'PAGES',
  'PAGESIZE',
  'CACHEMODEL',
  'CACHESIZE',
  'COMP',
  'DURATION',
  'MAXROWS',
  'MINROWS',
  'KEEP',
  'KEEP_TIME_OFFSET',
  'STT_TRIGGER',
  'SINGLE_STABLE',
  'TABLE_PREFIX',
  'TABLE_SUFFIX',
  'TSDB_PAGESIZE',
  'WAL_LEVEL',
  'WAL_FSYNC_PERIOD',
  'WAL_RETENTION_PERIOD',
  'WAL_RETENTION_SIZE',
];

const OPTION_KEY = /^[A-Z][A-Z0-9_]*$/;
/** A quoted word, or comma-separated plain tokens (`3650d,3650d,3650d`, `-1`, `1m:21d`). */
const OPTION_VALUE = /^(?:'[A-Za-z0-9_.-]*'|-?[A-Za-z0-9_.:]+(?:,-?[A-Za-z0-9_.:]+)*)$/;

export interface CreateDatabaseOptions extends CallOptions {
  /** Options to carry; default {@link PORTABLE_DATABASE_OPTIONS}. PRECISION is always carried. */
  readonly include?: readonly string[] | undefined;
  /** Values replacing the source's (`{ REPLICA: '1' }`), or null to leave an option out. */
  readonly overrides?: Readonly<Record<string, string | null>> | undefined;
}

/** The `CREATE DATABASE IF NOT EXISTS` statement for `name` with the source's options. */
export function createDatabaseSql(name: string, source: DatabaseOptions, opts: CreateDatabaseOptions = {}): string {
  const include = new Set([...(opts.include ?? PORTABLE_DATABASE_OPTIONS), 'PRECISION']);
  const overrides = opts.overrides ?? {};
  if (overrides.PRECISION !== undefined) throw new TdInvalidInputError('PRECISION cannot be overridden: timestamps depend on it');
  const parts: string[] = [`PRECISION '${source.precision}'`];
  const seen = new Set(['PRECISION']);
  const push = (key: string, value: string): void => {
    if (!OPTION_KEY.test(key)) throw new TdInvalidInputError(`invalid database option name ${JSON.stringify(key)}`);
    if (!OPTION_VALUE.test(value)) throw new TdInvalidInputError(`invalid value ${JSON.stringify(value)} for database option ${key}`);
    parts.push(`${key} ${value}`);
  };
  for (const [key, value] of source.options) {
    if (seen.has(key) || !include.has(key)) continue;
    seen.add(key);
    const o = overrides[key];
    if (o === null) continue;
    push(key, o ?? value);
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (!seen.has(key) && value !== null) push(key, value);
  }
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(name)} ${parts.join(' ')}`;
}

/**
 * Creates database `name` (it may differ from the source's) with the source's precision and
 * options, unless it exists. An existing database with another precision is a
 * {@link TdConflictError}: integer timestamps would be read in the wrong unit.
 */
export async function createDatabase(
  client: TdClient,
  name: string,
  source: DatabaseOptions,
  opts: CreateDatabaseOptions = {},
): Promise<void> {
  await client.exec(createDatabaseSql(name, source, opts), opts);
  const actual = await databaseOptions(client, name, opts);
  if (actual.precision !== source.precision) {
    throw new TdConflictError(`database ${name} exists with precision '${actual.precision}', the backup's is '${source.precision}'`);
  }
}

function columnList(cols: readonly ColumnInfo[]): string {
  return cols.map((c) => `${quoteIdent(c.name)} ${typeSql(c.type)}`).join(', ');
}

function checkColumns(table: string, columns: readonly ColumnInfo[]): void {
  if (columns.length < 2) throw new TdInvalidInputError(`table ${table} needs at least two columns`);
  if (columns[0]!.type.name !== 'TIMESTAMP') throw new TdInvalidInputError(`table ${table}: the first column must be a TIMESTAMP`);
}

export function createSuperTableSql(db: string, name: string, columns: readonly ColumnInfo[], tags: readonly ColumnInfo[]): string {
  checkColumns(name, columns);
  if (tags.length === 0) throw new TdInvalidInputError(`super table ${name} needs at least one tag`);
  return `CREATE STABLE IF NOT EXISTS ${quoteQualified(db, name)} (${columnList(columns)}) TAGS (${columnList(tags)})`;
}

/** `CREATE STABLE IF NOT EXISTS` from the structure `describe` returned. */
export async function createSuperTable(
  client: TdClient,
  db: string,
  name: string,
  columns: readonly ColumnInfo[],
  tags: readonly ColumnInfo[],
  opts: CallOptions = {},
): Promise<void> {
  await client.exec(createSuperTableSql(db, name, columns, tags), opts);
}

export function createNormalTableSql(db: string, name: string, columns: readonly ColumnInfo[]): string {
  checkColumns(name, columns);
  return `CREATE TABLE IF NOT EXISTS ${quoteQualified(db, name)} (${columnList(columns)})`;
}

export async function createNormalTable(
  client: TdClient,
  db: string,
  name: string,
  columns: readonly ColumnInfo[],
  opts: CallOptions = {},
): Promise<void> {
  await client.exec(createNormalTableSql(db, name, columns), opts);
}

export function createChildTableSql(db: string, name: string, stable: string, tags: readonly TagValue[]): string {
  if (tags.length === 0) throw new TdInvalidInputError(`child table ${name} needs its tag values`);
  const names = tags.map((t) => quoteIdent(t.name)).join(', ');
  const values = tags.map((t) => sqlLiteralEncoder(t.type)(t.value)).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${quoteQualified(db, name)} USING ${quoteQualified(db, stable)} (${names}) TAGS (${values})`;
}

/**
 * `CREATE TABLE IF NOT EXISTS ... USING ... TAGS (...)` with typed tag values (from
 * `childTables`). Needed for child tables without rows; `importRows` creates the others.
 */
export async function createChildTable(
  client: TdClient,
  db: string,
  name: string,
  stable: string,
  tags: readonly TagValue[],
  opts: CallOptions = {},
): Promise<void> {
  await client.exec(createChildTableSql(db, name, stable, tags), opts);
}

/**
 * Multi-table `CREATE TABLE IF NOT EXISTS a USING ... TAGS (...) IF NOT EXISTS b USING ...`
 * statements for many child tables, each kept under `maxBytes` (TDengine refuses SQL over
 * 1 MiB): 10 000 child tables take a handful of requests instead of 10 000.
 */
export function* createChildTablesSql(
  db: string,
  children: Iterable<{ name: string; stable: string; tags: readonly TagValue[] }>,
  maxBytes: number,
): Generator<string> {
  const head = 'CREATE TABLE ';
  let sql = '';
  let size = 0;
  for (const c of children) {
    const item = createChildTableSql(db, c.name, c.stable, c.tags).slice(head.length);
    const n = Buffer.byteLength(item, 'utf8') + 1;
    if (sql !== '' && size + n > maxBytes) {
      yield sql;
      sql = '';
    }
    if (sql === '') {
      sql = head + item;
      size = head.length + n;
    } else {
      sql += ` ${item}`;
      size += n;
    }
  }
  if (sql !== '') yield sql;
}

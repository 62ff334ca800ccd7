/**
 * SQL quoting. Every identifier this package puts into SQL goes through `quoteIdent` /
 * `quoteQualified`, every string constant that cannot be a bind parameter (SET TRANSACTION
 * SNAPSHOT, utility statements) through `quoteLiteral`. Nothing from a request is spliced
 * into SQL any other way.
 */

import type { TableRef } from './types.ts';

/**
 * Quotes an identifier for PostgreSQL: always double-quoted, embedded `"` doubled, so
 * case, spaces, unicode, dots and reserved words survive. Throws `RangeError` for the
 * empty string and for NUL characters, which PostgreSQL cannot represent.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new RangeError('an SQL identifier cannot be empty');
  if (name.includes('\0')) throw new RangeError('an SQL identifier cannot contain a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`, both parts quoted by {@link quoteIdent}. */
export function quoteQualified(ref: TableRef): string;
export function quoteQualified(schema: string, name: string): string;
export function quoteQualified(refOrSchema: TableRef | string, name?: string): string {
  if (typeof refOrSchema === 'string') {
    if (name === undefined) throw new TypeError('quoteQualified(schema, name) needs a name');
    return `${quoteIdent(refOrSchema)}.${quoteIdent(name)}`;
  }
  return `${quoteIdent(refOrSchema.schema)}.${quoteIdent(refOrSchema.name)}`;
}

/**
 * Quotes a string constant. Embedded `'` are doubled; when the value holds a backslash the
 * escape-string form `E'...'` is used with backslashes doubled, so the result means the same
 * whatever `standard_conforming_strings` is set to.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new RangeError('an SQL string constant cannot contain a NUL character');
  const body = value.replaceAll("'", "''");
  if (!value.includes('\\')) return `'${body}'`;
  return `E'${body.replaceAll('\\', '\\\\')}'`;
}

/** `"c1", "c2", ...` for a column list (empty string for no columns). */
export function quoteColumnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/**
 * A libpq connection-string value (`key='value'`), for passing a database name to the
 * command-line tools without it ever being read as a URL or `key=value` list.
 */
export function conninfoValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Which COPY format a table's data travels in.
 *
 * `text` is what pg_dump writes: portable, readable, accepted into any compatible column
 * type. `binary` is PostgreSQL's binary COPY format: the server parses it with each type's
 * binary receive function instead of its text input function, which on a restore costs the
 * server about half the CPU for numeric, timestamp and bytea heavy tables (on the bench's
 * 10 M-row tick table: 9.8 s against 20.3 s of COPY FROM), and exports cost the same.
 *
 * Binary data is only as portable as its types' binary representations, so it is used only
 * for tables whose every copied column has a type from {@link BINARY_SAFE_TYPES}: built-in
 * types whose binary form carries no database-specific OID and whose receive function
 * accepts exactly what the send function of the same type wrote on any supported server
 * version. Everything else (enums, domains, composites, extension types, xml, reg* types,
 * arrays of any of them) keeps a table in text format.
 */

export type CopyFormat = 'text' | 'binary';

/**
 * pg_catalog type names (typname) allowed in binary COPY, scalar and array (`_`) alike.
 * Left out on purpose:
 * - reg* types (regclass, regtype, ...): their binary form is an OID, which names another
 *   object (or none) in the target database; their text form is the name;
 * - xml: its binary input re-parses the document under encoding rules of its own;
 * - jsonpath, tsquery, multiranges, system types (tid, xid, xid8, cid, pg_snapshot,
 *   txid_snapshot, aclitem...): rare in user tables, and not worth a format of their own;
 * - every type outside pg_catalog: enums, domains, composites and arrays of them carry or
 *   need OIDs that differ between databases; extension types are not ours to vouch for.
 */
export const BINARY_SAFE_TYPES: readonly string[] = [
  'bool',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'money',
  'oid',
  'text',
  'varchar',
  'bpchar',
  'name',
  'char',
  'bytea',
  'date',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'interval',
  'uuid',
  'json',
  'jsonb',
  'inet',
  'cidr',
  'macaddr',
  'macaddr8',
  'bit',
  'varbit',
  'point',
  'line',
  'lseg',
  'box',
  'path',
  'polygon',
  'circle',
  'int4range',
  'int8range',
  'numrange',
  'tsrange',
  'tstzrange',
  'daterange',
  'tsvector',
  'pg_lsn',
].flatMap((t) => [t, `_${t}`]);

/**
 * SQL boolean on `c` (pg_class): every column COPY moves (`columnsFilter`, the same
 * predicate on `a` as the column list) has a type of BINARY_SAFE_TYPES. A table without
 * columns qualifies. The list is inlined as a literal: the names are ours, not a request's.
 */
export function binaryCopySafeSql(columnsFilter: string): string {
  const names = `'{${BINARY_SAFE_TYPES.join(',')}}'::text[]`;
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND ${columnsFilter}
    AND a.atttypid NOT IN (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace AND t.typname = ANY (${names})))`;
}

/** The `WITH (...)` clause of a COPY in `format` ('' for text, COPY's default). */
export function copyWithClause(format: CopyFormat): string {
  return format === 'binary' ? ' WITH (FORMAT binary)' : '';
}

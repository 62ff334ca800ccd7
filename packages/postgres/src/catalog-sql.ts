/** Catalog query fragments shared by discovery, the snapshot session and comparisons. */

/** Schema holding the restore ledger; never backed up, never compared. */
export const LEDGER_SCHEMA = '_bk_restore';

/**
 * Predicate on `n` (pg_namespace) selecting user schemas: not pg_catalog, pg_toast*,
 * pg_temp* (all `pg_` names are reserved for the system), information_schema, nor the
 * restore ledger.
 */
export const USER_SCHEMA_SQL = `(n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname <> '${LEDGER_SCHEMA}')`;

/** Predicate on `c` (pg_class): the relation is not a member of an extension. */
export const NOT_EXTENSION_MEMBER_SQL = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/**
 * Column names of relation `c` that COPY moves, in attnum order, as text[]: not dropped,
 * not generated (stored or virtual). Identity columns are included.
 */
export function copyColumnsSql(serverVersionNum: number): string {
  return `COALESCE((SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND ${copiedColumnSql(serverVersionNum)}), '{}'::text[])`;
}

/** Predicate on `a` (pg_attribute): a column COPY moves (see {@link copyColumnsSql}). */
export function copiedColumnSql(serverVersionNum: number): string {
  const notGenerated = serverVersionNum >= 120000 ? ` AND a.attgenerated = ''` : '';
  return `a.attnum > 0 AND NOT a.attisdropped${notGenerated}`;
}

/** Parent relation of `c` (partition parent or first inheritance parent) as schema / name. */
export const PARENT_SQL = `(SELECT pn.nspname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid ORDER BY i.inhseqno LIMIT 1) AS parent_schema,
  (SELECT p.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid ORDER BY i.inhseqno LIMIT 1) AS parent_name`;

/**
 * Checking a restore: content hashes of tables and a catalog-level comparison of two
 * databases. Used by the fidelity test and by restore drills.
 */

import type { Client } from 'pg';
import { NOT_EXTENSION_MEMBER_SQL, USER_SCHEMA_SQL } from './catalog-sql.ts';
import { withClient } from './connection.ts';
import { quoteQualified } from './quote.ts';
import { tableKey, type TableRef } from './types.ts';

interface Signalled {
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

export interface TableContentHash {
  readonly rows: number;
  /** Hex digest; equal for equal multisets of rows. */
  readonly hash: string;
}

/**
 * SQL computing `{n, hash}` for one relation (see {@link tableContentHash}).
 *
 * Each row is rendered with its type's output functions (`ROW(r.*)::text`, under the
 * canonical session settings) and digested with md5; the table's hash combines the digests
 * by adding them up (as two signed 64-bit halves, summed in numeric: exact, no overflow)
 * with the row count. Why this and not `md5(string_agg(t::text, ... ORDER BY t::text))`:
 * - every type has a text output, while many (json, xml, point, ...) have no ordering or
 *   equality, so nothing here needs one;
 * - a sum does not depend on row order, so no sort and no collation is involved, and the
 *   1 GB limit of one string never is: the whole table is one streaming aggregate on the
 *   server (work and memory O(1) per row);
 * - the record text is unambiguous (NULL vs empty string vs '\N', quoting), a row of a table
 *   without columns is `()` and the count keeps those rows and duplicates apart;
 * - `ROW(r.*)` refers to the alias even if a column is named like it.
 * A sum of digests is not collision resistant against an adversary; it is for fidelity
 * checks, not integrity protection (the backup's SHA-256 objects are that).
 */
export function contentHashSql(rel: TableRef): string {
  return `SELECT n::text AS n, pg_catalog.md5(n::text || ':' || hi::text || ':' || lo::text) AS hash FROM (
    SELECT count(*) AS n,
           COALESCE(sum(('x' || pg_catalog.substr(h, 1, 16))::bit(64)::bigint::numeric), 0) AS hi,
           COALESCE(sum(('x' || pg_catalog.substr(h, 17, 16))::bit(64)::bigint::numeric), 0) AS lo
      FROM (SELECT pg_catalog.md5(ROW(r.*)::text) AS h FROM ONLY ${quoteQualified(rel)} AS r) AS rows_
  ) AS agg`;
}

async function hashOn(client: Client, table: TableRef): Promise<TableContentHash> {
  const r = await client.query<{ n: string; hash: string }>(contentHashSql(table));
  const row = r.rows[0];
  return { rows: Number(row?.n ?? 0), hash: row?.hash ?? '' };
}

/**
 * A deterministic hash of the rows of one table (its own rows: `FROM ONLY`) and their count.
 * Two tables have the same hash when they hold the same multiset of rows, values compared
 * by their text form. See {@link contentHashSql} for the method and why.
 */
export async function tableContentHash(url: string, table: TableRef, opts: Signalled = {}): Promise<TableContentHash> {
  return withClient(url, { ...opts, canonical: true, applicationName: 'bk-verify' }, (client) => hashOn(client, table));
}

export type DifferenceKind =
  | 'schema'
  | 'type'
  | 'table'
  | 'column'
  | 'rows'
  | 'content'
  | 'sequence'
  | 'view'
  | 'function'
  | 'index'
  | 'constraint'
  | 'trigger'
  | 'policy'
  | 'rule';

/** One difference: `a` / `b` are the normalised descriptions, null where the object is missing. */
export interface DatabaseDifference {
  readonly kind: DifferenceKind;
  readonly object: string;
  readonly a: string | null;
  readonly b: string | null;
}

export interface CompareOptions extends Signalled {
  /**
   * Compare only these tables (their definitions, columns, rows, content, indexes,
   * constraints, triggers, policies and rules), e.g. after a selective restore; database-wide
   * objects (schemas, types, views, functions, sequences) are then not compared.
   */
  readonly tables?: readonly TableRef[] | undefined;
  /** Skip row counts and content hashes (catalog only). Default false. */
  readonly skipData?: boolean | undefined;
}

type Description = Map<DifferenceKind, Map<string, string>>;

interface Row {
  kind: DifferenceKind;
  key: string;
  value: string;
  schema: string | null;
  rel: string | null;
}

/**
 * Catalog queries, each returning `(key, value, schema, rel)`: `key` names the object
 * (schema-qualified, as printed with an empty search_path), `value` its normalised
 * definition from pg_get_*def / format_type, `schema` / `rel` the table it belongs to (for
 * the `tables` restriction).
 */
const DISPLAY_NAME_SQL = `pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)`;

function catalogQueries(): { kind: DifferenceKind; sql: string }[] {
  const relName = DISPLAY_NAME_SQL;
  return [
    {
      kind: 'schema',
      sql: `SELECT pg_catalog.quote_ident(n.nspname) AS key, pg_catalog.pg_get_userbyid(n.nspowner) AS value, NULL AS schema, NULL AS rel
              FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA_SQL}`,
    },
    {
      kind: 'type',
      sql: `SELECT t.oid::pg_catalog.regtype::text AS key,
                   pg_catalog.json_build_object(
                     'type', t.typtype,
                     'enum', (SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
                     'base', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
                     'notnull', t.typnotnull, 'default', t.typdefault,
                     'attrs', (SELECT pg_catalog.array_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                                 FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
                     'range', (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
                     'owner', pg_catalog.pg_get_userbyid(t.typowner))::text AS value,
                   NULL AS schema, NULL AS rel
              FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE ${USER_SCHEMA_SQL} AND t.typtype IN ('e', 'd', 'c', 'r', 'm', 'b')
               AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.typarray = t.oid)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e')`,
    },
    {
      kind: 'table',
      sql: `SELECT ${relName} AS key,
                   pg_catalog.json_build_object(
                     'kind', c.relkind, 'persistence', c.relpersistence,
                     'partkey', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
                     'bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                     'parents', (SELECT pg_catalog.array_agg(i.inhparent::pg_catalog.regclass::text ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
                     'options', c.reloptions, 'rls', c.relrowsecurity, 'forcerls', c.relforcerowsecurity,
                     'owner', pg_catalog.pg_get_userbyid(c.relowner), 'acl', c.relacl::text,
                     'comment', pg_catalog.obj_description(c.oid, 'pg_class'))::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'f') AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    },
    {
      kind: 'column',
      sql: `SELECT ${relName} || '.' || pg_catalog.quote_ident(a.attname) AS key,
                   pg_catalog.json_build_object(
                     'position', pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                     'type', pg_catalog.format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull,
                     'default', pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), 'identity', a.attidentity, 'generated', a.attgenerated,
                     'collation', CASE WHEN a.attcollation <> t.typcollation THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(cl.collname)
                       FROM pg_catalog.pg_collation cl JOIN pg_catalog.pg_namespace cn ON cn.oid = cl.collnamespace WHERE cl.oid = a.attcollation) END,
                     'local', a.attislocal, 'inhcount', a.attinhcount, 'storage', a.attstorage,
                     'comment', pg_catalog.col_description(c.oid, a.attnum))::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_attribute a
              JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
               AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    },
    {
      kind: 'view',
      sql: `SELECT ${relName} AS key,
                   pg_catalog.json_build_object('kind', c.relkind, 'definition', pg_catalog.pg_get_viewdef(c.oid, true), 'options', c.reloptions,
                     'owner', pg_catalog.pg_get_userbyid(c.relowner))::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    },
    {
      kind: 'sequence',
      sql: `SELECT ${relName} AS key,
                   pg_catalog.json_build_object('type', pg_catalog.format_type(s.seqtypid, NULL), 'start', s.seqstart, 'increment', s.seqincrement,
                     'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle,
                     'owned_by', (SELECT d.refobjid::pg_catalog.regclass::text || '.' || d.refobjsubid FROM pg_catalog.pg_depend d
                                   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') LIMIT 1))::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
             WHERE c.relkind = 'S' AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    },
    {
      kind: 'function',
      sql: `SELECT p.oid::pg_catalog.regprocedure::text AS key,
                   CASE WHEN p.prokind = 'a'
                        THEN pg_catalog.json_build_object('aggregate', a.aggtransfn::text, 'final', a.aggfinalfn::text,
                               'stype', pg_catalog.format_type(a.aggtranstype, NULL), 'init', a.agginitval)::text
                        ELSE pg_catalog.pg_get_functiondef(p.oid) END
                   || ' owner=' || pg_catalog.pg_get_userbyid(p.proowner) AS value,
                   NULL AS schema, NULL AS rel
              FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              LEFT JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
             WHERE ${USER_SCHEMA_SQL}
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')`,
    },
    {
      kind: 'index',
      sql: `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ic.relname) AS key,
                   pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisclustered THEN ' CLUSTERED' ELSE '' END
                     || CASE WHEN i.indisreplident THEN ' REPLICA IDENTITY' ELSE '' END AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_index i
              JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    },
    {
      kind: 'constraint',
      // Constraints cloned from a parent's (a foreign key to a partitioned table has one per
      // partition) get generated names that depend on creation order: those are keyed by the
      // parent constraint's name and their definition instead.
      sql: `SELECT COALESCE(${relName}, CASE WHEN co.contypid <> 0 THEN co.contypid::pg_catalog.regtype::text END, '?') || ' ' ||
                   CASE WHEN co.conparentid = 0 THEN pg_catalog.quote_ident(co.conname)
                        ELSE (WITH RECURSIVE up(parentid, name) AS (
                                SELECT co.conparentid, co.conname
                                UNION ALL
                                SELECT p.conparentid, p.conname FROM pg_catalog.pg_constraint p JOIN up ON p.oid = up.parentid)
                              SELECT pg_catalog.quote_ident(name) FROM up WHERE parentid = 0)
                             || ' clone: ' || pg_catalog.pg_get_constraintdef(co.oid, true) END AS key,
                   co.contype::text || ' ' || pg_catalog.pg_get_constraintdef(co.oid, true) || CASE WHEN co.convalidated THEN '' ELSE ' NOT VALIDATED' END
                     || CASE WHEN co.conislocal THEN '' ELSE ' INHERITED' END AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_constraint co
              JOIN pg_catalog.pg_namespace cn ON cn.oid = co.connamespace
              LEFT JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
              LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE cn.nspname !~ '^pg_' AND cn.nspname <> 'information_schema' AND cn.nspname <> '_bk_restore'`,
    },
    {
      kind: 'trigger',
      sql: `SELECT ${relName} || ' ' || pg_catalog.quote_ident(tg.tgname) AS key,
                   pg_catalog.pg_get_triggerdef(tg.oid, true) || ' enabled=' || tg.tgenabled::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_trigger tg
              JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT tg.tgisinternal AND ${USER_SCHEMA_SQL}`,
    },
    {
      kind: 'policy',
      sql: `SELECT ${relName} || ' ' || pg_catalog.quote_ident(po.polname) AS key,
                   pg_catalog.json_build_object('cmd', po.polcmd, 'permissive', po.polpermissive,
                     'roles', (SELECT pg_catalog.array_agg(x ORDER BY x) FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END AS x FROM pg_catalog.unnest(po.polroles) AS r) AS roles_),
                     'using', pg_catalog.pg_get_expr(po.polqual, po.polrelid), 'check', pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid))::text AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_policy po
              JOIN pg_catalog.pg_class c ON c.oid = po.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE ${USER_SCHEMA_SQL}`,
    },
    {
      kind: 'rule',
      sql: `SELECT ${relName} || ' ' || pg_catalog.quote_ident(ru.rulename) AS key, pg_catalog.pg_get_ruledef(ru.oid, true) AS value,
                   n.nspname AS schema, c.relname AS rel
              FROM pg_catalog.pg_rewrite ru
              JOIN pg_catalog.pg_class c ON c.oid = ru.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE ru.rulename <> '_RETURN' AND ${USER_SCHEMA_SQL}`,
    },
  ];
}

const TABLE_SCOPED: ReadonlySet<DifferenceKind> = new Set([
  'table',
  'column',
  'rows',
  'content',
  'index',
  'constraint',
  'trigger',
  'policy',
  'rule',
]);

async function describeDatabase(client: Client, opts: CompareOptions): Promise<Description> {
  const only = opts.tables ? new Set(opts.tables.map(tableKey)) : undefined;
  const out: Description = new Map();
  const put = (kind: DifferenceKind, key: string, value: string): void => {
    let m = out.get(kind);
    if (!m) out.set(kind, (m = new Map<string, string>()));
    m.set(key, value);
  };
  const inScope = (kind: DifferenceKind, schema: string | null, rel: string | null): boolean => {
    if (!only) return true;
    if (!TABLE_SCOPED.has(kind)) return false;
    return schema !== null && rel !== null && only.has(tableKey({ schema, name: rel }));
  };
  for (const q of catalogQueries()) {
    const r = await client.query<Row>(q.sql);
    for (const row of r.rows) if (inScope(q.kind, row.schema, row.rel)) put(q.kind, row.key, row.value ?? 'null');
  }
  if (!only) {
    const seqs = await client.query<{ schema: string; name: string; key: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, ${DISPLAY_NAME_SQL} AS key
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    );
    for (const s of seqs.rows) {
      const v = await client.query<{ v: string }>(
        `SELECT last_value::text || CASE WHEN is_called THEN ' called' ELSE ' not called' END AS v FROM ${quoteQualified(s)}`,
      );
      put('sequence', `${s.key} value`, v.rows[0]?.v ?? 'null');
    }
  }
  if (!opts.skipData) {
    const rels = await client.query<{ schema: string; name: string; key: string; populated: boolean }>(
      `SELECT n.nspname AS schema, c.relname AS name, ${DISPLAY_NAME_SQL} AS key, c.relispopulated AS populated
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}`,
    );
    for (const t of rels.rows) {
      if (!inScope('rows', t.schema, t.name)) continue;
      const key = t.key;
      if (!t.populated) {
        put('rows', key, 'not populated');
        continue;
      }
      const h = await hashOn(client, t);
      put('rows', key, String(h.rows));
      put('content', key, h.hash);
    }
  }
  return out;
}

/**
 * Compares two databases (usually on the same server) and lists every difference in:
 * schemas; user types (enums with label order, domains, composites, ranges); tables
 * (kind, persistence, partition key and bounds, inheritance parents, options, row security,
 * owner, ACL, comment); columns (position, type, NOT NULL, default, identity, generated,
 * collation, inheritance, comment); row counts and content hashes of every table and
 * materialized view ({@link contentHashSql}); sequences (definition, owner column, current
 * value); views and materialized views (pg_get_viewdef); functions, procedures and
 * aggregates (pg_get_functiondef); indexes (pg_get_indexdef); constraints including domain
 * constraints (pg_get_constraintdef, validity); triggers; policies; rules. Definitions are
 * taken with an empty search_path so every name in them is schema-qualified; OIDs never
 * appear. An empty array means the databases match. Extension members and the restore
 * ledger are ignored.
 */
export async function compareDatabases(urlA: string, urlB: string, opts: CompareOptions = {}): Promise<DatabaseDifference[]> {
  const describe = (url: string): Promise<Description> =>
    withClient(url, { ...opts, canonical: true, applicationName: 'bk-verify' }, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      try {
        return await describeDatabase(client, opts);
      } finally {
        await client.query('COMMIT').catch(() => undefined);
      }
    });
  const [a, b] = await Promise.all([describe(urlA), describe(urlB)]);
  const diffs: DatabaseDifference[] = [];
  const kinds = new Set<DifferenceKind>([...a.keys(), ...b.keys()]);
  for (const kind of kinds) {
    const ma = a.get(kind) ?? new Map<string, string>();
    const mb = b.get(kind) ?? new Map<string, string>();
    const keys = [...new Set([...ma.keys(), ...mb.keys()])].sort();
    for (const key of keys) {
      const va = ma.get(key) ?? null;
      const vb = mb.get(key) ?? null;
      if (va !== vb) diffs.push({ kind, object: key, a: va, b: vb });
    }
  }
  return diffs;
}

/**
 * A database's structure for a backup, every listing cross-checked. REST truncates silently
 * (`restfulRowLimit`, or a fetch error taosAdapter still ends with code 0), and a truncated
 * listing is worse than a truncated page: the tables it leaves out are never exported, and
 * no row count would notice. So each list is compared with a `COUNT(*)` over the same
 * system table, and `DESCRIBE` with the column (and tag) counts of `information_schema`.
 */

import type { TdClient } from './client.ts';
import {
  type CallOptions,
  type ChildTable,
  childTables,
  databaseOptions,
  describe,
  listNormalTables,
  listSuperTables,
} from './discover.ts';
import type { DatabaseOptions } from './discover.ts';
import { TdProtocolError } from './errors.ts';
import { quoteQualified, quoteString } from './quote.ts';
import type { ColumnInfo } from './types.ts';

/** `SELECT COUNT(*) ...`: exactly one integer, or an error (an empty answer is not zero). */
export async function countOf(client: TdClient, sql: string, opts: CallOptions = {}): Promise<number> {
  const { rows } = await client.queryAll(sql, opts);
  const v = rows[0]?.[0];
  if (rows.length !== 1 || typeof v !== 'string' || !/^\d+$/.test(v))
    throw new TdProtocolError(`${sql.slice(0, 120)}: expected one count, got ${JSON.stringify(rows).slice(0, 80)}`);
  return Number(v);
}

export interface CheckedDatabase {
  readonly options: DatabaseOptions;
  readonly stables: { name: string; columns: readonly ColumnInfo[]; tags: readonly ColumnInfo[]; children: ChildTable[] }[];
  readonly tables: { name: string; columns: readonly ColumnInfo[] }[];
  /** Super and normal tables that exist, whether chosen or not. */
  readonly allTables: readonly string[];
}

function mismatch(what: string, listed: number, counted: number): never {
  throw new TdProtocolError(
    `${what}: the listing returned ${listed} but information_schema counts ${counted}; the server truncated the answer ` +
      `(restfulRowLimit, or a fetch error ended with code 0) or the structure changed while it was read`,
  );
}

/** Reads the structure of `db` (limited to the `only` super/normal tables when given), checked. */
export async function readDatabaseChecked(
  client: TdClient,
  db: string,
  only: ReadonlySet<string> | undefined,
  opts: CallOptions = {},
): Promise<CheckedDatabase> {
  const q = quoteString(db);
  const options = await databaseOptions(client, db, opts);
  const { precision } = options;
  const stableNames = await listSuperTables(client, db, opts);
  const nStables = await countOf(client, `SELECT COUNT(*) FROM information_schema.ins_stables WHERE db_name = ${q}`, opts);
  if (nStables !== stableNames.length) mismatch(`super tables of ${db}`, stableNames.length, nStables);
  const normalNames = await listNormalTables(client, db, opts);
  const nNormal = await countOf(
    client,
    `SELECT COUNT(*) FROM information_schema.ins_tables WHERE db_name = ${q} AND type = 'NORMAL_TABLE'`,
    opts,
  );
  if (nNormal !== normalNames.length) mismatch(`normal tables of ${db}`, normalNames.length, nNormal);

  const columnsChecked = async (table: string): Promise<{ columns: readonly ColumnInfo[]; tags: readonly ColumnInfo[] }> => {
    const s = await describe(client, db, table, opts);
    const n = await countOf(
      client,
      `SELECT COUNT(*) FROM information_schema.ins_columns WHERE db_name = ${q} AND table_name = ${quoteString(table)}`,
      opts,
    );
    if (n !== s.columns.length) mismatch(`columns of ${db}.${table}`, s.columns.length, n);
    return s;
  };

  const stables: CheckedDatabase['stables'] = [];
  for (const name of stableNames.filter((n) => !only || only.has(n))) {
    const s = await columnsChecked(name);
    const children = await childTables(client, db, name, { ...opts, precision, tags: s.tags });
    const st = quoteString(name);
    const n = await countOf(
      client,
      `SELECT COUNT(*) FROM information_schema.ins_tables WHERE db_name = ${q} AND stable_name = ${st}`,
      opts,
    );
    if (n !== children.length) mismatch(`child tables of ${db}.${name}`, children.length, n);
    if (n > 0) {
      // A DESCRIBE cut short loses the tags first (they come last): every child has every tag.
      const tags = await countOf(
        client,
        `SELECT COUNT(*) FROM information_schema.ins_tags WHERE db_name = ${q} AND stable_name = ${st}`,
        opts,
      );
      if (tags !== n * s.tags.length) mismatch(`tags of ${db}.${name} (${n} child tables)`, n * s.tags.length, tags);
    }
    stables.push({ name, columns: s.columns, tags: s.tags, children });
  }
  const tables: CheckedDatabase['tables'] = [];
  for (const name of normalNames.filter((n) => !only || only.has(n))) tables.push({ name, columns: (await columnsChecked(name)).columns });
  return { options, stables, tables, allTables: [...stableNames, ...normalNames] };
}

/** Rows per child table of a super table (`PARTITION BY TBNAME`; children without rows are absent). */
export async function rowsPerChildTable(
  client: TdClient,
  db: string,
  stable: string,
  opts: CallOptions = {},
): Promise<Map<string, number>> {
  const { rows } = await client.queryAll(`SELECT TBNAME, COUNT(*) FROM ${quoteQualified(db, stable)} PARTITION BY TBNAME`, opts);
  return new Map(rows.map((r) => [String(r[0]), Number(r[1])]));
}

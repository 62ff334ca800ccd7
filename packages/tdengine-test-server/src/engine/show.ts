/** SHOW ... and DESCRIBE statements. */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { QName, Statement } from '../sql/ast.ts';
import { type Catalog, SYSTEM_DATABASES } from './catalog.ts';
import { createStableDdl, createTableDdl, DESCRIBE_COLUMNS, describeRows } from './ddl.ts';
import { showCreateDatabase } from './dboptions.ts';
import { likeRegex } from './expr.ts';
import { type RowsResult, rowsResult } from './result.ts';
import { executeSelect, type QueryContext } from './select.ts';
import { systemTable } from './system.ts';
import { dataType, type Value } from './types.ts';

export interface ShowOptions {
  /** appended to SHOW CREATE STABLE output, e.g. "SECURITY_LEVEL 0 SECURE_DELETE 0" (newest builds) */
  readonly stableDdlSuffix: string;
}

type ShowStatement = Extract<
  Statement,
  {
    kind:
      | 'showDatabases'
      | 'showStables'
      | 'showTables'
      | 'showCreateDatabase'
      | 'showCreateStable'
      | 'showCreateTable'
      | 'showTableTags'
      | 'showTags'
      | 'describe';
  }
>;

const NAME_192 = dataType('VARCHAR', 192);

function tableNotExist(name: string): TaosError {
  return new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${name}`);
}

function matches(like: string | undefined, name: string): boolean {
  return like === undefined || likeRegex(like).test(name);
}

export function executeShow(stmt: ShowStatement, qc: QueryContext, opts: ShowOptions): RowsResult {
  const catalog: Catalog = qc.catalog;
  switch (stmt.kind) {
    case 'showDatabases': {
      const t = systemTable(catalog, 'information_schema', 'ins_databases');
      return rowsResult(t.columns, t.rows);
    }
    case 'showStables': {
      const db = catalog.database(stmt.db, qc.defaultDb);
      const rows = [...db.stables.keys()].filter((n) => matches(stmt.like, n)).map((n): Value[] => [n]);
      return rowsResult([{ name: 'stable_name', type: NAME_192 }], rows);
    }
    case 'showTables': {
      const db = catalog.database(stmt.db, qc.defaultDb);
      const rows: Value[][] = [];
      for (const t of db.tables.values()) {
        if (stmt.filter === 'normal' && t.stable) continue;
        if (stmt.filter === 'child' && !t.stable) continue;
        if (matches(stmt.like, t.name)) rows.push([t.name]);
      }
      return rowsResult([{ name: 'table_name', type: NAME_192 }], rows);
    }
    case 'showCreateDatabase': {
      const cols = [
        { name: 'Database', type: dataType('VARCHAR', 64) },
        { name: 'Create Database', type: dataType('VARCHAR', 65517) },
      ];
      if ((SYSTEM_DATABASES as readonly string[]).includes(stmt.name)) {
        return rowsResult(cols, [[stmt.name, `CREATE DATABASE \`${stmt.name}\``]]);
      }
      const db = catalog.database(stmt.name, undefined);
      return rowsResult(cols, [[db.name, showCreateDatabase(db.name, db.options)]]);
    }
    case 'showCreateStable':
    case 'showCreateTable': {
      const cols = [
        { name: 'Table', type: NAME_192 },
        { name: 'Create Table', type: dataType('VARCHAR', 65517) },
      ];
      const db = catalog.database(stmt.name.db, qc.defaultDb);
      const st = db.stables.get(stmt.name.name);
      if (st) return rowsResult(cols, [[st.name, createStableDdl(st, opts.stableDdlSuffix)]]);
      const t = db.tables.get(stmt.name.name);
      if (!t) throw tableNotExist(stmt.name.name);
      if (stmt.kind === 'showCreateStable') throw new TaosError(TaosCode.TSC_NOT_STABLE_ERROR);
      return rowsResult(cols, [[t.name, createTableDdl(t)]]);
    }
    case 'showTableTags':
      return showTableTags(stmt.table, stmt.tagNames, qc);
    case 'showTags': {
      const db = catalog.database(stmt.table.db, qc.defaultDb);
      const t = db.tables.get(stmt.table.name);
      if (!t) throw tableNotExist(stmt.table.name);
      const all = systemTable(catalog, 'information_schema', 'ins_tags');
      const rows = all.rows.filter((r) => r[0] === t.name && r[1] === db.name);
      return rowsResult(all.columns, rows);
    }
    case 'describe': {
      const db = catalog.database(stmt.name.db, qc.defaultDb);
      const st = db.stables.get(stmt.name.name);
      if (st) return rowsResult(DESCRIBE_COLUMNS, describeRows(st.columns, st.tags));
      const t = db.tables.get(stmt.name.name);
      if (!t) throw tableNotExist(stmt.name.name);
      return rowsResult(DESCRIBE_COLUMNS, describeRows(t.columns, t.stable?.tags ?? []));
    }
  }
}

/** SHOW TABLE TAGS [t1, ...] FROM stb ≡ SELECT TAGS tbname, t1, ... FROM stb. */
function showTableTags(table: QName, tagNames: readonly string[] | undefined, qc: QueryContext): RowsResult {
  const db = qc.catalog.database(table.db, qc.defaultDb);
  const st = db.stables.get(table.name) ?? db.tables.get(table.name)?.stable;
  if (!st) {
    if (db.tables.has(table.name)) throw new TaosError(TaosCode.TSC_NOT_STABLE_ERROR);
    throw tableNotExist(table.name);
  }
  const names = ['tbname', ...(tagNames ?? st.tags.map((t) => t.name))];
  return executeSelect(
    {
      kind: 'select',
      distinct: false,
      tags: true,
      items: names.map((n) => ({ k: 'expr', expr: { k: 'col', qualifier: undefined, name: n }, alias: undefined, text: n })),
      from: { table: { db: db.name, name: table.name }, alias: undefined },
      where: undefined,
      partitionBy: [],
      orderBy: [],
      limit: undefined,
      offset: 0,
    },
    qc,
  );
}

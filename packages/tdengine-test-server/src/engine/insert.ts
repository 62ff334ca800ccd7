/**
 * INSERT for the TDengine REST test server: multi-table, with `USING stb TAGS (...)`
 * auto-creation, column lists, and the super-table form `INSERT INTO stb(tbname, ...)`.
 *
 * Rows are converted and written as the parser produces them (no AST of the whole 1 MiB
 * statement, no staging copies). Like taosc, a statement with a bad value or an unknown
 * table writes nothing: every write is recorded in an undo log that is replayed on error.
 */
import { syntaxError, TaosCode, TaosError } from '../protocol/errors.ts';
import type { Expr, InsertItem, QName } from '../sql/ast.ts';
import type { Catalog, Database, SuperTable, Table } from './catalog.ts';
import { createChildTable, convertTags } from './schema.ts';
import { UndoLog } from './storage.ts';
import type { TimeZone } from './time.ts';
import { dataType, type ColumnDef, type Value } from './types.ts';
import { converter, toValue, valueContext, type ValueContext } from './values.ts';

export interface InsertContext {
  readonly catalog: Catalog;
  readonly defaultDb: string | undefined;
  readonly tz: TimeZone;
  readonly uid: () => bigint;
}

function tableNotExist(name: string): TaosError {
  return new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${name}`);
}

class InsertExecutor {
  rows = 0;
  private readonly contexts = new Map<Database, ValueContext>();

  constructor(
    private readonly ic: InsertContext,
    private readonly undo: UndoLog,
  ) {}

  private vctx(db: Database): ValueContext {
    let c = this.contexts.get(db);
    if (!c) {
      c = valueContext(db.precision, this.ic.tz);
      this.contexts.set(db, c);
    }
    return c;
  }

  private stableOf(q: QName, fallbackDb: string | undefined): SuperTable {
    const db = this.ic.catalog.database(q.db ?? fallbackDb, this.ic.defaultDb);
    const st = db.stables.get(q.name);
    if (!st) throw tableNotExist(q.name);
    return st;
  }

  /** The table an item writes to, created from USING ... TAGS when missing. */
  private target(db: Database, name: string, using: { stable: SuperTable; tags: () => Value[] } | undefined): Table {
    const existing = db.tables.get(name);
    if (existing) {
      // USING never changes the tags of an existing table
      if (using && existing.stable !== using.stable) throw new TaosError(TaosCode.TDB_TABLE_IN_OTHER_STABLE);
      return existing;
    }
    if (!using) throw tableNotExist(name);
    if (db.stables.has(name)) throw new TaosError(TaosCode.TDB_TABLE_ALREADY_EXIST);
    const st = using.stable;
    const t = createChildTable(db, name, st, using.tags(), this.ic.uid(), undefined, undefined);
    this.undo.push(() => {
      db.tables.delete(name);
      st.children.delete(name);
    });
    return t;
  }

  run(item: InsertItem): void {
    const db = this.ic.catalog.database(item.table.db, this.ic.defaultDb);
    const vctx = this.vctx(db);
    const st = db.stables.get(item.table.name);
    if (st && !item.using) {
      this.superTableForm(db, st, item, vctx);
      return;
    }
    let using: { stable: SuperTable; tags: () => Value[] } | undefined;
    if (item.using) {
      const u = item.using;
      const stable = this.stableOf(u.stable, item.table.db);
      using = { stable, tags: () => convertTags(stable, u.tagNames, u.tagValues, vctx) };
    }
    const table = this.target(db, item.table.name, using);
    this.write(table, columnMap(table.columns, item.columns), item.rows, vctx);
  }

  /** `INSERT INTO stb(tbname, tags..., cols...) VALUES (...)`: the table comes from each row. */
  private superTableForm(db: Database, st: SuperTable, item: InsertItem, vctx: ValueContext): void {
    const names = item.columns;
    if (!names || !names.includes('tbname')) throw tableNotExist(item.table.name);
    const tbIdx = names.indexOf('tbname');
    const tagPos: number[] = [];
    const tagNames: string[] = [];
    const colNames: string[] = [];
    const colPos: number[] = [];
    names.forEach((n, i) => {
      if (i === tbIdx) return;
      if (st.tags.some((t) => t.name === n)) {
        tagNames.push(n);
        tagPos.push(i);
      } else {
        colNames.push(n);
        colPos.push(i);
      }
    });
    const map = columnMap(st.columns, colNames);
    const tbType = dataType('VARCHAR', 192);
    for (const row of item.rows) {
      if (row.length !== names.length) throw new TaosError(TaosCode.PAR_INCORRECT_NUM_OF_COL);
      const tb = toValue(row[tbIdx]!, tbType, vctx);
      if (typeof tb !== 'string' || tb === '') throw syntaxError(String(tb), 'invalid tbname');
      const table = this.target(db, tb, {
        stable: st,
        tags: () =>
          convertTags(
            st,
            tagNames,
            tagPos.map((p) => row[p]!),
            vctx,
          ),
      });
      this.write(table, map, [colPos.map((p) => row[p]!)], vctx);
    }
  }

  private write(table: Table, map: readonly number[], rows: Iterable<readonly Expr[]>, vctx: ValueContext): void {
    const columns: readonly ColumnDef[] = table.columns;
    const data = table.data;
    const nValues = columns.length - 1;
    // with a column list, missing columns stay undefined: "not written" (merge semantics)
    const full = map.length === columns.length;
    // converters in the order of the VALUES list
    const conv = map.map((c) => converter(columns[c]!.type, vctx));
    const tsPos = map.indexOf(0);
    const undo = this.undo;
    for (const row of rows) {
      if (row.length !== map.length) throw new TaosError(TaosCode.PAR_INCORRECT_NUM_OF_COL);
      const values = new Array<Value | undefined>(nValues);
      for (let i = 0; i < row.length; i++) if (i !== tsPos) values[map[i]! - 1] = conv[i]!(row[i]!);
      const ts = conv[tsPos]!(row[tsPos]!);
      if (ts === null) throw syntaxError('NULL', 'primary timestamp column can not be null');
      if (full) for (let c = 0; c < nValues; c++) if (values[c] === undefined) values[c] = null;
      data.upsert(ts as bigint, values, undo);
      this.rows++;
    }
  }
}

/** Position in `columns` of each listed column (all columns when no list). */
function columnMap(columns: readonly ColumnDef[], names: readonly string[] | undefined): number[] {
  if (names === undefined) return columns.map((_, i) => i);
  const out: number[] = [];
  for (const n of names) {
    const idx = columns.findIndex((c) => c.name === n);
    if (idx < 0) throw new TaosError(TaosCode.PAR_INVALID_COLUMN, `Invalid column name: ${n}`);
    if (out.includes(idx)) throw new TaosError(TaosCode.PAR_DUPLICATED_COLUMN);
    out.push(idx);
  }
  if (!out.includes(0)) throw syntaxError(names.join(', '), 'primary timestamp column should be in the column list');
  return out;
}

/** Executes an INSERT; returns the affected rows (every row written, merges included). */
export function executeInsert(items: Iterable<InsertItem>, ic: InsertContext): number {
  const undo = new UndoLog();
  const exec = new InsertExecutor(ic, undo);
  try {
    for (const item of items) exec.run(item);
  } catch (err) {
    undo.rollback();
    throw err;
  }
  return exec.rows;
}

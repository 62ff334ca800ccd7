/** CREATE / DROP of databases, super tables, child and normal tables. */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { ChildTableSpec, ColumnSpec, DbOption, Expr, QName, TableOptions } from '../sql/ast.ts';
import { type Catalog, Database, SuperTable, SYSTEM_DATABASES, Table } from './catalog.ts';
import { parseDbOptions } from './dboptions.ts';
import type { ColumnDef, Value } from './types.ts';
import { toValue, valueContext, type ValueContext } from './values.ts';
import type { TimeZone } from './time.ts';

export interface SchemaContext {
  readonly catalog: Catalog;
  readonly defaultDb: string | undefined;
  readonly tz: TimeZone;
}

function nowMs(): bigint {
  return BigInt(Date.now());
}

export function createDatabase(catalog: Catalog, name: string, ifNotExists: boolean, options: readonly DbOption[]): void {
  if (name.length > 64) throw new TaosError(0x0209, 'Database name too long');
  const opts = parseDbOptions(options);
  if (catalog.databases.has(name) || (SYSTEM_DATABASES as readonly string[]).includes(name)) {
    if (ifNotExists) return;
    throw new TaosError(TaosCode.MND_DB_ALREADY_EXIST);
  }
  catalog.databases.set(name, new Database(name, opts, nowMs()));
}

export function dropDatabase(catalog: Catalog, name: string, ifExists: boolean): void {
  if ((SYSTEM_DATABASES as readonly string[]).includes(name)) throw new TaosError(TaosCode.PAR_SYSTABLE_NOT_ALLOWED);
  if (!catalog.databases.delete(name) && !ifExists) throw new TaosError(TaosCode.MND_DB_NOT_EXIST);
}

function validateColumns(columns: readonly ColumnSpec[], tags: readonly ColumnSpec[] | undefined): void {
  if (columns.length < 2) throw new TaosError(TaosCode.PAR_INVALID_COLUMNS_NUM);
  if (columns.length > 4096) throw new TaosError(TaosCode.PAR_INVALID_COLUMNS_NUM);
  if (columns[0]!.type.name !== 'TIMESTAMP') throw new TaosError(TaosCode.PAR_INVALID_FIRST_COLUMN);
  if (columns.some((c) => c.type.name === 'JSON')) throw new TaosError(TaosCode.PAR_INVALID_COL_JSON);
  const names = new Set<string>();
  for (const c of [...columns, ...(tags ?? [])]) {
    if (names.has(c.name)) throw new TaosError(TaosCode.PAR_DUPLICATED_COLUMN);
    if (c.name.length > 64) throw new TaosError(TaosCode.PAR_INVALID_COLUMN, `Invalid column name: ${c.name}`);
    names.add(c.name);
  }
  if (tags !== undefined) {
    if (tags.length < 1 || tags.length > 128) throw new TaosError(TaosCode.PAR_INVALID_TAGS_NUM);
    if (tags.some((t) => t.type.name === 'JSON') && tags.length > 1) throw new TaosError(TaosCode.PAR_ONLY_ONE_JSON_TAG);
  }
}

function checkTableName(name: string): void {
  if (name.length > 192) throw new TaosError(0x020a, 'Table name too long');
}

export function createStable(
  sc: SchemaContext,
  name: QName,
  ifNotExists: boolean,
  columns: readonly ColumnSpec[],
  tags: readonly ColumnSpec[],
  options: TableOptions,
  uid: bigint,
): void {
  const db = sc.catalog.database(name.db, sc.defaultDb);
  checkTableName(name.name);
  if (db.stables.has(name.name)) {
    if (ifNotExists) return;
    throw new TaosError(TaosCode.MND_STB_ALREADY_EXIST);
  }
  if (db.tables.has(name.name)) {
    if (ifNotExists) return;
    throw new TaosError(TaosCode.TDB_TABLE_ALREADY_EXIST);
  }
  validateColumns(columns, tags);
  db.stables.set(name.name, new SuperTable(db, name.name, columns, tags, nowMs(), options.comment, uid));
}

export function createNormalTable(
  sc: SchemaContext,
  name: QName,
  ifNotExists: boolean,
  columns: readonly ColumnSpec[],
  options: TableOptions,
  uid: bigint,
): void {
  const db = sc.catalog.database(name.db, sc.defaultDb);
  checkTableName(name.name);
  if (db.nameTaken(name.name)) {
    if (ifNotExists) return;
    throw new TaosError(TaosCode.TDB_TABLE_ALREADY_EXIST);
  }
  validateColumns(columns, undefined);
  db.tables.set(
    name.name,
    new Table(db, name.name, undefined, undefined, columns, nowMs(), uid, vgroupOf(db, name.name), options.ttl ?? 0, options.comment),
  );
}

function vgroupOf(db: Database, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return 2 + (h % db.options.vgroups);
}

/** Tag values in the super table's tag order; tags not listed are NULL. */
export function convertTags(st: SuperTable, tagNames: readonly string[] | undefined, values: readonly Expr[], vctx: ValueContext): Value[] {
  const names = tagNames ?? st.tags.map((t) => t.name);
  if (names.length !== values.length) throw new TaosError(TaosCode.PAR_TAGS_NOT_MATCHED);
  const out: Value[] = new Array<Value>(st.tags.length).fill(null);
  const seen = new Set<number>();
  names.forEach((n, i) => {
    const idx = st.tags.findIndex((t) => t.name === n);
    if (idx < 0) throw new TaosError(TaosCode.PAR_INVALID_TAG_NAME, `Invalid tag name: ${n}`);
    if (seen.has(idx)) throw new TaosError(TaosCode.PAR_DUPLICATED_COLUMN);
    seen.add(idx);
    out[idx] = toValue(values[i]!, st.tags[idx]!.type, vctx);
  });
  return out;
}

export function createChildTable(
  db: Database,
  name: string,
  st: SuperTable,
  tags: Value[],
  uid: bigint,
  ttl: number | undefined,
  comment: string | undefined,
): Table {
  checkTableName(name);
  const t = new Table(db, name, st, tags, st.columns as ColumnDef[], nowMs(), uid, vgroupOf(db, name), ttl ?? 0, comment);
  db.tables.set(name, t);
  st.children.set(name, t);
  return t;
}

export function createChildTables(sc: SchemaContext, items: readonly ChildTableSpec[], uid: () => bigint): void {
  // resolve and convert everything first: a bad item creates nothing
  const plan: { db: Database; spec: ChildTableSpec; st: SuperTable; tags: Value[] }[] = [];
  for (const spec of items) {
    const db = sc.catalog.database(spec.name.db, sc.defaultDb);
    const stDb = sc.catalog.database(spec.stable.db ?? spec.name.db, sc.defaultDb);
    const st = stDb.stables.get(spec.stable.name);
    if (!st) throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${spec.stable.name}`);
    const vctx = valueContext(db.precision, sc.tz);
    const tags = convertTags(st, spec.tagNames, spec.tagValues, vctx);
    if (db.nameTaken(spec.name.name) || plan.some((p) => p.db === db && p.spec.name.name === spec.name.name)) {
      if (spec.ifNotExists) continue;
      throw new TaosError(TaosCode.TDB_TABLE_ALREADY_EXIST);
    }
    plan.push({ db, spec, st, tags });
  }
  for (const p of plan) createChildTable(p.db, p.spec.name.name, p.st, p.tags, uid(), p.spec.options.ttl, p.spec.options.comment);
}

export function dropTables(sc: SchemaContext, items: readonly { name: QName; ifExists: boolean }[]): void {
  for (const { name, ifExists } of items) {
    const db = sc.catalog.database(name.db, sc.defaultDb);
    const t = db.tables.get(name.name);
    if (t) {
      db.tables.delete(name.name);
      t.stable?.children.delete(name.name);
      continue;
    }
    if (db.stables.has(name.name)) {
      dropStable(sc, name, false);
      continue;
    }
    if (!ifExists) throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${name.name}`);
  }
}

export function dropStable(sc: SchemaContext, name: QName, ifExists: boolean): void {
  const db = sc.catalog.database(name.db, sc.defaultDb);
  const st = db.stables.get(name.name);
  if (!st) {
    if (ifExists) return;
    throw new TaosError(TaosCode.MND_STB_NOT_EXIST);
  }
  for (const child of st.children.keys()) db.tables.delete(child);
  db.stables.delete(name.name);
}

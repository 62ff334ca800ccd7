/**
 * SELECT execution for the TDengine REST test server.
 *
 * Plain scans of data tables are streamed: rows are produced on demand by a cursor that
 * walks each table's sorted timestamps (merging child tables by ts for `ORDER BY ts` on a
 * super table), with the ts range of the WHERE clause turned into binary searches, tag
 * conditions evaluated once per child table, and LIMIT/OFFSET applied while streaming.
 * Aggregates, DISTINCT, other orderings and system tables are materialized.
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { Expr, SelectItem, SelectStmt } from '../sql/ast.ts';
import { aggregate, AGG_FUNCS, type AggSpec, aggType } from './aggregate.ts';
import { type Catalog, type Database, type SuperTable, SYSTEM_DATABASES, type Table } from './catalog.ts';
import {
  type Binding,
  bind,
  compareNullable,
  compile,
  constValue,
  invalidColumn,
  isConstant,
  type RowRef,
  type Scope,
  sourcesOf,
  truthy,
  whereFn,
} from './expr.ts';
import { arrayCursor, type ResultColumn, type RowCursor, type RowsResult } from './result.ts';
import { countInRange, forEachRow, planScan, ScanCursor } from './scan.ts';
import { systemTable, type SysTable } from './system.ts';
import type { TimeZone } from './time.ts';
import { dataType, type ColumnDef, type DataType, type Precision, type Value } from './types.ts';
import { evalConst, valueContext, type ValueContext } from './values.ts';

export interface QueryContext {
  readonly catalog: Catalog;
  /** Database from `/rest/sql/{db}` */
  readonly defaultDb: string | undefined;
  /** Connection time zone (`conn_tz`), for timestamp literals without an offset. */
  readonly tz: TimeZone;
  readonly serverVersion: string;
}

const TBNAME_TYPE = dataType('VARCHAR', 192);

// ---------------------------------------------------------------------------
// sources and scopes

interface DataSource {
  readonly kind: 'data';
  readonly db: Database;
  readonly stable: SuperTable | undefined;
  readonly table: Table | undefined;
  readonly columns: readonly ColumnDef[];
  readonly tags: readonly ColumnDef[];
  readonly scope: Scope;
}

interface SysSource {
  readonly kind: 'sys';
  readonly sys: SysTable;
  readonly scope: Scope;
}

type Source = DataSource | SysSource;

export function dataScope(columns: readonly ColumnDef[], tags: readonly ColumnDef[], names: readonly string[]): Scope {
  const map = new Map<string, Binding>();
  const ts = columns[0]!;
  const tsBinding: Binding = { name: ts.name, type: ts.type, source: 'ts', get: (r) => r.table!.data.ts(r.idx) };
  map.set(ts.name, tsBinding);
  for (let c = 1; c < columns.length; c++) {
    const col = columns[c]!;
    const k = c - 1;
    map.set(col.name, { name: col.name, type: col.type, source: 'data', get: (r) => r.table!.data.get(k, r.idx) });
  }
  tags.forEach((tag, k) => {
    map.set(tag.name, { name: tag.name, type: tag.type, source: 'tag', get: (r) => r.table!.tags?.[k] ?? null });
  });
  const tbname: Binding = { name: 'tbname', type: TBNAME_TYPE, source: 'tbname', get: (r) => r.table!.name };
  return {
    lookup(name, qualifier) {
      if (qualifier !== undefined && !names.includes(qualifier)) return undefined;
      const hit = map.get(name);
      if (hit) return hit;
      if (name === 'tbname') return tbname;
      if (name === '_c0' || name === '_rowts') return tsBinding;
      return undefined;
    },
  };
}

function sysScope(sys: SysTable, names: readonly string[]): Scope {
  const map = new Map<string, Binding>();
  sys.columns.forEach((c, k) => map.set(c.name, { name: c.name, type: c.type, source: 'sys', get: (r) => r.row![k] ?? null }));
  return {
    lookup(name, qualifier) {
      if (qualifier !== undefined && !names.includes(qualifier)) return undefined;
      return map.get(name);
    },
  };
}

function resolveSource(stmt: SelectStmt, qc: QueryContext): Source {
  const from = stmt.from!;
  const dbName = from.table.db ?? qc.defaultDb;
  const names = [from.table.name, ...(from.alias !== undefined ? [from.alias] : [])];
  if (dbName !== undefined && (SYSTEM_DATABASES as readonly string[]).includes(dbName)) {
    const sys = systemTable(qc.catalog, dbName, from.table.name);
    return { kind: 'sys', sys, scope: sysScope(sys, names) };
  }
  const db = qc.catalog.database(from.table.db, qc.defaultDb);
  const stable = db.stables.get(from.table.name);
  if (stable) {
    return {
      kind: 'data',
      db,
      stable,
      table: undefined,
      columns: stable.columns,
      tags: stable.tags,
      scope: dataScope(stable.columns, stable.tags, names),
    };
  }
  const table = db.tables.get(from.table.name);
  if (!table) throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${from.table.name}`);
  const tags = table.stable?.tags ?? [];
  return { kind: 'data', db, stable: undefined, table, columns: table.columns, tags, scope: dataScope(table.columns, tags, names) };
}

// ---------------------------------------------------------------------------
// output items

interface OutItem {
  readonly name: string;
  readonly type: DataType;
  /** the select-list expression (undefined for * expansions) */
  readonly expr: Expr | undefined;
  readonly get: ((r: RowRef) => Value) | undefined;
  readonly agg: AggSpec | undefined;
  readonly sources: ReadonlySet<string>;
}

function expandItems(items: readonly SelectItem[], src: Source, vctx: ValueContext): OutItem[] {
  const out: OutItem[] = [];
  for (const item of items) {
    if (item.k === 'star') {
      const cols: readonly ResultColumn[] = src.kind === 'sys' ? src.sys.columns : src.stable ? [...src.columns, ...src.tags] : src.columns;
      for (const c of cols) {
        const b = bind(src.scope, c.name, item.qualifier);
        out.push({ name: c.name, type: c.type, expr: undefined, get: b.get, agg: undefined, sources: new Set([b.source]) });
      }
      continue;
    }
    const e = item.expr;
    if (e.k === 'func' && AGG_FUNCS.has(e.name)) {
      if (!e.star && e.args.length !== 1)
        throw new TaosError(TaosCode.PAR_SYNTAX_ERROR, `syntax error near "${item.text}" (invalid number of arguments)`);
      if (e.star && e.name !== 'count') throw new TaosError(TaosCode.PAR_SYNTAX_ERROR, `syntax error near "${item.text}"`);
      const arg = e.star ? undefined : compile(e.args[0]!, src.scope, vctx);
      out.push({
        name: item.alias ?? item.text,
        type: aggType(e.name, arg?.type),
        expr: e,
        get: undefined,
        agg: { fn: e.name, star: e.star, arg: arg?.fn, argType: arg?.type },
        sources: new Set(),
      });
      continue;
    }
    const c = compile(e, src.scope, vctx);
    const name =
      item.alias ?? (e.k === 'col' && e.name !== '_c0' && e.name !== '_rowts' ? bind(src.scope, e.name, e.qualifier).name : item.text);
    out.push({
      name,
      type: c.type ?? dataType('VARCHAR', 1),
      expr: e,
      get: c.fn,
      agg: undefined,
      sources: isConstant(e) ? new Set() : sourcesOf(e, src.scope),
    });
  }
  return out;
}

function project(items: readonly OutItem[]): (r: RowRef) => Value[] {
  const getters = items.map((i) => i.get!);
  const n = getters.length;
  return (r) => {
    const row = new Array<Value>(n);
    for (let i = 0; i < n; i++) row[i] = getters[i]!(r);
    return row;
  };
}

// ---------------------------------------------------------------------------
// entry point

export function executeSelect(stmt: SelectStmt, qc: QueryContext): RowsResult {
  if (stmt.from === undefined) return selectWithoutFrom(stmt, qc);
  const src = resolveSource(stmt, qc);
  const precision: Precision = src.kind === 'data' ? src.db.precision : 'ms';
  const vctx = valueContext(precision, qc.tz);
  if (stmt.tags) return selectTags(stmt, src, vctx);
  const items = expandItems(stmt.items, src, vctx);
  const columns = items.map((i) => ({ name: i.name, type: i.type }));
  const isAgg = items.some((i) => i.agg !== undefined);
  if (isAgg) {
    if (stmt.partitionBy.length === 0 && items.some((i) => i.agg === undefined && i.sources.size > 0)) {
      throw new TaosError(TaosCode.PAR_NOT_SINGLE_GROUP);
    }
    const rows = aggregateQuery(stmt, src, items, vctx);
    return { kind: 'rows', columns, precision, cursor: arrayCursor(finish(stmt, rows, items, undefined, src.scope, vctx)) };
  }
  if (src.kind === 'sys') {
    const pred = whereFn(stmt.where, src.scope, vctx);
    const proj = project(items);
    const ref: RowRef = { table: null, idx: -1, row: null };
    const rows: Value[][] = [];
    const refs: Value[][] = [];
    for (const row of src.sys.rows) {
      ref.row = row;
      if (pred && !truthy(pred(ref))) continue;
      rows.push(proj(ref));
      refs.push(row);
    }
    return { kind: 'rows', columns, precision, cursor: arrayCursor(finish(stmt, rows, items, refs, src.scope, vctx)) };
  }
  return { kind: 'rows', columns, precision, cursor: dataQuery(stmt, src, items, vctx) };
}

function selectWithoutFrom(stmt: SelectStmt, qc: QueryContext): RowsResult {
  const vctx = valueContext('ms', qc.tz);
  const columns: ResultColumn[] = [];
  const row: Value[] = [];
  for (const item of stmt.items) {
    if (item.k === 'star') throw new TaosError(TaosCode.PAR_SYNTAX_ERROR, 'syntax error near "*"');
    const e = item.expr;
    const name = item.alias ?? item.text;
    if (e.k === 'func') {
      const fixed = builtinScalar(e.name, qc);
      if (fixed === undefined)
        throw new TaosError(TaosCode.OPS_NOT_SUPPORT, `function ${e.name} is not supported by the TDengine test server`);
      columns.push({ name, type: fixed.type });
      row.push(fixed.value);
      continue;
    }
    const { value, type } = constValue(evalConst(e, vctx));
    columns.push({ name, type: type ?? dataType('VARCHAR', 1) });
    row.push(value);
  }
  return { kind: 'rows', columns, precision: 'ms', cursor: arrayCursor([row]) };
}

function builtinScalar(name: string, qc: QueryContext): { value: Value; type: DataType } | undefined {
  switch (name) {
    case 'server_version':
    case 'client_version':
      return { value: qc.serverVersion, type: dataType('VARCHAR', 64) };
    case 'server_status':
      return { value: 1, type: dataType('INT') };
    case 'database':
      return { value: qc.defaultDb ?? null, type: dataType('VARCHAR', 64) };
    case 'timezone':
      return { value: qc.tz.name, type: dataType('VARCHAR', 64) };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// SELECT TAGS: one row per child table

function selectTags(stmt: SelectStmt, src: Source, vctx: ValueContext): RowsResult {
  if (src.kind !== 'data' || src.tags.length === 0) {
    throw new TaosError(TaosCode.TSC_NOT_STABLE_ERROR);
  }
  const items = expandItems(stmt.items, src, vctx);
  for (const i of items) {
    if (i.agg || [...i.sources].some((s) => s !== 'tag' && s !== 'tbname')) {
      throw new TaosError(TaosCode.PAR_INVALID_COLUMN, 'Invalid column name: only tags and tbname are allowed in SELECT TAGS');
    }
  }
  const pred = whereFn(stmt.where, src.scope, vctx);
  if (stmt.where && [...sourcesOf(stmt.where, src.scope)].some((s) => s !== 'tag' && s !== 'tbname')) {
    throw new TaosError(TaosCode.PAR_INVALID_COLUMN, 'Invalid column name: only tag conditions are allowed in SELECT TAGS');
  }
  const proj = project(items);
  const ref: RowRef = { table: null, idx: -1, row: null };
  const rows: Value[][] = [];
  for (const t of candidateTables(src)) {
    ref.table = t;
    if (pred && !truthy(pred(ref))) continue;
    rows.push(proj(ref));
  }
  const columns = items.map((i) => ({ name: i.name, type: i.type }));
  return { kind: 'rows', columns, precision: src.db.precision, cursor: arrayCursor(finish(stmt, rows, items, undefined, src.scope, vctx)) };
}

function candidateTables(src: DataSource): Table[] {
  return src.stable ? [...src.stable.children.values()] : [src.table!];
}

// ---------------------------------------------------------------------------
// data tables

function orderIsTs(stmt: SelectStmt, src: DataSource, items: readonly OutItem[]): { ok: boolean; dir: 1 | -1 } {
  if (stmt.orderBy.length === 0) return { ok: true, dir: 1 };
  if (stmt.orderBy.length > 1) return { ok: false, dir: 1 };
  const o = stmt.orderBy[0]!;
  const dir = o.desc ? -1 : 1;
  if (o.expr.k !== 'col') return { ok: false, dir };
  const e = o.expr;
  const out = e.qualifier === undefined ? items.find((i) => i.name === e.name) : undefined;
  if (out) return { ok: out.expr?.k === 'col' && out.sources.has('ts') && out.sources.size === 1, dir };
  return { ok: src.scope.lookup(e.name, e.qualifier)?.source === 'ts', dir };
}

function dataQuery(stmt: SelectStmt, src: DataSource, items: readonly OutItem[], vctx: ValueContext): RowCursor {
  const plan = planScan(stmt.where, src.scope, candidateTables(src), vctx);
  const proj = project(items);
  if (stmt.partitionBy.length > 0) {
    const p = stmt.partitionBy;
    if (p.length !== 1 || p[0]!.k !== 'col' || src.scope.lookup(p[0]!.name, p[0]!.qualifier)?.source !== 'tbname') {
      throw new TaosError(
        TaosCode.OPS_NOT_SUPPORT,
        'only PARTITION BY tbname is supported for non-aggregate queries by the TDengine test server',
      );
    }
  }
  const order = orderIsTs(stmt, src, items);
  if (order.ok && !stmt.distinct) {
    const merged = stmt.orderBy.length > 0 && stmt.partitionBy.length === 0 && plan.tables.length > 1;
    return new ScanCursor(plan, order.dir, merged, proj, stmt.offset, stmt.limit);
  }
  const rows: Value[][] = [];
  const onlyTags = items.every((i) => [...i.sources].every((s) => s === 'tag' || s === 'tbname'));
  if (stmt.distinct && onlyTags && !plan.rowPred) {
    const ref: RowRef = { table: null, idx: -1, row: null };
    for (const t of plan.tables) {
      if (plan.empty || countInRange(t, plan.lo, plan.hi) === 0) continue;
      ref.table = t;
      rows.push(proj(ref));
    }
    return arrayCursor(finish(stmt, rows, items, undefined, src.scope, vctx));
  }
  const keyGetters = orderKeyGetters(stmt, items, src.scope, vctx);
  const keys: Value[][] = [];
  forEachRow(plan, (r) => {
    rows.push(proj(r));
    if (keyGetters.extra.length > 0) keys.push(keyGetters.extra.map((g) => g(r)));
  });
  return arrayCursor(sortAndLimit(stmt, rows, keyGetters, keys));
}

// ---------------------------------------------------------------------------
// ordering, distinct, limit for materialized results

interface OrderKeys {
  /** per ORDER BY item: output column index, or -(1 + index into extra) */
  readonly refs: number[];
  readonly desc: boolean[];
  readonly extra: ((r: RowRef) => Value)[];
}

function sameExpr(a: Expr | undefined, b: Expr): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function orderKeyGetters(stmt: SelectStmt, items: readonly OutItem[], scope: Scope | undefined, vctx: ValueContext): OrderKeys {
  const refs: number[] = [];
  const desc: boolean[] = [];
  const extra: ((r: RowRef) => Value)[] = [];
  for (const o of stmt.orderBy) {
    desc.push(o.desc);
    const e = o.expr;
    let idx = -1;
    if (e.k === 'col' && e.qualifier === undefined) idx = items.findIndex((i) => i.name === e.name);
    if (idx < 0) idx = items.findIndex((i) => sameExpr(i.expr, e));
    if (idx >= 0) {
      refs.push(idx);
      continue;
    }
    if (!scope) throw invalidColumn(e.k === 'col' ? e.name : 'order by expression');
    extra.push(compile(e, scope, vctx).fn);
    refs.push(-extra.length);
  }
  return { refs, desc, extra };
}

function sortAndLimit(stmt: SelectStmt, rows: Value[][], ok: OrderKeys, keys: Value[][]): Value[][] {
  let idx = rows.map((_, i) => i);
  if (ok.refs.length > 0) {
    idx.sort((x, y) => {
      for (let k = 0; k < ok.refs.length; k++) {
        const ref = ok.refs[k]!;
        const a = ref >= 0 ? rows[x]![ref]! : keys[x]![-ref - 1]!;
        const b = ref >= 0 ? rows[y]![ref]! : keys[y]![-ref - 1]!;
        const c = ok.desc[k] ? -compareNullable(a, b) : compareNullable(a, b);
        if (c !== 0) return c;
      }
      return x - y;
    });
  }
  if (stmt.distinct) {
    const seen = new Set<string>();
    idx = idx.filter((i) => {
      const key = rows[i]!.map((v) => `${typeof v}:${String(v)}`).join('\u0000');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  const start = Math.min(stmt.offset, idx.length);
  const end = stmt.limit === undefined ? idx.length : Math.min(idx.length, start + stmt.limit);
  return idx.slice(start, end).map((i) => rows[i]!);
}

/** Order/distinct/limit for rows already projected; `refRows` (system tables) feed extra keys. */
function finish(
  stmt: SelectStmt,
  rows: Value[][],
  items: readonly OutItem[],
  refRows: readonly Value[][] | undefined,
  scope: Scope,
  vctx: ValueContext,
): Value[][] {
  const ok = orderKeyGetters(stmt, items, refRows ? scope : undefined, vctx);
  const keys: Value[][] = [];
  if (ok.extra.length > 0 && refRows) {
    const ref: RowRef = { table: null, idx: -1, row: null };
    for (const r of refRows) {
      ref.row = r;
      keys.push(ok.extra.map((g) => g(ref)));
    }
  }
  return sortAndLimit(stmt, rows, ok, keys);
}

// ---------------------------------------------------------------------------
// aggregation

function aggregateQuery(stmt: SelectStmt, src: Source, items: readonly OutItem[], vctx: ValueContext): Value[][] {
  const partitions = stmt.partitionBy.map((p) => compile(p, src.scope, vctx).fn);
  if (src.kind === 'sys') {
    const pred = whereFn(stmt.where, src.scope, vctx);
    return aggregate({
      items,
      partitions,
      tableCounts: undefined,
      forEachRow: (visit) => {
        const ref: RowRef = { table: null, idx: -1, row: null };
        for (const row of src.sys.rows) {
          ref.row = row;
          if (pred && !truthy(pred(ref))) continue;
          visit(ref, undefined);
        }
      },
    });
  }
  const plan = planScan(stmt.where, src.scope, candidateTables(src), vctx);
  const tagOnly = (sources: Iterable<string>): boolean => [...sources].every((s) => s === 'tag' || s === 'tbname');
  const partitionSources = stmt.partitionBy.flatMap((p) => [...sourcesOf(p, src.scope)]);
  const onlyCounts =
    !plan.rowPred && tagOnly(partitionSources) && items.every((i) => (i.agg ? i.agg.fn === 'count' && i.agg.star : tagOnly(i.sources)));
  return aggregate({
    items,
    partitions,
    tableCounts: onlyCounts
      ? () => plan.tables.map((t) => [{ table: t, idx: -1, row: null }, plan.empty ? 0 : countInRange(t, plan.lo, plan.hi)] as const)
      : undefined,
    forEachRow: (visit) => forEachRow(plan, (r) => visit(r, r.table!.data.ts(r.idx))),
  });
}

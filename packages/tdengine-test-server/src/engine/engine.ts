/**
 * The in-memory engine of the TDengine REST test server: executes one parsed statement
 * against the catalog. Knows nothing about HTTP.
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { Expr, QName, Statement } from '../sql/ast.ts';
import { Catalog } from './catalog.ts';
import { conjuncts, sourcesOf, truthy, type RowRef } from './expr.ts';
import { executeInsert } from './insert.ts';
import type { ExecResult } from './result.ts';
import {
  createChildTables,
  createDatabase,
  createNormalTable,
  createStable,
  dropDatabase,
  dropStable,
  dropTables,
  type SchemaContext,
} from './schema.ts';
import { dataScope, executeSelect, type QueryContext } from './select.ts';
import { executeShow } from './show.ts';
import { TimeZone } from './time.ts';
import { dataType } from './types.ts';
import { compile } from './expr.ts';
import { evalConst, fromConst, valueContext } from './values.ts';

export interface EngineOptions {
  /** Reported by SELECT SERVER_VERSION(). */
  readonly serverVersion: string;
  /** Appended to SHOW CREATE STABLE output (newest builds print "SECURITY_LEVEL 0 SECURE_DELETE 0"). */
  readonly stableDdlSuffix: string;
}

export interface ExecContext {
  /** Database from the `/rest/sql/{db}` path (REST is otherwise stateless: USE has no effect). */
  readonly defaultDb: string | undefined;
  /** Connection time zone (`conn_tz`), used to read timestamp literals without an offset. */
  readonly tz: TimeZone;
}

export interface EngineStats {
  readonly databases: number;
  readonly superTables: number;
  readonly tables: number;
  readonly rows: number;
}

export class Engine {
  readonly catalog = new Catalog();

  constructor(private readonly opts: EngineOptions) {}

  execute(stmt: Statement, ctx: ExecContext): ExecResult {
    const qc: QueryContext = { catalog: this.catalog, defaultDb: ctx.defaultDb, tz: ctx.tz, serverVersion: this.opts.serverVersion };
    const sc: SchemaContext = { catalog: this.catalog, defaultDb: ctx.defaultDb, tz: ctx.tz };
    const uid = (): bigint => this.catalog.uid();
    switch (stmt.kind) {
      case 'select':
        return executeSelect(stmt, qc);
      case 'insert':
        return affected(executeInsert(stmt.items, { catalog: this.catalog, defaultDb: ctx.defaultDb, tz: ctx.tz, uid }));
      case 'createDatabase':
        createDatabase(this.catalog, stmt.name, stmt.ifNotExists, stmt.options);
        return affected(0);
      case 'dropDatabase':
        dropDatabase(this.catalog, stmt.name, stmt.ifExists);
        return affected(0);
      case 'use':
        this.catalog.database(stmt.name, undefined);
        return affected(0);
      case 'createStable':
        createStable(sc, stmt.name, stmt.ifNotExists, stmt.columns, stmt.tags, stmt.options, uid());
        return affected(0);
      case 'createTable':
        createNormalTable(sc, stmt.name, stmt.ifNotExists, stmt.columns, stmt.options, uid());
        return affected(0);
      case 'createChildTables':
        createChildTables(sc, stmt.items, uid);
        return affected(0);
      case 'dropTables':
        dropTables(sc, stmt.items);
        return affected(0);
      case 'dropStable':
        dropStable(sc, stmt.name, stmt.ifExists);
        return affected(0);
      case 'delete':
        return affected(this.delete(stmt.table, stmt.where, qc));
      case 'showDatabases':
      case 'showStables':
      case 'showTables':
      case 'showCreateDatabase':
      case 'showCreateStable':
      case 'showCreateTable':
      case 'showTableTags':
      case 'showTags':
      case 'describe':
        return executeShow(stmt, qc, { stableDdlSuffix: this.opts.stableDdlSuffix });
    }
  }

  /** DELETE FROM tb|stb [WHERE ts range AND tag conditions]. */
  private delete(name: QName, where: Expr | undefined, qc: QueryContext): number {
    const db = this.catalog.database(name.db, qc.defaultDb);
    const st = db.stables.get(name.name);
    const single = st ? undefined : db.tables.get(name.name);
    if (!st && !single) throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${name.name}`);
    const tables = st ? [...st.children.values()] : [single!];
    const columns = st ? st.columns : single!.columns;
    const tags = st ? st.tags : (single!.stable?.tags ?? []);
    // the same name resolution as queries
    const probe = dataScope(columns, tags, [name.name]);
    const vctx = valueContext(db.precision, qc.tz);
    let lo = -9223372036854775808n;
    let hi = 9223372036854775807n;
    const tagConds: Expr[] = [];
    for (const c of conjuncts(where)) {
      const srcs = sourcesOf(c, probe);
      if ([...srcs].every((s) => s === 'tag' || s === 'tbname')) {
        tagConds.push(c);
        continue;
      }
      const bound = deleteBound(c, vctx);
      if (!bound || [...srcs].some((s) => s !== 'ts')) throw new TaosError(TaosCode.PAR_INVALID_DELETE_WHERE);
      if (bound.lo !== undefined && bound.lo > lo) lo = bound.lo;
      if (bound.hi !== undefined && bound.hi < hi) hi = bound.hi;
    }
    const pred = tagConds.length > 0 ? tagConds.map((c) => compile(c, probe, vctx).fn) : [];
    const ref: RowRef = { table: null, idx: -1, row: null };
    let n = 0;
    for (const t of tables) {
      ref.table = t;
      if (pred.some((p) => !truthy(p(ref)))) continue;
      if (lo <= hi) n += t.data.deleteRange(lo, hi);
    }
    return n;
  }

  stats(): EngineStats {
    let superTables = 0;
    let tables = 0;
    let rows = 0;
    for (const db of this.catalog.databases.values()) {
      superTables += db.stables.size;
      tables += db.tables.size;
      for (const t of db.tables.values()) rows += t.data.length;
    }
    return { databases: this.catalog.databases.size, superTables, tables, rows };
  }

  reset(): void {
    this.catalog.clear();
  }
}

function affected(rows: number): ExecResult {
  return { kind: 'affected', rows };
}

function deleteBound(e: Expr, vctx: ReturnType<typeof valueContext>): { lo?: bigint; hi?: bigint } | undefined {
  const ts = (x: Expr): bigint => fromConst(evalConst(x, vctx), dataType('TIMESTAMP'), vctx) as bigint;
  if (e.k === 'between' && !e.not) return { lo: ts(e.lo), hi: ts(e.hi) };
  if (e.k !== 'bin') return undefined;
  const colLeft = e.left.k === 'col';
  const constSide = colLeft ? e.right : e.left;
  let op = e.op;
  if (!colLeft) op = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, typeof op>)[op] ?? op;
  switch (op) {
    case '>':
      return { lo: ts(constSide) + 1n };
    case '>=':
      return { lo: ts(constSide) };
    case '<':
      return { hi: ts(constSide) - 1n };
    case '<=':
      return { hi: ts(constSide) };
    case '=': {
      const v = ts(constSide);
      return { lo: v, hi: v };
    }
    case '!=':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case 'and':
    case 'or':
      return undefined;
  }
}

export { TimeZone };

/**
 * Scanning data tables for the TDengine REST test server: a WHERE clause becomes a ts range
 * (binary searches on the sorted timestamps), tag conditions filter child tables once, and
 * cursors stream rows table by table or merged by ts, re-seeking by ts when a table changes
 * between two reads (writes may land while a response is being streamed).
 */
import type { Expr } from '../sql/ast.ts';
import type { Table } from './catalog.ts';
import { andAll, conjuncts, isConstant, type RowRef, type Scope, sourcesOf, truthy, whereFn } from './expr.ts';
import type { RowCursor } from './result.ts';
import { dataType, type Value } from './types.ts';
import { evalConst, fromConst, type ValueContext } from './values.ts';

export interface ScanPlan {
  readonly tables: Table[];
  readonly lo: bigint | undefined;
  readonly hi: bigint | undefined;
  readonly empty: boolean;
  readonly rowPred: ((r: RowRef) => Value) | undefined;
}

function tsBound(e: Expr, scope: Scope, vctx: ValueContext): { lo?: bigint; hi?: bigint } | undefined {
  const isTs = (x: Expr): boolean => x.k === 'col' && scope.lookup(x.name, x.qualifier)?.source === 'ts';
  const tsVal = (x: Expr): bigint => fromConst(evalConst(x, vctx), dataType('TIMESTAMP'), vctx) as bigint;
  if (e.k === 'between' && !e.not && isTs(e.expr) && isConstant(e.lo) && isConstant(e.hi)) {
    return { lo: tsVal(e.lo), hi: tsVal(e.hi) };
  }
  if (e.k !== 'bin') return undefined;
  let op = e.op;
  let constSide: Expr;
  if (isTs(e.left) && isConstant(e.right)) constSide = e.right;
  else if (isTs(e.right) && isConstant(e.left)) {
    constSide = e.left;
    const flip: Record<string, typeof op> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
    op = flip[op] ?? op;
  } else return undefined;
  switch (op) {
    case '>':
      return { lo: tsVal(constSide) + 1n };
    case '>=':
      return { lo: tsVal(constSide) };
    case '<':
      return { hi: tsVal(constSide) - 1n };
    case '<=':
      return { hi: tsVal(constSide) };
    case '=': {
      const v = tsVal(constSide);
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

/**
 * Splits WHERE into a ts range (binary searches), tag/tbname conditions (evaluated once per
 * table, here) and the rest (evaluated per row).
 */
export function planScan(where: Expr | undefined, scope: Scope, candidates: readonly Table[], vctx: ValueContext): ScanPlan {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  const tagConds: Expr[] = [];
  const rowConds: Expr[] = [];
  for (const c of conjuncts(where)) {
    const b = tsBound(c, scope, vctx);
    if (b) {
      if (b.lo !== undefined && (lo === undefined || b.lo > lo)) lo = b.lo;
      if (b.hi !== undefined && (hi === undefined || b.hi < hi)) hi = b.hi;
      continue;
    }
    const s = sourcesOf(c, scope);
    if ([...s].every((x) => x === 'tag' || x === 'tbname')) tagConds.push(c);
    else rowConds.push(c);
  }
  const tagPred = whereFn(andAll(tagConds), scope, vctx);
  const rowPred = whereFn(andAll(rowConds), scope, vctx);
  let tables = [...candidates];
  if (tagPred) {
    const ref: RowRef = { table: null, idx: -1, row: null };
    tables = tables.filter((t) => {
      ref.table = t;
      return truthy(tagPred(ref));
    });
  }
  const empty = lo !== undefined && hi !== undefined && lo > hi;
  return { tables, lo, hi, empty, rowPred };
}

/** Iterates one table's rows in ts order, robust to writes between calls (re-seeks by ts). */
class TableScan {
  private pos = 0;
  private version = -1;
  private last: bigint | undefined;
  constructor(
    readonly table: Table,
    private readonly lo: bigint | undefined,
    private readonly hi: bigint | undefined,
    private readonly dir: 1 | -1,
  ) {}

  private seek(): void {
    const d = this.table.data;
    this.version = d.version;
    if (this.dir === 1) {
      if (this.last !== undefined) this.pos = d.upperBound(this.last);
      else this.pos = this.lo === undefined ? 0 : d.lowerBound(this.lo);
    } else if (this.last !== undefined) this.pos = d.lowerBound(this.last) - 1;
    else this.pos = (this.hi === undefined ? d.length : d.upperBound(this.hi)) - 1;
  }

  /** Index of the current row, or -1 when the scan is done. */
  current(): number {
    const d = this.table.data;
    if (d.version !== this.version) this.seek();
    const p = this.pos;
    if (this.dir === 1) {
      if (p < d.length && (this.hi === undefined || d.ts(p) <= this.hi)) return p;
    } else if (p >= 0 && p < d.length && (this.lo === undefined || d.ts(p) >= this.lo)) return p;
    return -1;
  }

  advance(): void {
    this.last = this.table.data.ts(this.pos);
    this.pos += this.dir;
  }
}

/** Merges table scans by timestamp (binary heap). */
class MergeScan {
  private readonly heap: TableScan[] = [];
  private readonly heapTs: bigint[] = [];
  constructor(
    scans: TableScan[],
    private readonly dir: 1 | -1,
  ) {
    for (const s of scans) {
      const i = s.current();
      if (i >= 0) this.push(s, s.table.data.ts(i));
    }
  }

  private less(a: bigint, b: bigint): boolean {
    return this.dir === 1 ? a < b : a > b;
  }

  private push(s: TableScan, ts: bigint): void {
    const h = this.heap;
    const k = this.heapTs;
    let i = h.length;
    h.push(s);
    k.push(ts);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(k[i]!, k[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      [k[i], k[p]] = [k[p]!, k[i]!];
      i = p;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const k = this.heapTs;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(k[l]!, k[m]!)) m = l;
      if (r < n && this.less(k[r]!, k[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      [k[i], k[m]] = [k[m]!, k[i]!];
      i = m;
    }
  }

  /** Current top scan and row index, or undefined when all are exhausted. */
  top(): [TableScan, number] | undefined {
    while (this.heap.length > 0) {
      const s = this.heap[0]!;
      const i = s.current();
      if (i >= 0) return [s, i];
      this.pop();
    }
    return undefined;
  }

  /** Advances the top scan and restores heap order. */
  advanceTop(): void {
    const s = this.heap[0]!;
    s.advance();
    const i = s.current();
    if (i < 0) this.pop();
    else {
      this.heapTs[0] = s.table.data.ts(i);
      this.siftDown(0);
    }
  }

  private pop(): void {
    const h = this.heap;
    const k = this.heapTs;
    const lastS = h.pop()!;
    const lastK = k.pop()!;
    if (h.length > 0) {
      h[0] = lastS;
      k[0] = lastK;
      this.siftDown(0);
    }
  }
}

/** Streams projected rows of a scan plan. */
export class ScanCursor implements RowCursor {
  private readonly ref: RowRef = { table: null, idx: -1, row: null };
  private tableIdx = 0;
  private current: TableScan | undefined;
  private readonly merge: MergeScan | undefined;
  private skipped = 0;
  private emitted = 0;

  constructor(
    private readonly plan: ScanPlan,
    private readonly dir: 1 | -1,
    merged: boolean,
    private readonly proj: (r: RowRef) => Value[],
    private readonly offset: number,
    private readonly limit: number | undefined,
  ) {
    if (merged && !plan.empty)
      this.merge = new MergeScan(
        plan.tables.map((t) => new TableScan(t, plan.lo, plan.hi, dir)),
        dir,
      );
  }

  /** Next (table, index) in scan order, or false at the end. */
  private step(): boolean {
    if (this.plan.empty) return false;
    if (this.merge) {
      const top = this.merge.top();
      if (!top) return false;
      this.ref.table = top[0].table;
      this.ref.idx = top[1];
      this.merge.advanceTop();
      return true;
    }
    for (;;) {
      if (!this.current) {
        const t = this.plan.tables[this.tableIdx++];
        if (!t) return false;
        this.current = new TableScan(t, this.plan.lo, this.plan.hi, this.dir);
      }
      const i = this.current.current();
      if (i >= 0) {
        this.ref.table = this.current.table;
        this.ref.idx = i;
        this.current.advance();
        return true;
      }
      this.current = undefined;
    }
  }

  next(): Value[] | undefined {
    const pred = this.plan.rowPred;
    for (;;) {
      if (this.limit !== undefined && this.emitted >= this.limit) return undefined;
      if (!this.step()) return undefined;
      if (pred && !truthy(pred(this.ref))) continue;
      if (this.skipped < this.offset) {
        this.skipped++;
        continue;
      }
      this.emitted++;
      return this.proj(this.ref);
    }
  }
}

/** Visits every row of the plan in (table, ts asc) order. */
export function forEachRow(plan: ScanPlan, visit: (r: RowRef) => void): void {
  if (plan.empty) return;
  const ref: RowRef = { table: null, idx: -1, row: null };
  for (const t of plan.tables) {
    const d = t.data;
    const a = plan.lo === undefined ? 0 : d.lowerBound(plan.lo);
    const b = plan.hi === undefined ? d.length : d.upperBound(plan.hi);
    ref.table = t;
    for (let i = a; i < b; i++) {
      ref.idx = i;
      if (plan.rowPred && !truthy(plan.rowPred(ref))) continue;
      visit(ref);
    }
  }
}

/** Rows of `t` in [lo, hi] (no predicate): two binary searches. */
export function countInRange(t: Table, lo: bigint | undefined, hi: bigint | undefined): number {
  const d = t.data;
  const a = lo === undefined ? 0 : d.lowerBound(lo);
  const b = hi === undefined ? d.length : d.upperBound(hi);
  return Math.max(0, b - a);
}

/**
 * Compiling WHERE / select-list expressions into closures over a row reference, and the
 * value comparison rules shared by filtering, sorting and aggregation.
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { Expr } from '../sql/ast.ts';
import type { Table } from './catalog.ts';
import { dataType, type DataType, type Value } from './types.ts';
import { evalConst, fromConst, type Const, type ValueContext } from './values.ts';

/** The row being evaluated: a row of a data table, or a materialized row of a system table. */
export interface RowRef {
  table: Table | null;
  idx: number;
  row: readonly Value[] | null;
}

export type Source = 'ts' | 'data' | 'tag' | 'tbname' | 'sys';

export interface Binding {
  readonly name: string;
  readonly type: DataType;
  readonly source: Source;
  readonly get: (r: RowRef) => Value;
}

export interface Scope {
  /** undefined when no such column */
  lookup(name: string, qualifier: string | undefined): Binding | undefined;
}

export interface Compiled {
  readonly type: DataType | undefined;
  readonly fn: (r: RowRef) => Value;
}

export function invalidColumn(name: string): TaosError {
  return new TaosError(TaosCode.PAR_INVALID_COLUMN, `Invalid column name: ${name}`);
}

export function bind(scope: Scope, name: string, qualifier: string | undefined): Binding {
  const b = scope.lookup(name, qualifier);
  if (!b) throw invalidColumn(name);
  return b;
}

/** Which kinds of columns an expression reads. */
export function sourcesOf(e: Expr, scope: Scope, out = new Set<Source>()): Set<Source> {
  switch (e.k) {
    case 'col':
      out.add(bind(scope, e.name, e.qualifier).source);
      break;
    case 'func':
      for (const a of e.args) sourcesOf(a, scope, out);
      break;
    case 'bin':
      sourcesOf(e.left, scope, out);
      sourcesOf(e.right, scope, out);
      break;
    case 'not':
    case 'neg':
    case 'isnull':
      sourcesOf(e.expr, scope, out);
      break;
    case 'in':
      sourcesOf(e.expr, scope, out);
      for (const x of e.list) sourcesOf(x, scope, out);
      break;
    case 'between':
      sourcesOf(e.expr, scope, out);
      sourcesOf(e.lo, scope, out);
      sourcesOf(e.hi, scope, out);
      break;
    case 'like':
      sourcesOf(e.expr, scope, out);
      sourcesOf(e.pattern, scope, out);
      break;
    case 'lit':
      break;
  }
  return out;
}

export function isConstant(e: Expr): boolean {
  switch (e.k) {
    case 'lit':
      return true;
    case 'neg':
      return isConstant(e.expr);
    case 'bin':
      return isConstant(e.left) && isConstant(e.right);
    case 'col':
    case 'func':
    case 'not':
    case 'isnull':
    case 'in':
    case 'between':
    case 'like':
      return false;
  }
}

/** Natural value and type of a constant outside any column context. */
export function constValue(c: Const): { value: Value; type: DataType | undefined } {
  switch (c.t) {
    case 'int':
      return { value: c.v, type: dataType('BIGINT') };
    case 'float':
      return { value: c.v, type: dataType('DOUBLE') };
    case 'string':
      return { value: c.v, type: dataType('VARCHAR', Math.max(1, Buffer.byteLength(c.v))) };
    case 'bool':
      return { value: c.v, type: dataType('BOOL') };
    case 'null':
      return { value: null, type: undefined };
    case 'ts':
      return { value: c.v, type: dataType('TIMESTAMP') };
    case 'dur':
      return { value: c.v, type: dataType('BIGINT') };
  }
}

/** Converts a constant to the type of the column it is compared with (timestamps, numbers). */
function constFor(e: Expr, other: DataType | undefined, ctx: ValueContext): Value {
  const c = evalConst(e, ctx);
  if (other !== undefined && c.t !== 'null') {
    if (other.name === 'TIMESTAMP' && (c.t === 'string' || c.t === 'int' || c.t === 'ts')) return fromConst(c, other, ctx);
    if (c.t === 'string' && other.name !== 'VARCHAR' && other.name !== 'NCHAR' && other.name !== 'JSON' && other.name !== 'BOOL') {
      const n = Number(c.v);
      if (c.v.trim() !== '' && !Number.isNaN(n)) return n;
    }
  }
  return constValue(c).value;
}

export function compile(e: Expr, scope: Scope, ctx: ValueContext): Compiled {
  switch (e.k) {
    case 'lit':
    case 'neg': {
      if (isConstant(e)) {
        const { value, type } = constValue(evalConst(e, ctx));
        return { type, fn: () => value };
      }
      const inner = compile(e.k === 'neg' ? e.expr : e, scope, ctx);
      return { type: inner.type, fn: (r) => negate(inner.fn(r)) };
    }
    case 'col': {
      const b = bind(scope, e.name, e.qualifier);
      return { type: b.type, fn: b.get };
    }
    case 'func':
      throw new TaosError(TaosCode.OPS_NOT_SUPPORT, `function ${e.name} is not supported here by the TDengine test server`);
    case 'not': {
      const inner = compile(e.expr, scope, ctx);
      return {
        type: dataType('BOOL'),
        fn: (r) => {
          const v = inner.fn(r);
          return v === null ? null : !truthy(v);
        },
      };
    }
    case 'isnull': {
      const inner = compile(e.expr, scope, ctx);
      const not = e.not;
      return { type: dataType('BOOL'), fn: (r) => (inner.fn(r) === null) !== not };
    }
    case 'in': {
      const inner = compile(e.expr, scope, ctx);
      const list = e.list.map((x) => (isConstant(x) ? constFor(x, inner.type, ctx) : undefined));
      if (list.some((v) => v === undefined)) throw new TaosError(TaosCode.OPS_NOT_SUPPORT, 'IN expects constants');
      const not = e.not;
      return {
        type: dataType('BOOL'),
        fn: (r) => {
          const v = inner.fn(r);
          if (v === null) return null;
          const hit = list.some((x) => x !== null && compareValues(v, x as Value) === 0);
          return hit !== not;
        },
      };
    }
    case 'between': {
      const inner = compile(e.expr, scope, ctx);
      const lo = side(e.lo, inner.type, scope, ctx);
      const hi = side(e.hi, inner.type, scope, ctx);
      const not = e.not;
      return {
        type: dataType('BOOL'),
        fn: (r) => {
          const v = inner.fn(r);
          const a = lo(r);
          const b = hi(r);
          if (v === null || a === null || b === null) return null;
          return (compareValues(v, a) >= 0 && compareValues(v, b) <= 0) !== not;
        },
      };
    }
    case 'like': {
      const inner = compile(e.expr, scope, ctx);
      const pat = evalConst(e.pattern, ctx);
      if (pat.t !== 'string') throw new TaosError(TaosCode.PAR_SYNTAX_ERROR, 'syntax error near "like" (pattern must be a string)');
      const re = likeRegex(pat.v);
      const not = e.not;
      return {
        type: dataType('BOOL'),
        fn: (r) => {
          const v = inner.fn(r);
          if (v === null) return null;
          return re.test(String(v)) !== not;
        },
      };
    }
    case 'bin':
      return compileBinary(e, scope, ctx);
  }
}

function side(e: Expr, other: DataType | undefined, scope: Scope, ctx: ValueContext): (r: RowRef) => Value {
  if (isConstant(e)) {
    const v = constFor(e, other, ctx);
    return () => v;
  }
  return compile(e, scope, ctx).fn;
}

function compileBinary(e: Extract<Expr, { k: 'bin' }>, scope: Scope, ctx: ValueContext): Compiled {
  const BOOL = dataType('BOOL');
  if (e.op === 'and' || e.op === 'or') {
    const a = compile(e.left, scope, ctx).fn;
    const b = compile(e.right, scope, ctx).fn;
    if (e.op === 'and') return { type: BOOL, fn: (r) => truthy(a(r)) && truthy(b(r)) };
    return { type: BOOL, fn: (r) => truthy(a(r)) || truthy(b(r)) };
  }
  if (isConstant(e)) {
    const { value, type } = constValue(evalConst(e, ctx));
    return { type, fn: () => value };
  }
  const leftConst = isConstant(e.left);
  const rightConst = isConstant(e.right);
  const lc = leftConst ? undefined : compile(e.left, scope, ctx);
  const rc = rightConst ? undefined : compile(e.right, scope, ctx);
  const a = lc ? lc.fn : side(e.left, rc?.type, scope, ctx);
  const b = rc ? rc.fn : side(e.right, lc?.type, scope, ctx);
  const op = e.op;
  switch (op) {
    case '=':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return {
        type: BOOL,
        fn: (r) => {
          const x = a(r);
          const y = b(r);
          if (x === null || y === null) return null;
          const c = compareValues(x, y);
          switch (op) {
            case '=':
              return c === 0;
            case '!=':
              return c !== 0;
            case '<':
              return c < 0;
            case '<=':
              return c <= 0;
            case '>':
              return c > 0;
            case '>=':
              return c >= 0;
          }
        },
      };
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      const type = lc?.type ?? rc?.type;
      const resultType = type?.name === 'TIMESTAMP' && (op === '+' || op === '-') ? type : dataType('DOUBLE');
      return { type: resultType, fn: (r) => arithmetic(op, a(r), b(r)) };
    }
  }
}

function negate(v: Value): Value {
  if (typeof v === 'number') return -v;
  if (typeof v === 'bigint') return -v;
  return null;
}

function arithmetic(op: string, x: Value, y: Value): Value {
  if (x === null || y === null) return null;
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    switch (op) {
      case '+':
        return x + y;
      case '-':
        return x - y;
      default:
        break;
    }
  }
  const a = Number(x);
  const b = Number(y);
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    default:
      return a % b;
  }
}

export function truthy(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  return v !== '';
}

function cmpBigNum(a: bigint, b: number): number {
  if (Number.isNaN(b)) return 1;
  if (!Number.isFinite(b)) return b > 0 ? -1 : 1;
  const f = Math.floor(b);
  const fb = BigInt(f);
  if (a < fb) return -1;
  if (a > fb) return 1;
  return b === f ? 0 : -1;
}

/** Total order used for comparisons and sorting; both values non-null. */
export function compareValues(a: Value, b: Value): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === tb) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  if (ta === 'boolean') return compareValues(a ? 1 : 0, b);
  if (tb === 'boolean') return compareValues(a, b ? 1 : 0);
  if (ta === 'bigint' && tb === 'number') return cmpBigNum(a as bigint, b as number);
  if (ta === 'number' && tb === 'bigint') return -cmpBigNum(b as bigint, a as number);
  if (ta === 'string') {
    const n = Number(a);
    return Number.isNaN(n) ? 1 : compareValues(n, b);
  }
  if (tb === 'string') return -compareValues(b, a);
  return 0;
}

/** Sort comparator with NULLs first. */
export function compareNullable(a: Value, b: Value): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  return compareValues(a, b);
}

const likeCache = new Map<string, RegExp>();

/** SQL LIKE pattern (% _ and \ escapes) → anchored RegExp. */
export function likeRegex(pattern: string): RegExp {
  const hit = likeCache.get(pattern);
  if (hit) return hit;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const out = new RegExp(`${re}$`, 'u');
  if (likeCache.size > 1000) likeCache.clear();
  likeCache.set(pattern, out);
  return out;
}

/** Splits a WHERE tree into its top-level AND conjuncts. */
export function conjuncts(e: Expr | undefined): Expr[] {
  if (e === undefined) return [];
  if (e.k === 'bin' && e.op === 'and') return [...conjuncts(e.left), ...conjuncts(e.right)];
  return [e];
}

/** A compiled WHERE, or undefined when there is none. */
export function whereFn(where: Expr | undefined, scope: Scope, vctx: ValueContext): ((r: RowRef) => Value) | undefined {
  return where === undefined ? undefined : compile(where, scope, vctx).fn;
}

/** The conjunction of `list`, or undefined when empty. */
export function andAll(list: readonly Expr[]): Expr | undefined {
  if (list.length === 0) return undefined;
  return list.reduce((a, b) => ({ k: 'bin', op: 'and', left: a, right: b }));
}

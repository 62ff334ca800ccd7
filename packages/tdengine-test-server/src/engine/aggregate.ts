/** Aggregate functions of the TDengine REST test server: COUNT, SUM, AVG, MIN, MAX, FIRST, LAST, LAST_ROW. */
import { compareValues, type RowRef } from './expr.ts';
import { dataType, type DataType, isIntegerType, isUnsignedType, type Value } from './types.ts';

export const AGG_FUNCS: ReadonlySet<string> = new Set(['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'last_row']);

export interface AggSpec {
  readonly fn: string;
  readonly star: boolean;
  readonly arg: ((r: RowRef) => Value) | undefined;
  readonly argType: DataType | undefined;
}

/** Result type of an aggregate over `argType`. */
export function aggType(fn: string, argType: DataType | undefined): DataType {
  switch (fn) {
    case 'count':
      return dataType('BIGINT');
    case 'avg':
      return dataType('DOUBLE');
    case 'sum':
      if (argType && (isIntegerType(argType) || argType.name === 'BOOL')) {
        return dataType(isUnsignedType(argType) ? 'BIGINT UNSIGNED' : 'BIGINT');
      }
      return dataType('DOUBLE');
    default:
      return argType ?? dataType('VARCHAR', 1);
  }
}

interface Acc {
  add(v: Value, ts: bigint | undefined): void;
  addCount(n: number): void;
  result(): Value;
}

function makeAcc(spec: AggSpec, outType: DataType): Acc {
  switch (spec.fn) {
    case 'count': {
      let n = 0;
      return {
        add: (v) => {
          if (spec.star || v !== null) n++;
        },
        addCount: (k) => {
          n += k;
        },
        result: () => BigInt(n),
      };
    }
    case 'sum': {
      const big = outType.name !== 'DOUBLE';
      let s: bigint | number | null = null;
      return {
        add: (v) => {
          if (v === null) return;
          if (big) s = ((s as bigint | null) ?? 0n) + (typeof v === 'bigint' ? v : BigInt(Number(v)));
          else s = ((s as number | null) ?? 0) + Number(v);
        },
        addCount: () => undefined,
        result: () => s,
      };
    }
    case 'avg': {
      let s = 0;
      let n = 0;
      return {
        add: (v) => {
          if (v === null) return;
          s += Number(v);
          n++;
        },
        addCount: () => undefined,
        result: () => (n === 0 ? null : s / n),
      };
    }
    case 'min':
    case 'max': {
      const sign = spec.fn === 'min' ? 1 : -1;
      let best: Value = null;
      return {
        add: (v) => {
          if (v !== null && (best === null || sign * compareValues(v, best) < 0)) best = v;
        },
        addCount: () => undefined,
        result: () => best,
      };
    }
    default: {
      // first / last / last_row
      const wantLast = spec.fn !== 'first';
      const keepNull = spec.fn === 'last_row';
      let best: Value = null;
      let bestTs: bigint | undefined;
      let seen = false;
      return {
        add: (v, ts) => {
          if (v === null && !keepNull) return;
          if (!seen) {
            seen = true;
            best = v;
            bestTs = ts;
            return;
          }
          // without timestamps (system tables) arrival order decides
          if (ts === undefined || bestTs === undefined) {
            if (wantLast) {
              best = v;
              bestTs = ts;
            }
            return;
          }
          if (wantLast ? ts >= bestTs : ts < bestTs) {
            best = v;
            bestTs = ts;
          }
        },
        addCount: () => undefined,
        result: () => best,
      };
    }
  }
}

interface Group {
  readonly accs: (Acc | undefined)[];
  readonly plain: Value[];
}

/** One output column of an aggregate query. */
export interface AggItem {
  readonly type: DataType;
  readonly agg: AggSpec | undefined;
  /** non-aggregate items (partition keys, tags, constants): taken from the group's first row */
  readonly get: ((r: RowRef) => Value) | undefined;
}

export interface AggInput {
  readonly items: readonly AggItem[];
  /** PARTITION BY / GROUP BY keys */
  readonly partitions: readonly ((r: RowRef) => Value)[];
  /** Visits every input row (ts undefined for system tables, where arrival order counts). */
  readonly forEachRow: (visit: (r: RowRef, ts: bigint | undefined) => void) => void;
  /**
   * When every aggregate is COUNT(*) and there is no row filter: (table, rows) pairs, so
   * counting is two binary searches per table instead of a scan.
   */
  readonly tableCounts: (() => Iterable<readonly [RowRef, number]>) | undefined;
}

/** Groups and aggregates; without partitions there is always exactly one output row. */
export function aggregate(input: AggInput): Value[][] {
  const { items, partitions } = input;
  const groups = new Map<string, Group>();
  const newGroup = (r: RowRef | undefined): Group => ({
    accs: items.map((i) => (i.agg ? makeAcc(i.agg, i.type) : undefined)),
    plain: items.map((i) => (i.agg || r === undefined ? null : i.get!(r))),
  });
  const keyOf = (r: RowRef): string =>
    partitions
      .map((p) => {
        const v = p(r);
        return `${typeof v}:${String(v)}`;
      })
      .join('\u0000');
  const groupFor = (r: RowRef): Group => {
    const key = partitions.length === 0 ? '' : keyOf(r);
    let g = groups.get(key);
    if (!g) {
      g = newGroup(r);
      groups.set(key, g);
    }
    return g;
  };
  if (input.tableCounts) {
    for (const [ref, n] of input.tableCounts()) {
      if (n === 0 && partitions.length > 0) continue;
      for (const a of groupFor(ref).accs) a?.addCount(n);
    }
  } else {
    input.forEachRow((r, ts) => {
      const g = groupFor(r);
      for (let k = 0; k < items.length; k++) {
        const acc = g.accs[k];
        if (!acc) continue;
        const spec = items[k]!.agg!;
        acc.add(spec.arg ? spec.arg(r) : 1, ts);
      }
    });
  }
  if (groups.size === 0 && partitions.length === 0) groups.set('', newGroup(undefined));
  return [...groups.values()].map((g) => items.map((_, k) => (g.accs[k] ? g.accs[k].result() : g.plain[k]!)));
}

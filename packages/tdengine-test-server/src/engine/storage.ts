/**
 * Rows of one table, stored column by column and kept sorted by the (unique) timestamp.
 *
 * Fixed-width types live in typed arrays (off the JS heap, a few bytes per value) with a
 * lazily allocated null map; variable-width values (strings, hex, decimals) in plain arrays.
 * A row whose timestamp already exists is merged column by column, as TDengine does:
 * omitted columns keep their old value, explicit NULL overwrites.
 */
import type { DataType, Value } from './types.ts';

type NumArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
type BigArray = BigInt64Array | BigUint64Array;

interface ColumnStore {
  get(i: number): Value;
  set(i: number, v: Value): void;
  resize(cap: number): void;
  /** Moves [from, len) to [from + by, len + by) (by may be negative). */
  move(from: number, len: number, by: number): void;
  /** Drops the values of rows >= n (references only; typed arrays keep their bytes). */
  truncate(n: number): void;
}

class NumColumn implements ColumnStore {
  private nulls: Uint8Array | null = null;
  constructor(
    private arr: NumArray,
    private readonly make: (n: number) => NumArray,
    private readonly isBool: boolean,
  ) {}
  get(i: number): Value {
    if (this.nulls !== null && this.nulls[i] === 1) return null;
    return this.isBool ? this.arr[i] !== 0 : this.arr[i]!;
  }
  set(i: number, v: Value): void {
    if (v === null) {
      if (this.nulls === null) this.nulls = new Uint8Array(this.arr.length);
      this.nulls[i] = 1;
      this.arr[i] = 0;
      return;
    }
    if (this.nulls !== null) this.nulls[i] = 0;
    this.arr[i] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as number);
  }
  resize(cap: number): void {
    const next = this.make(cap);
    next.set(this.arr.subarray(0, Math.min(cap, this.arr.length)));
    this.arr = next;
    if (this.nulls !== null) {
      const n = new Uint8Array(cap);
      n.set(this.nulls.subarray(0, Math.min(cap, this.nulls.length)));
      this.nulls = n;
    }
  }
  move(from: number, len: number, by: number): void {
    this.arr.copyWithin(from + by, from, len);
    if (this.nulls !== null) this.nulls.copyWithin(from + by, from, len);
  }
  truncate(): void {
    // rows past the length are overwritten (nulls included) before they are used again
  }
}

class BigColumn implements ColumnStore {
  private nulls: Uint8Array | null = null;
  constructor(
    private arr: BigArray,
    private readonly make: (n: number) => BigArray,
  ) {}
  get(i: number): Value {
    if (this.nulls !== null && this.nulls[i] === 1) return null;
    return this.arr[i]!;
  }
  set(i: number, v: Value): void {
    if (v === null) {
      if (this.nulls === null) this.nulls = new Uint8Array(this.arr.length);
      this.nulls[i] = 1;
      this.arr[i] = 0n;
      return;
    }
    if (this.nulls !== null) this.nulls[i] = 0;
    this.arr[i] = v as bigint;
  }
  resize(cap: number): void {
    const next = this.make(cap);
    next.set(this.arr.subarray(0, Math.min(cap, this.arr.length)));
    this.arr = next;
    if (this.nulls !== null) {
      const n = new Uint8Array(cap);
      n.set(this.nulls.subarray(0, Math.min(cap, this.nulls.length)));
      this.nulls = n;
    }
  }
  move(from: number, len: number, by: number): void {
    this.arr.copyWithin(from + by, from, len);
    if (this.nulls !== null) this.nulls.copyWithin(from + by, from, len);
  }
  truncate(): void {
    // as NumColumn
  }
}

class ObjColumn implements ColumnStore {
  private arr: Value[] = [];
  get(i: number): Value {
    return this.arr[i] ?? null;
  }
  set(i: number, v: Value): void {
    this.arr[i] = v;
  }
  resize(cap: number): void {
    if (this.arr.length > cap) this.arr.length = cap;
  }
  move(from: number, len: number, by: number): void {
    if (by > 0) {
      this.arr.splice(from, 0, ...new Array<Value>(by).fill(null));
      this.arr.length = Math.max(this.arr.length, len + by);
    } else this.arr.splice(from + by, -by);
  }
  truncate(n: number): void {
    if (this.arr.length > n) this.arr.length = n;
  }
}

function columnStore(type: DataType, cap: number): ColumnStore {
  switch (type.name) {
    case 'BOOL':
      return new NumColumn(new Uint8Array(cap), (n) => new Uint8Array(n), true);
    case 'TINYINT':
      return new NumColumn(new Int8Array(cap), (n) => new Int8Array(n), false);
    case 'SMALLINT':
      return new NumColumn(new Int16Array(cap), (n) => new Int16Array(n), false);
    case 'INT':
      return new NumColumn(new Int32Array(cap), (n) => new Int32Array(n), false);
    case 'TINYINT UNSIGNED':
      return new NumColumn(new Uint8Array(cap), (n) => new Uint8Array(n), false);
    case 'SMALLINT UNSIGNED':
      return new NumColumn(new Uint16Array(cap), (n) => new Uint16Array(n), false);
    case 'INT UNSIGNED':
      return new NumColumn(new Uint32Array(cap), (n) => new Uint32Array(n), false);
    case 'FLOAT':
      return new NumColumn(new Float32Array(cap), (n) => new Float32Array(n), false);
    case 'DOUBLE':
      return new NumColumn(new Float64Array(cap), (n) => new Float64Array(n), false);
    case 'TIMESTAMP':
    case 'BIGINT':
      return new BigColumn(new BigInt64Array(cap), (n) => new BigInt64Array(n));
    case 'BIGINT UNSIGNED':
      return new BigColumn(new BigUint64Array(cap), (n) => new BigUint64Array(n));
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
    case 'VARBINARY':
    case 'GEOMETRY':
    case 'BLOB':
    case 'DECIMAL':
      return new ObjColumn();
  }
}

export class TableData {
  private tsArr: BigInt64Array;
  private readonly cols: ColumnStore[];
  private cap: number;
  length = 0;
  /** Bumped whenever existing rows change position (insert in the middle, delete). */
  version = 0;

  /** `types` are the non-timestamp columns, in schema order. */
  constructor(types: readonly DataType[]) {
    this.cap = 0;
    this.tsArr = new BigInt64Array(0);
    this.cols = types.map((t) => columnStore(t, 0));
  }

  ts(i: number): bigint {
    return this.tsArr[i]!;
  }

  /** Value of non-timestamp column `c` (0-based after ts) at row `i`. */
  get(c: number, i: number): Value {
    return this.cols[c]!.get(i);
  }

  get lastTs(): bigint | undefined {
    return this.length === 0 ? undefined : this.tsArr[this.length - 1];
  }

  /** First index whose ts >= t. */
  lowerBound(t: bigint): number {
    let lo = 0;
    let hi = this.length;
    const a = this.tsArr;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose ts > t. */
  upperBound(t: bigint): number {
    let lo = 0;
    let hi = this.length;
    const a = this.tsArr;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Makes room for `extra` more rows. */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.cap) return;
    const cap = Math.max(need, Math.ceil(this.cap * 1.5), 16);
    const ts = new BigInt64Array(cap);
    ts.set(this.tsArr.subarray(0, this.length));
    this.tsArr = ts;
    for (const c of this.cols) c.resize(cap);
    this.cap = cap;
  }

  /**
   * Writes one row. `values[c]` is the value of non-timestamp column c, or undefined when
   * the column was not written (keeps the old value, NULL for a new row). With `undo`,
   * records how to take the write back.
   */
  upsert(ts: bigint, values: readonly (Value | undefined)[], undo?: UndoLog): void {
    const n = this.length;
    const cols = this.cols;
    if (n === 0 || ts > this.tsArr[n - 1]!) {
      if (undo && undo.lastAppend !== this) undo.appending(this, n);
      if (n === this.cap) this.reserve(1);
      this.tsArr[n] = ts;
      for (let c = 0; c < cols.length; c++) {
        const v = values[c];
        cols[c]!.set(n, v === undefined ? null : v);
      }
      this.length = n + 1;
      return;
    }
    const idx = this.lowerBound(ts);
    if (idx < n && this.tsArr[idx] === ts) {
      if (undo) {
        const old = cols.map((c) => c.get(idx));
        undo.push(() => this.upsert(ts, old));
      }
      for (let c = 0; c < cols.length; c++) {
        const v = values[c];
        if (v !== undefined) cols[c]!.set(idx, v);
      }
      return;
    }
    undo?.push(() => this.deleteRange(ts, ts));
    if (n === this.cap) this.reserve(1);
    this.tsArr.copyWithin(idx + 1, idx, n);
    for (const c of cols) c.move(idx, n, 1);
    this.tsArr[idx] = ts;
    for (let c = 0; c < cols.length; c++) {
      const v = values[c];
      cols[c]!.set(idx, v === undefined ? null : v);
    }
    this.length = n + 1;
    this.version++;
  }

  /** Forgets the rows from index n on (they were appended by a statement that failed). */
  truncate(n: number): void {
    if (n >= this.length) return;
    this.length = n;
    for (const c of this.cols) c.truncate(n);
    this.version++;
  }

  /** Deletes rows with lo <= ts <= hi; returns how many. */
  deleteRange(lo: bigint, hi: bigint): number {
    const a = this.lowerBound(lo);
    const b = this.upperBound(hi);
    const k = b - a;
    if (k <= 0) return 0;
    this.tsArr.copyWithin(a, b, this.length);
    for (const c of this.cols) c.move(b, this.length, -k);
    this.length -= k;
    this.version++;
    return k;
  }
}

/**
 * How to take back the writes of a statement that fails half-way (a bad value in the last
 * row of an INSERT writes nothing). Execution is synchronous, so nobody sees the interim.
 * Runs of appends to one table cost a single entry.
 */
export class UndoLog {
  private readonly entries: (() => void)[] = [];
  /** The table the last entry truncates, while appends to it continue. */
  lastAppend: TableData | undefined;

  push(undo: () => void): void {
    this.entries.push(undo);
    this.lastAppend = undefined;
  }

  appending(data: TableData, lengthBefore: number): void {
    this.entries.push(() => data.truncate(lengthBefore));
    this.lastAppend = data;
  }

  rollback(): void {
    for (let i = this.entries.length - 1; i >= 0; i--) this.entries[i]!();
    this.entries.length = 0;
    this.lastAppend = undefined;
  }
}

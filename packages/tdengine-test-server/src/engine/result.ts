/** What executing one statement yields: an affected-rows count, or a (lazily produced) row set. */
import type { DataType, Precision, Value } from './types.ts';

export interface ResultColumn {
  readonly name: string;
  readonly type: DataType;
}

/** Produces rows one at a time, so large results are never materialized. */
export interface RowCursor {
  /** The next row (a fresh array the caller may keep), or undefined at the end. */
  next(): Value[] | undefined;
}

export interface RowsResult {
  readonly kind: 'rows';
  readonly columns: readonly ResultColumn[];
  /** Precision of every TIMESTAMP column in the result. */
  readonly precision: Precision;
  readonly cursor: RowCursor;
}

export interface AffectedResult {
  readonly kind: 'affected';
  readonly rows: number;
}

export type ExecResult = RowsResult | AffectedResult;

export function arrayCursor(rows: readonly Value[][]): RowCursor {
  let i = 0;
  return { next: () => (i < rows.length ? rows[i++] : undefined) };
}

export function rowsResult(columns: readonly ResultColumn[], rows: readonly Value[][], precision: Precision = 'ms'): RowsResult {
  return { kind: 'rows', columns, precision, cursor: arrayCursor(rows) };
}

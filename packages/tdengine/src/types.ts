/** Value and type model of the TDengine connector. */

import { TdInvalidInputError } from './errors.ts';

export type Precision = 'ms' | 'us' | 'ns';

export const PRECISIONS: readonly Precision[] = ['ms', 'us', 'ns'];

/** One entry of a response's `column_meta`: `[name, TYPE, length]`. */
export interface ColumnMeta {
  readonly name: string;
  /** As the server names it: `BIGINT UNSIGNED`, `VARCHAR` (also for BINARY), `DECIMAL(20,4)`... */
  readonly type: string;
  readonly length: number;
}

/**
 * A value as the REST response carried it, losslessly:
 * - a JSON number: its exact text (`"-9223372036854775808"`, `"3.4028235e+38"`), never a JS number;
 * - a JSON string: the decoded string (timestamps stay RFC 3339 text at the server's precision,
 *   VARBINARY / GEOMETRY / BLOB stay lowercase hex, DECIMAL stays its text);
 * - a JSON column (a JSON tag): the raw JSON text of the nested value (`{"k":"v"}`);
 * - true / false, and null for NULL (and for NaN / ±Inf floats: REST cannot tell them apart).
 *
 * Which of the first two a string is follows from the column's type.
 */
export type RawValue = string | boolean | null;

/**
 * A value in the connector's canonical form, the one td-jsonl lines and tag values hold:
 * like {@link RawValue}, except that TIMESTAMP is the integer epoch (digits) in the database
 * precision and JSON is the tag's JSON text.
 */
export type TdValue = string | boolean | null;

export type TdTypeName =
  | 'TIMESTAMP'
  | 'BOOL'
  | 'TINYINT'
  | 'SMALLINT'
  | 'INT'
  | 'BIGINT'
  | 'TINYINT UNSIGNED'
  | 'SMALLINT UNSIGNED'
  | 'INT UNSIGNED'
  | 'BIGINT UNSIGNED'
  | 'FLOAT'
  | 'DOUBLE'
  | 'VARCHAR'
  | 'NCHAR'
  | 'JSON'
  | 'VARBINARY'
  | 'GEOMETRY'
  | 'DECIMAL'
  | 'BLOB';

const TYPE_NAMES: ReadonlySet<string> = new Set<TdTypeName>([
  'TIMESTAMP',
  'BOOL',
  'TINYINT',
  'SMALLINT',
  'INT',
  'BIGINT',
  'TINYINT UNSIGNED',
  'SMALLINT UNSIGNED',
  'INT UNSIGNED',
  'BIGINT UNSIGNED',
  'FLOAT',
  'DOUBLE',
  'VARCHAR',
  'NCHAR',
  'JSON',
  'VARBINARY',
  'GEOMETRY',
  'DECIMAL',
  'BLOB',
]);

export interface TdType {
  readonly name: TdTypeName;
  /** Declared length of VARCHAR / NCHAR / VARBINARY / GEOMETRY, precision of DECIMAL, else 0. */
  readonly length: number;
  /** DECIMAL scale, else 0. */
  readonly scale: number;
}

/** A data column or a tag. */
export interface ColumnInfo {
  readonly name: string;
  readonly type: TdType;
}

/** A tag of a child table with its value in canonical form. */
export interface TagValue extends ColumnInfo {
  readonly value: TdValue;
}

/** The types whose declared length is part of the DDL. */
function hasLength(name: TdTypeName): boolean {
  return name === 'VARCHAR' || name === 'NCHAR' || name === 'VARBINARY' || name === 'GEOMETRY';
}

/**
 * A type from its server spelling (DESCRIBE's `type` + `length`, or column_meta): `BINARY`
 * is VARCHAR, `DECIMAL(p, s)` carries precision and scale, case and spacing are normalised.
 */
export function parseTdType(text: string, length = 0): TdType {
  const t = text.trim().toUpperCase().replace(/\s+/g, ' ');
  const dec = /^DECIMAL(?:64)?\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t);
  if (dec) return { name: 'DECIMAL', length: Number(dec[1]), scale: Number(dec[2]) };
  const withLen = /^(VARCHAR|BINARY|NCHAR|VARBINARY|GEOMETRY)\s*\(\s*(\d+)\s*\)$/.exec(t);
  const base = withLen ? withLen[1]! : t;
  const name = base === 'BINARY' ? 'VARCHAR' : base;
  if (!TYPE_NAMES.has(name)) throw new TdInvalidInputError(`unsupported TDengine type ${JSON.stringify(text)}`);
  const n = name as TdTypeName;
  const len = withLen ? Number(withLen[2]) : hasLength(n) ? length : 0;
  return { name: n, length: len, scale: 0 };
}

/** The type as written in DDL: `VARCHAR(20)`, `DECIMAL(20,4)`, `BIGINT UNSIGNED`. */
export function typeSql(t: TdType): string {
  if (hasLength(t.name)) {
    if (!Number.isInteger(t.length) || t.length <= 0) throw new TdInvalidInputError(`${t.name} needs a positive length`);
    return `${t.name}(${t.length})`;
  }
  if (t.name === 'DECIMAL') {
    if (!Number.isInteger(t.length) || !Number.isInteger(t.scale) || t.length <= 0 || t.scale < 0) {
      throw new TdInvalidInputError('DECIMAL needs a precision and a scale');
    }
    return `DECIMAL(${t.length},${t.scale})`;
  }
  return t.name;
}

export function isPrecision(v: unknown): v is Precision {
  return v === 'ms' || v === 'us' || v === 'ns';
}

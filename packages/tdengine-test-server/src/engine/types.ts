/**
 * TDengine 3.x data types as the TDengine REST test server models them, and the in-memory
 * representation of a value of each type.
 *
 * | type                              | JS value                                   |
 * |-----------------------------------|--------------------------------------------|
 * | TIMESTAMP                         | bigint, in the database precision          |
 * | BOOL                              | boolean                                    |
 * | TINYINT..INT, their UNSIGNED      | number                                     |
 * | BIGINT, BIGINT UNSIGNED           | bigint (never a JS number)                 |
 * | FLOAT, DOUBLE                     | number (FLOAT already rounded by fround)   |
 * | VARCHAR (BINARY), NCHAR           | string                                     |
 * | JSON (tags only)                  | string: canonical JSON text of the object  |
 * | VARBINARY, GEOMETRY (WKB), BLOB   | string: lowercase hex of the bytes         |
 * | DECIMAL(p,s)                      | bigint: the unscaled value (value * 10^s)  |
 */

export type TypeName =
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

export interface DataType {
  readonly name: TypeName;
  /** Declared length for VARCHAR/NCHAR/VARBINARY/GEOMETRY; precision for DECIMAL; else 0. */
  readonly length: number;
  /** DECIMAL scale. */
  readonly scale: number;
}

export type Value = null | boolean | number | bigint | string;

export type Precision = 'ms' | 'us' | 'ns';

export interface ColumnDef {
  readonly name: string;
  readonly type: DataType;
}

/** Maximum declared lengths (TDengine 3.x `tdef.h`). */
export const MAX_BINARY_LEN = 65517;
export const MAX_NCHAR_LEN = 16382;
export const MAX_JSON_TAG_LEN_REPORTED = 4095;
export const BLOB_REPORTED_LEN = 4194304;

export function dataType(name: TypeName, length = 0, scale = 0): DataType {
  return { name, length, scale };
}

const FIXED_BYTES: Partial<Record<TypeName, number>> = {
  TIMESTAMP: 8,
  BOOL: 1,
  TINYINT: 1,
  SMALLINT: 2,
  INT: 4,
  BIGINT: 8,
  'TINYINT UNSIGNED': 1,
  'SMALLINT UNSIGNED': 2,
  'INT UNSIGNED': 4,
  'BIGINT UNSIGNED': 8,
  FLOAT: 4,
  DOUBLE: 8,
};

/** Type name as it appears in `column_meta` (BINARY is reported as VARCHAR). */
export function metaTypeName(t: DataType): string {
  return t.name === 'DECIMAL' ? `DECIMAL(${t.length},${t.scale})` : t.name;
}

/** Length as it appears in `column_meta` and DESCRIBE: the declared length for var types. */
export function metaLength(t: DataType): number {
  const fixed = FIXED_BYTES[t.name];
  if (fixed !== undefined) return fixed;
  if (t.name === 'JSON') return MAX_JSON_TAG_LEN_REPORTED;
  if (t.name === 'BLOB') return BLOB_REPORTED_LEN;
  if (t.name === 'DECIMAL') return t.length > 18 ? 16 : 8;
  return t.length;
}

/** Type as written in DDL (`SHOW CREATE ...`) and in `ins_tags.tag_type`/`ins_columns.col_type`. */
export function ddlTypeName(t: DataType): string {
  if (t.name === 'VARCHAR' || t.name === 'NCHAR' || t.name === 'VARBINARY' || t.name === 'GEOMETRY') return `${t.name}(${t.length})`;
  if (t.name === 'DECIMAL') return `DECIMAL(${t.length},${t.scale})`;
  return t.name;
}

export function isIntegerType(t: DataType): boolean {
  return INT_RANGE[t.name] !== undefined;
}

export function isUnsignedType(t: DataType): boolean {
  return t.name.endsWith(' UNSIGNED');
}

/** Integer ranges for the integer types (as bigint to cover 64-bit bounds exactly). */
export const INT_RANGE: Readonly<Record<string, readonly [bigint, bigint]>> = {
  TINYINT: [-128n, 127n],
  SMALLINT: [-32768n, 32767n],
  INT: [-2147483648n, 2147483647n],
  BIGINT: [-9223372036854775808n, 9223372036854775807n],
  'TINYINT UNSIGNED': [0n, 255n],
  'SMALLINT UNSIGNED': [0n, 65535n],
  'INT UNSIGNED': [0n, 4294967295n],
  'BIGINT UNSIGNED': [0n, 18446744073709551615n],
};

export const PRECISION_TICKS_PER_SEC: Readonly<Record<Precision, bigint>> = {
  ms: 1000n,
  us: 1000000n,
  ns: 1000000000n,
};

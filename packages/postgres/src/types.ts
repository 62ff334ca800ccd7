/** Value types shared by the connector's operations. */

/** A relation by schema and name, both unquoted (as stored in the catalog). */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
}

/** A table with the columns that COPY moves, in attnum order. */
export interface TableSpec extends TableRef {
  /** Column names in attnum order, without dropped and generated (stored) columns. */
  readonly columns: readonly string[];
}

/**
 * A range of heap blocks: rows whose ctid is in `[fromBlock, toBlock)`; `toBlock: null`
 * means "to the end of the table, however long it has grown".
 */
export interface BlockRange {
  readonly fromBlock: number;
  readonly toBlock: number | null;
}

/** Server version as `server_version_num` (150019) and its text form ("15.19"). */
export interface ServerVersion {
  readonly num: number;
  readonly text: string;
  readonly major: number;
}

/** A sequence's state, as `SELECT last_value, is_called FROM seq` reports it. */
export interface SequenceValue extends TableRef {
  /** bigint as a decimal string: sequences can exceed 2^53. */
  readonly lastValue: string;
  readonly isCalled: boolean;
}

/** pg_dump's sections; the data section is ours (COPY). */
export type SchemaSection = 'pre-data' | 'post-data';

export function tableKey(ref: TableRef): string {
  return JSON.stringify([ref.schema, ref.name]);
}

export function serverVersionFromNum(num: number): ServerVersion {
  const major = num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 100) / 10;
  const text = num >= 100000 ? `${major}.${num % 10000}` : `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}.${num % 100}`;
  return { num, text, major };
}

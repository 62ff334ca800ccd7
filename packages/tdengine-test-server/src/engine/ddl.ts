/**
 * Text views of the schema as TDengine prints them: SHOW CREATE STABLE/TABLE, DESCRIBE,
 * and the lossy tag strings of `ins_tags.tag_value` / `SHOW CREATE TABLE <child>`.
 * The lossy forms are reproduced on purpose (FLOAT %.5f, DOUBLE %.9f, %e in DDL, strings
 * double-quoted without escaping): a backup tool must not rely on them.
 */
import type { SuperTable, Table } from './catalog.ts';
import { wkbToWkt } from './geometry.ts';
import { dataType, ddlTypeName, metaLength, type ColumnDef, type DataType, type Value } from './types.ts';
import { formatDecimal } from './values.ts';
import type { ResultColumn } from './result.ts';

function columnList(cols: readonly ColumnDef[]): string {
  return cols.map((c) => `\`${c.name}\` ${ddlTypeName(c.type)}`).join(', ');
}

function escapeComment(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

export function createStableDdl(st: SuperTable, suffix: string): string {
  let s = `CREATE STABLE \`${st.name}\` (${columnList(st.columns)}) TAGS (${columnList(st.tags)})`;
  if (st.comment !== undefined) s += ` COMMENT '${escapeComment(st.comment)}'`;
  return suffix ? `${s} ${suffix}` : s;
}

export function createTableDdl(t: Table): string {
  let s: string;
  if (t.stable !== undefined) {
    const names = t.stable.tags.map((c) => `\`${c.name}\``).join(', ');
    const values = t.stable.tags.map((c, i) => ddlTagValue(t.tags?.[i] ?? null, c.type)).join(', ');
    s = `CREATE TABLE \`${t.name}\` USING \`${t.stable.name}\` (${names}) TAGS (${values})`;
  } else s = `CREATE TABLE \`${t.name}\` (${columnList(t.columns)})`;
  if (t.comment !== undefined) s += ` COMMENT '${escapeComment(t.comment)}'`;
  if (t.ttl > 0) s += ` TTL ${t.ttl}`;
  return s;
}

/** C printf("%e"). */
function cExp(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const [m, e] = v.toExponential(6).split('e') as [string, string];
  const sign = e.startsWith('-') ? '-' : '+';
  return `${m}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
}

function ddlTagValue(v: Value, type: DataType): string {
  if (v === null) return 'NULL';
  switch (type.name) {
    case 'VARCHAR':
    case 'NCHAR':
      return `"${String(v)}"`;
    case 'FLOAT':
    case 'DOUBLE':
      return cExp(v as number);
    case 'JSON':
      return String(v);
    case 'VARBINARY':
    case 'BLOB':
      return `"\\x${String(v)}"`;
    case 'GEOMETRY':
      return `"${wkbToWkt(Buffer.from(String(v), 'hex'))}"`;
    case 'DECIMAL':
      return formatDecimal(v as bigint, type.scale);
    case 'BOOL':
      return v ? 'true' : 'false';
    case 'TIMESTAMP':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      return String(v);
  }
}

/** `convertTagDataToStr`: the lossy text in ins_tags.tag_value and SHOW TAGS. */
export function lossyTagText(v: Value, type: DataType): string | null {
  if (v === null) return null;
  switch (type.name) {
    case 'FLOAT':
      return (v as number).toFixed(5);
    case 'DOUBLE':
      return (v as number).toFixed(9);
    case 'BOOL':
      return v ? 'true' : 'false';
    case 'VARBINARY':
    case 'BLOB':
      return `\\x${String(v)}`;
    case 'GEOMETRY':
      return wkbToWkt(Buffer.from(String(v), 'hex'));
    case 'DECIMAL':
      return formatDecimal(v as bigint, type.scale);
    case 'TIMESTAMP':
    case 'VARCHAR':
    case 'NCHAR':
    case 'JSON':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
    case 'TINYINT UNSIGNED':
    case 'SMALLINT UNSIGNED':
    case 'INT UNSIGNED':
    case 'BIGINT UNSIGNED':
      return String(v);
  }
}

export const DESCRIBE_COLUMNS: readonly ResultColumn[] = [
  { name: 'field', type: dataType('VARCHAR', 64) },
  { name: 'type', type: dataType('VARCHAR', 20) },
  { name: 'length', type: dataType('INT') },
  { name: 'note', type: dataType('VARCHAR', 16) },
];

function describeType(t: DataType): string {
  return t.name === 'DECIMAL' ? `DECIMAL(${t.length}, ${t.scale})` : t.name;
}

export function describeRows(columns: readonly ColumnDef[], tags: readonly ColumnDef[]): Value[][] {
  return [
    ...columns.map((c): Value[] => [c.name, describeType(c.type), metaLength(c.type), '']),
    ...tags.map((c): Value[] => [c.name, describeType(c.type), metaLength(c.type), 'TAG']),
  ];
}

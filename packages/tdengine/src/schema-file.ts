/**
 * td-ddl-jsonl: the structure of one database in a backup, one JSON object per line
 * (README.md): the database with its options (precision first of all), then each super table
 * (columns and tags), normal table, and child table with its typed tag values. Types are kept
 * as SQL text (`VARCHAR(20)`), tag values in the canonical lossless form of `childTables`.
 *
 *   {"kind":"database","name":"power","precision":"ms","options":[["KEEP","3650d"]],"createSql":"..."}
 *   {"kind":"stable","name":"meters","columns":[["ts","TIMESTAMP"],...],"tags":[["location","VARCHAR(64)"],...]}
 *   {"kind":"table","name":"events","columns":[...]}
 *   {"kind":"child","name":"d1001","stable":"meters","tags":["California.SanFrancisco",2]}
 */

import { TdInvalidInputError } from './errors.ts';
import type { ChildTable, DatabaseOptions } from './discover.ts';
import { type ColumnInfo, type Precision, type TagValue, type TdValue, isPrecision, parseTdType, typeSql } from './types.ts';

export interface SuperTableDef {
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
  readonly tags: readonly ColumnInfo[];
}

export interface NormalTableDef {
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
}

export interface ChildTableDef {
  readonly name: string;
  readonly stable: string;
  readonly tags: readonly TdValue[];
}

export interface DatabaseSchema {
  readonly name: string;
  readonly options: DatabaseOptions;
  readonly stables: SuperTableDef[];
  readonly tables: NormalTableDef[];
  readonly children: ChildTableDef[];
}

const cols = (c: readonly ColumnInfo[]) => c.map((x) => [x.name, typeSql(x.type)]);

/** The lines of a schema file, one by one (child tables may be many). */
export function* schemaLines(
  name: string,
  options: DatabaseOptions,
  stables: readonly SuperTableDef[],
  tables: readonly NormalTableDef[],
  children: Iterable<{ stable: string; child: ChildTable }>,
): Generator<string> {
  yield `${JSON.stringify({ kind: 'database', name, precision: options.precision, options: options.options, createSql: options.createSql })}\n`;
  for (const s of stables) yield `${JSON.stringify({ kind: 'stable', name: s.name, columns: cols(s.columns), tags: cols(s.tags) })}\n`;
  for (const t of tables) yield `${JSON.stringify({ kind: 'table', name: t.name, columns: cols(t.columns) })}\n`;
  for (const { stable, child } of children)
    yield `${JSON.stringify({ kind: 'child', name: child.name, stable, tags: child.tags.map((t) => t.value) })}\n`;
}

/** Reads a schema file (as text lines) back; every line is checked. */
export async function readSchema(lines: AsyncIterable<string>, label: string): Promise<DatabaseSchema> {
  let db: { name: string; options: DatabaseOptions } | undefined;
  const stables: SuperTableDef[] = [];
  const tables: NormalTableDef[] = [];
  const children: ChildTableDef[] = [];
  const bad = (msg: string): never => {
    throw new TdInvalidInputError(`${label}: ${msg}`);
  };
  const columnsOf = (v: unknown, what: string): ColumnInfo[] => {
    if (!Array.isArray(v)) return bad(`${what}: columns are not a list`);
    return v.map((c: unknown) => {
      if (!Array.isArray(c) || typeof c[0] !== 'string' || typeof c[1] !== 'string') return bad(`${what}: a column is not [name, type]`);
      return { name: c[0], type: parseTdType(c[1]) };
    });
  };
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return bad(`line ${n} is not JSON`);
    }
    const name = typeof o.name === 'string' ? o.name : bad(`line ${n} has no name`);
    switch (o.kind) {
      case 'database': {
        const precision = isPrecision(o.precision) ? (o.precision as Precision) : bad(`database ${name}: unknown precision`);
        const options = Array.isArray(o.options) ? (o.options as [string, string][]) : bad(`database ${name}: options missing`);
        db = { name, options: { precision, options, createSql: typeof o.createSql === 'string' ? o.createSql : '' } };
        break;
      }
      case 'stable':
        stables.push({ name, columns: columnsOf(o.columns, name), tags: columnsOf(o.tags, name) });
        break;
      case 'table':
        tables.push({ name, columns: columnsOf(o.columns, name) });
        break;
      case 'child': {
        const stable = typeof o.stable === 'string' ? o.stable : bad(`child table ${name}: no super table`);
        if (!Array.isArray(o.tags)) bad(`child table ${name}: tags are not a list`);
        children.push({ name, stable, tags: o.tags as TdValue[] });
        break;
      }
      default:
        bad(`line ${n}: unknown kind ${JSON.stringify(o.kind)}`);
    }
  }
  if (!db) return bad('no database line');
  return { ...db, stables, tables, children };
}

/** A child table's tags typed by its super table's tag columns. */
export function childTags(child: ChildTableDef, stable: SuperTableDef): TagValue[] {
  if (child.tags.length !== stable.tags.length)
    throw new TdInvalidInputError(
      `child table ${child.name} has ${child.tags.length} tag values, ${stable.name} has ${stable.tags.length} tags`,
    );
  return stable.tags.map((t, i) => ({ name: t.name, type: t.type, value: child.tags[i] ?? null }));
}

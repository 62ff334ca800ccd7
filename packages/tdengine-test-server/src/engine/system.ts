/**
 * `information_schema` tables of the TDengine REST test server, built on demand from the
 * catalog. Columns and lengths follow TDengine 3.x `systable.c` (the subset listed in the
 * contract). System timestamps (create_time...) are in ms.
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import { type Catalog, type Database, SYSTEM_DATABASES } from './catalog.ts';
import { lossyTagText } from './ddl.ts';
import { formatMinutes, keepText } from './dboptions.ts';
import type { ResultColumn } from './result.ts';
import { type ColumnDef, dataType, ddlTypeName, metaLength, type TypeName, type Value } from './types.ts';

export interface SysTable {
  readonly columns: readonly ResultColumn[];
  readonly rows: Value[][];
}

function col(name: string, type: TypeName, length = 0): ResultColumn {
  return { name, type: dataType(type, length) };
}

/** Table counts TDengine reports for its own system databases (contract §1.4 example). */
const SYSTEM_DB_NTABLES: Readonly<Record<string, bigint>> = { information_schema: 16n, performance_schema: 9n };

const INS_DATABASES: readonly ResultColumn[] = [
  col('name', 'VARCHAR', 64),
  col('create_time', 'TIMESTAMP'),
  col('vgroups', 'INT'),
  col('ntables', 'BIGINT'),
  col('replica', 'TINYINT'),
  col('strict', 'VARCHAR', 4),
  col('duration', 'VARCHAR', 10),
  col('keep', 'VARCHAR', 32),
  col('buffer', 'INT'),
  col('pagesize', 'INT'),
  col('pages', 'INT'),
  col('minrows', 'INT'),
  col('maxrows', 'INT'),
  col('comp', 'TINYINT'),
  col('precision', 'VARCHAR', 2),
  col('status', 'VARCHAR', 10),
  col('retentions', 'VARCHAR', 60),
  col('single_stable', 'BOOL'),
  col('cachemodel', 'VARCHAR', 11),
  col('cachesize', 'INT'),
  col('wal_level', 'TINYINT'),
  col('wal_fsync_period', 'INT'),
  col('wal_retention_period', 'INT'),
  col('wal_retention_size', 'BIGINT'),
  col('stt_trigger', 'SMALLINT'),
  col('table_prefix', 'SMALLINT'),
  col('table_suffix', 'SMALLINT'),
  col('tsdb_pagesize', 'INT'),
  col('keep_time_offset', 'INT'),
];

const INS_STABLES: readonly ResultColumn[] = [
  col('stable_name', 'VARCHAR', 192),
  col('db_name', 'VARCHAR', 64),
  col('create_time', 'TIMESTAMP'),
  col('columns', 'INT'),
  col('tags', 'INT'),
  col('last_update', 'TIMESTAMP'),
  col('table_comment', 'VARCHAR', 1024),
  col('watermark', 'VARCHAR', 64),
  col('max_delay', 'VARCHAR', 64),
  col('rollup', 'VARCHAR', 128),
];

const INS_TABLES: readonly ResultColumn[] = [
  col('table_name', 'VARCHAR', 192),
  col('db_name', 'VARCHAR', 64),
  col('create_time', 'TIMESTAMP'),
  col('columns', 'INT'),
  col('stable_name', 'VARCHAR', 192),
  col('uid', 'BIGINT'),
  col('vgroup_id', 'INT'),
  col('ttl', 'INT'),
  col('table_comment', 'VARCHAR', 1024),
  col('type', 'VARCHAR', 21),
];

const INS_TAGS: readonly ResultColumn[] = [
  col('table_name', 'VARCHAR', 192),
  col('db_name', 'VARCHAR', 64),
  col('stable_name', 'VARCHAR', 192),
  col('tag_name', 'VARCHAR', 64),
  col('tag_type', 'VARCHAR', 32),
  col('tag_value', 'VARCHAR', 16384),
];

const INS_COLUMNS: readonly ResultColumn[] = [
  col('table_name', 'VARCHAR', 192),
  col('db_name', 'VARCHAR', 64),
  col('table_type', 'VARCHAR', 21),
  col('col_name', 'VARCHAR', 64),
  col('col_type', 'VARCHAR', 32),
  col('col_length', 'INT'),
  col('col_precision', 'INT'),
  col('col_scale', 'INT'),
  col('col_nullable', 'INT'),
];

function databaseRow(db: Database): Value[] {
  const o = db.options;
  return [
    db.name,
    db.createdAt,
    o.vgroups,
    BigInt(db.tables.size),
    o.replica,
    o.strict,
    formatMinutes(o.duration),
    keepText(o),
    o.buffer,
    o.pageSize,
    o.pages,
    o.minRows,
    o.maxRows,
    o.comp,
    o.precision,
    'ready',
    o.retentions,
    o.singleStable === 1,
    o.cacheModel,
    o.cacheSize,
    o.walLevel,
    o.walFsyncPeriod,
    o.walRetentionPeriod,
    o.walRetentionSize,
    o.sttTrigger,
    o.tablePrefix,
    o.tableSuffix,
    o.tsdbPageSize,
    o.keepTimeOffset,
  ];
}

function systemDatabaseRow(name: string): Value[] {
  const row: Value[] = new Array<Value>(INS_DATABASES.length).fill(null);
  row[0] = name;
  row[3] = SYSTEM_DB_NTABLES[name] ?? 0n;
  row[15] = 'ready';
  return row;
}

function* userDatabases(catalog: Catalog): Generator<Database> {
  yield* catalog.databases.values();
}

export const SYSTEM_TABLE_NAMES = ['ins_databases', 'ins_stables', 'ins_tables', 'ins_tags', 'ins_columns'] as const;

export function systemTable(catalog: Catalog, dbName: string, table: string): SysTable {
  if (dbName !== 'information_schema') throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${table}`);
  switch (table) {
    case 'ins_databases':
      return {
        columns: INS_DATABASES,
        rows: [...SYSTEM_DATABASES.map(systemDatabaseRow), ...[...userDatabases(catalog)].map(databaseRow)],
      };
    case 'ins_stables': {
      const rows: Value[][] = [];
      for (const db of userDatabases(catalog)) {
        for (const st of db.stables.values()) {
          rows.push([
            st.name,
            db.name,
            st.createdAt,
            st.columns.length,
            st.tags.length,
            st.lastUpdate,
            st.comment ?? null,
            '5000a,5000a',
            '-1a,-1a',
            '',
          ]);
        }
      }
      return { columns: INS_STABLES, rows };
    }
    case 'ins_tables': {
      const rows: Value[][] = [];
      for (const db of userDatabases(catalog)) {
        for (const t of db.tables.values()) {
          rows.push([
            t.name,
            db.name,
            t.createdAt,
            t.columns.length,
            t.stable?.name ?? null,
            t.uid,
            t.vgroupId,
            t.ttl,
            t.comment ?? null,
            t.stable ? 'CHILD_TABLE' : 'NORMAL_TABLE',
          ]);
        }
      }
      return { columns: INS_TABLES, rows };
    }
    case 'ins_tags': {
      const rows: Value[][] = [];
      for (const db of userDatabases(catalog)) {
        for (const t of db.tables.values()) {
          if (!t.stable) continue;
          t.stable.tags.forEach((tag, i) => {
            rows.push([t.name, db.name, t.stable!.name, tag.name, ddlTypeName(tag.type), lossyTagText(t.tags?.[i] ?? null, tag.type)]);
          });
        }
      }
      return { columns: INS_TAGS, rows };
    }
    case 'ins_columns': {
      const rows: Value[][] = [];
      for (const db of userDatabases(catalog)) {
        for (const st of db.stables.values()) {
          for (const c of st.columns) rows.push(columnRow(st.name, db.name, 'SUPER_TABLE', c));
        }
        for (const t of db.tables.values()) {
          for (const c of t.columns) rows.push(columnRow(t.name, db.name, t.stable ? 'CHILD_TABLE' : 'NORMAL_TABLE', c));
        }
      }
      return { columns: INS_COLUMNS, rows };
    }
    default:
      throw new TaosError(TaosCode.PAR_TABLE_NOT_EXIST, `Table does not exist: ${table}`);
  }
}

function columnRow(table: string, db: string, kind: string, c: ColumnDef): Value[] {
  return [
    table,
    db,
    kind,
    c.name,
    ddlTypeName(c.type),
    metaLength(c.type),
    c.type.name === 'DECIMAL' ? c.type.length : 0,
    c.type.name === 'DECIMAL' ? c.type.scale : 0,
    0,
  ];
}

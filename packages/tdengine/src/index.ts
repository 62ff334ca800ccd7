/**
 * @bk/tdengine: the TDengine source connector over REST (taosAdapter). A streaming, lossless
 * client; discovery; table export and import as td-jsonl; restore DDL. Raw streams only: no
 * queues, storage or compression here.
 */

export { TdClient, type QueryOptions, type QueryResult, type TdClientOptions } from './client.ts';
export {
  TdConflictError,
  TdConnectionLostError,
  TdConnectorError,
  TdError,
  TdInvalidInputError,
  TdInvalidUrlError,
  TdProtocolError,
  TdRowCountMismatchError,
  TdTimeoutError,
  TdUnreachableError,
  type TdConnectorErrorKind,
} from './errors.ts';
export { describeTdUrl, parseTdUrl, type TdTarget } from './target.ts';
export {
  PRECISIONS,
  isPrecision,
  parseTdType,
  typeSql,
  type ColumnInfo,
  type ColumnMeta,
  type Precision,
  type RawValue,
  type TagValue,
  type TdType,
  type TdTypeName,
  type TdValue,
} from './types.ts';
export {
  SYSTEM_DATABASES,
  childTables,
  databaseOptions,
  describe,
  listDatabases,
  listNormalTables,
  listSuperTables,
  parseCreateDatabase,
  serverVersion,
  showCreate,
  type CallOptions,
  type ChildTable,
  type ChildTablesOptions,
  type DatabaseOptions,
  type DescribedColumn,
  type TableSchema,
} from './discover.ts';
export { DEFAULT_PAGE_SIZE, countSql, exportRows, pageSql, type ExportRowsOptions, type RowsExport } from './export.ts';
export {
  DEFAULT_MAX_STATEMENT_BYTES,
  StatementPacker,
  importRows,
  importTables,
  tableClause,
  type ImportCommonOptions,
  type ImportItem,
  type ImportRowsOptions,
  type ImportTable,
  type ImportTablesOptions,
} from './import.ts';
export {
  PORTABLE_DATABASE_OPTIONS,
  createChildTable,
  createChildTableSql,
  createChildTablesSql,
  createDatabase,
  createDatabaseSql,
  createNormalTable,
  createNormalTableSql,
  createSuperTable,
  createSuperTableSql,
  type CreateDatabaseOptions,
} from './ddl.ts';
export { quoteIdent, quoteQualified, quoteString } from './quote.ts';
export { TIMESTAMP_END, clampEpoch, epochToRfc3339, rfc3339ToEpoch, rfc3339ToEpochConverter } from './timestamp.ts';
export { sqlLiteralEncoder, tdJsonEncoder, toCanonical } from './values.ts';
export { TdJsonLineReader } from './td-jsonl.ts';
export { formatCoordinate, wkbHexToWkt, wkbToWkt } from './wkb.ts';
export {
  batchHeader,
  exportBatch,
  parseBatchHeader,
  readBatch,
  type BatchExport,
  type BatchSection,
  type BatchTable,
  type ExportBatchOptions,
} from './batch.ts';
export {
  childTags,
  readSchema,
  schemaLines,
  type ChildTableDef,
  type DatabaseSchema,
  type NormalTableDef,
  type SuperTableDef,
} from './schema-file.ts';
export { countOf, readDatabaseChecked, rowsPerChildTable, type CheckedDatabase } from './schema-read.ts';

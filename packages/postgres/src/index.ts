/**
 * @bk/postgres: the PostgreSQL source connector. Plain async functions and one class; raw
 * streams (COPY text or binary, pg_dump archives). No queues, storage or compression here.
 */

export type { BlockRange, SchemaSection, SequenceValue, ServerVersion, TableRef, TableSpec } from './types.ts';
export { tableKey } from './types.ts';
export { quoteIdent, quoteLiteral, quoteQualified } from './quote.ts';
export { describeTarget, parseTarget, withDatabase, type PgTarget } from './target.ts';
export {
  DatabaseMissingError,
  InvalidConnectionUrlError,
  NotInArchiveError,
  PgConnectorError,
  RestoreConflictError,
  SnapshotGoneError,
  SourceAuthError,
  SourceUnreachableError,
  ToolFailedError,
  ToolMissingError,
  pgErrorToDomain,
  type PgConnectorErrorCode,
} from './errors.ts';
export { LEDGER_SCHEMA } from './catalog-sql.ts';
export { BINARY_SAFE_TYPES, type CopyFormat } from './copy-format.ts';
export {
  discover,
  listDatabases,
  type DiscoverOptions,
  type DiscoveredDatabase,
  type DiscoveredTable,
  type DiscoveredTableKind,
  type Discovery,
} from './discover.ts';
export { SnapshotSession, planChunks, type ExportableTable, type SnapshotOpenOptions, type TableFilter } from './snapshot.ts';
export { dumpSchema, type DumpSchemaOptions } from './dump.ts';
export { exportTable, exportCopySql, type ExportTableOptions, type TableExport } from './export.ts';
export { restoreSchema, type ArchiveSource, type RestoreSchemaOptions, type RestoreSchemaResult } from './restore-schema.ts';
export { importTable, dropLedger, importCopySql, type ImportLedgerKey, type ImportResult, type ImportTableOptions } from './import.ts';
export {
  databaseIsEmptyFor,
  ensureDatabase,
  isPlainTable,
  rowCounts,
  setSequences,
  skipsWalForNewTables,
  tablesWithRows,
  type EnsureDatabaseOptions,
  type TableRowCount,
} from './target-db.ts';
export {
  compareDatabases,
  contentHashSql,
  tableContentHash,
  type CompareOptions,
  type DatabaseDifference,
  type DifferenceKind,
  type TableContentHash,
} from './verify.ts';
export { findPgTool, type FoundTool, type ToolSearchOptions } from './tools.ts';
export {
  streamBaseBackup,
  parsePositions,
  serverFacts,
  type BaseBackupOptions,
  type BaseBackupPositions,
  type ServerFacts,
} from './physical/basebackup.ts';
export { recoverCluster, recoveryBinDir, recoveryOwner, RecoveryError, type RecoveredCluster, type RecoveryOptions } from './physical/recovery.ts';
export * from './wal/index.ts';

import { type BackupRecord, audit, insertBackup } from '@bk/catalog';
import {
  BadRequestError,
  type BackupType,
  type Codec,
  backupPrefix,
  errorMessage,
  newId,
  parsePgTableRef,
  resolveCompression,
} from '@bk/core';
import type { Platform } from './platform.ts';
import { checkNamesExist } from './backup-names.ts';
import { enqueueCoordinator } from './outcomes.ts';
import { findIncrementalBase, parseTdTableRef } from './tdengine.ts';

export interface BackupRequest {
  source: string;
  type: BackupType;
  databases?: string[] | undefined;
  tables?: string[] | undefined;
  compression?: { codec: Codec; level?: number | undefined } | undefined;
  encrypt?: boolean | undefined;
  /** An incremental with no backup to build on takes a full (or database/table) backup instead of failing. */
  fullIfMissing?: boolean | undefined;
  /**
   * TDengine: the cut (ISO 8601), default the moment the backup starts. Rows at or after the
   * cut are not in the backup (they are counted and reported); a quiesced source can be cut
   * later to take rows with future timestamps too.
   */
  asOf?: string | undefined;
}

export interface StartBackupContext {
  actor: string;
  address?: string | undefined;
  scheduleId?: string;
  /** Idempotency key of a scheduled run. */
  runKey?: string;
}

/**
 * Validates a backup request against the configuration, records the backup (`queued`) and
 * enqueues its coordinator. Shared by `POST /v1/backups` and scheduled runs. Bad requests
 * throw BadRequestError before anything is recorded; an unreachable Redis marks the record
 * failed (so nothing stays "queued" forever) and throws UnavailableError.
 */
export async function startBackup(
  platform: Pick<Platform, 'db' | 'queues' | 'config' | 'log' | 'sources' | 'keyring'>,
  req: BackupRequest,
  ctx: StartBackupContext,
): Promise<BackupRecord> {
  const source = platform.sources.forRequest(req.source);
  checkScope(source.kind, req);
  await checkNamesExist(platform, req.source, source, req);
  if (req.type === 'base' && (source.kind !== 'postgres' || !source.pitr?.enabled))
    throw new BadRequestError(
      `a base backup is for PostgreSQL sources with point-in-time recovery; set pitr: { enabled: true } on ${req.source}`,
      'pitr_not_enabled',
    );
  let asOf: Date | undefined;
  if (req.asOf !== undefined) {
    if (source.kind !== 'tdengine') throw new BadRequestError('asOf applies to TDengine sources only', 'unexpected_field');
    if (req.type === 'incremental')
      throw new BadRequestError(
        'an incremental is cut when it starts; asOf applies to full, database and table backups',
        'unexpected_field',
      );
    asOf = new Date(req.asOf);
    if (Number.isNaN(asOf.getTime())) throw new BadRequestError(`asOf is not a valid time: ${req.asOf}`, 'invalid_time');
  }
  let type = req.type;
  let chain: { baseBackupId: string; parentBackupId: string } | undefined;
  if (req.type === 'incremental') {
    const found = await findIncrementalBase(platform, req.source, req);
    if (found) chain = { baseBackupId: found.base.id, parentBackupId: found.parent.id };
    else if (req.fullIfMissing) type = req.tables ? 'table' : req.databases ? 'database' : 'full';
    else
      throw new BadRequestError(
        `no succeeded ${req.tables ? 'table' : req.databases ? 'database' : 'full'} backup of ${req.source} with this scope to build an incremental on; ` +
          'take one first, or pass fullIfMissing: true to take it now',
        'no_base_backup',
      );
  }
  const compression = compressionFor(platform, req.compression);
  const encrypt = req.encrypt ?? platform.keyring.activeKeyId !== undefined;
  if (encrypt && platform.keyring.activeKeyId === undefined)
    throw new BadRequestError('encrypt: true, but no encryption key is configured', 'encryption_unavailable');
  const id = newId('bk');
  const encryption = encrypt ? platform.keyring.newWrappedDataKey() : undefined;
  const backup = await insertBackup(platform.db, {
    id,
    source: req.source,
    sourceKind: source.kind,
    type,
    ...(chain ?? {}),
    ...(asOf ? { asOf } : {}),
    scope: { ...(req.databases ? { databases: req.databases } : {}), ...(req.tables ? { tables: req.tables } : {}) },
    compression,
    encryption: encryption ? { keyId: encryption.keyId, wrappedDataKey: encryption.wrappedDataKey } : null,
    storagePrefix: backupPrefix(req.source, id),
    requestedBy: ctx.actor,
    scheduleId: ctx.scheduleId ?? null,
    ...(ctx.runKey ? { runKey: ctx.runKey } : {}),
  });
  await enqueueCoordinator(platform, 'backup', backup.id);
  if (backup.id === id) {
    await audit(platform.db, {
      actor: ctx.actor,
      action: 'backup.create',
      target: id,
      address: ctx.address ?? null,
      outcome: 'ok',
      details: { source: req.source, type, ...(chain ?? {}), ...(ctx.scheduleId ? { scheduleId: ctx.scheduleId } : {}) },
    });
  }
  return backup;
}

/** The scope rules of a backup request; also used to validate schedules when they are saved. */
export function checkScope(kind: 'postgres' | 'tdengine', req: Pick<BackupRequest, 'type' | 'tables' | 'databases'>): void {
  if (req.type === 'base') {
    if (kind !== 'postgres') throw new BadRequestError('base backups are for PostgreSQL sources', 'unsupported_type');
    // A base backup is the whole cluster: it restores any database or table to a moment.
    if (req.databases || req.tables)
      throw new BadRequestError('a base backup covers the whole cluster; drop "databases"/"tables"', 'unexpected_field');
    return;
  }
  if (kind === 'tdengine') return checkTdScope(req);
  if (req.type === 'incremental')
    throw new BadRequestError(
      'incremental backups are supported for TDengine sources only; use full, database or table',
      'unsupported_type',
    );
  if (req.type === 'table') {
    if (!req.tables?.length) throw new BadRequestError('type "table" needs a non-empty tables list', 'missing_tables');
    for (const t of req.tables) parsePgTableRef(t);
  } else if (req.tables) {
    throw new BadRequestError(`tables is only allowed with type "table"`, 'unexpected_field');
  }
  if (req.type === 'full' && req.databases)
    throw new BadRequestError('a full backup covers every database; drop "databases" or use type "database"', 'unexpected_field');
  if (req.type === 'table' && req.databases)
    throw new BadRequestError('name tables as database.schema.table instead of passing databases', 'unexpected_field');
}

export function compressionFor(platform: Pick<Platform, 'config'>, req: BackupRequest['compression']) {
  const codec = req?.codec ?? platform.config.compression.codec;
  const level = req ? req.level : platform.config.compression.level;
  try {
    return resolveCompression(codec, level);
  } catch (e) {
    throw new BadRequestError(`compression: ${errorMessage(e)}`, 'invalid_compression');
  }
}

function checkTdScope(req: Pick<BackupRequest, 'type' | 'tables' | 'databases'>): void {
  if (req.tables) for (const t of req.tables) parseTdTableRef(t);
  if (req.tables && req.databases)
    throw new BadRequestError('name tables as database.table instead of passing databases', 'unexpected_field');
  if (req.type === 'table' && !req.tables?.length)
    throw new BadRequestError('type "table" needs a non-empty tables list', 'missing_tables');
  if (req.type === 'database' && !req.databases?.length)
    throw new BadRequestError('type "database" needs a non-empty databases list (a TDengine URL names no database)', 'missing_databases');
  if (req.type === 'full' && (req.databases || req.tables))
    throw new BadRequestError(
      'a full backup covers every database; drop "databases"/"tables" or use type "database"/"table"',
      'unexpected_field',
    );
  if (req.type === 'database' && req.tables)
    throw new BadRequestError('tables is only allowed with type "table" or "incremental"', 'unexpected_field');
}

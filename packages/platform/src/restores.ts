import { type BackupRecord, type NewRestore, type RestoreRecord, audit, getBackup, insertRestore } from '@bk/catalog';
import { BadRequestError, ConflictError, NotFoundError, errorMessage, newId, parsePgTableRef } from '@bk/core';
import { loadManifest, selectForRestore } from './manifests.ts';
import { enqueueCoordinator } from './outcomes.ts';
import { planWalRecovery } from './pitr.ts';
import type { Platform } from './platform.ts';
import { chainOf, planPointInTime, selectTdForRestore } from './tdengine.ts';

/** A restore as `POST /v1/restores` asks for it: a backup by id, or a source and a point in time. */
export interface StartRestoreRequest {
  backupId?: string | undefined;
  source?: string | undefined;
  /** Point in time (ISO 8601 with a zone), with `source` instead of `backupId`. */
  targetTime?: string | undefined;
  databases?: string[] | undefined;
  tables?: string[] | undefined;
  targetDatabase?: string | undefined;
  dryRun: boolean;
  /** 'replace' needs `confirm: true`. */
  mode: 'fail-if-exists' | 'replace';
  confirm: boolean;
  /** Restore a backup that failed verification anyway. */
  force: boolean;
}

export interface StartRestoreContext {
  actor: string;
  address?: string | undefined;
}

/** What recording a restore and enqueueing its coordinator needs. */
type EnqueueDeps = Pick<Platform, 'db' | 'queues' | 'config' | 'log'>;

/** What checking a restore request adds: the sources, and storage to read the manifest. */
type StartRestoreDeps = EnqueueDeps & Pick<Platform, 'sources' | 'store' | 'keyring'>;

/**
 * Checks a restore request, records the restore (`queued`) and enqueues its coordinator.
 * Every mistake of the caller is answered before anything is recorded: BadRequestError
 * (confirmation missing, a point in time no backup covers, a selection the backup does not
 * hold: `invalid_selection`), NotFoundError, ConflictError (backup not succeeded, corrupted
 * without `force`, manifest unreadable). An unreachable Redis ends the record failed and
 * throws UnavailableError.
 */
export async function startRestore(
  platform: StartRestoreDeps,
  req: StartRestoreRequest,
  ctx: StartRestoreContext,
): Promise<{ id: string; status: 'queued' }> {
  if (req.mode === 'replace' && !req.confirm)
    throw new BadRequestError('mode "replace" overwrites existing tables: repeat the request with confirm: true', 'confirmation_required');
  const { backup, chain, pointInTime } = await backupToRestore(platform, req);
  if (backup.type === 'base' && !pointInTime)
    throw new BadRequestError(
      `backup ${backup.id} is a base backup: restore it to a moment with { source, targetTime } (its own end is ${String((backup.metadata.physical as { consistentAt?: string } | undefined)?.consistentAt ?? '?')})`,
      'invalid_restore_request',
    );
  if (backup.status !== 'succeeded')
    throw new ConflictError(`backup ${backup.id} is ${backup.status}; only succeeded backups can be restored`, 'backup_not_restorable');
  if (backup.deletingAt)
    throw new ConflictError(
      `backup ${backup.id} is being deleted (since ${backup.deletingAt.toISOString()}); it cannot be restored`,
      'backup_deleting',
    );
  if (req.source && req.source !== backup.source)
    throw new BadRequestError(`backup ${backup.id} belongs to source ${backup.source}, not ${req.source}`, 'source_mismatch');
  platform.sources.forRequest(backup.source);
  await refuseCorrupted(platform, backup, chain, req.force);
  // A moment's tables are known only once it is recovered (they may be gone from the
  // server now, which is often why it is restored): names are checked for form here, and
  // against the recovered cluster by the worker.
  if (pointInTime) checkPointInTimeSelection(req);
  else await checkSelection(platform, backup, req);
  const id = newId('rs');
  await enqueueRestore(platform, {
    id,
    backupId: backup.id,
    source: backup.source,
    dryRun: req.dryRun,
    mode: req.mode,
    targetDatabase: req.targetDatabase ?? null,
    request: pointInTime ? { ...req, pointInTime } : chain ? { ...req, chain } : { ...req },
    requestedBy: ctx.actor,
  });
  await audit(platform.db, {
    actor: ctx.actor,
    action: req.dryRun ? 'restore.dry-run' : 'restore.create',
    target: id,
    address: ctx.address ?? null,
    outcome: 'ok',
    details: {
      backupId: backup.id,
      ...(chain ? { chain, targetTime: req.targetTime } : {}),
      ...(pointInTime ? { pointInTime } : {}),
      mode: req.mode,
      targetDatabase: req.targetDatabase ?? null,
      tables: req.tables ?? null,
    },
  });
  return { id, status: 'queued' };
}

/**
 * Records a restore the caller has already checked (`queued`) and enqueues its coordinator.
 * When Redis refuses the job the record ends `failed` ("could not enqueue: ...") and
 * UnavailableError is thrown, as for backups.
 */
export async function enqueueRestore(platform: EnqueueDeps, record: NewRestore): Promise<RestoreRecord> {
  const restore = await insertRestore(platform.db, record);
  await enqueueCoordinator(platform, 'restore', restore.id);
  return restore;
}

/** What a PostgreSQL restore to a moment records in its request (the worker recovers from it). */
export interface PointInTimeRequest {
  targetTime: string;
  baseBackupId: string;
}

/** The backup named by id, or the one a point in time needs (TDengine: with its chain of backups, oldest first). */
async function backupToRestore(
  platform: Pick<Platform, 'db' | 'sources'>,
  req: StartRestoreRequest,
): Promise<{ backup: BackupRecord; chain?: string[] | undefined; pointInTime?: PointInTimeRequest | undefined }> {
  if (req.targetTime || (req.source && !req.backupId)) {
    if (!req.source || !req.targetTime)
      throw new BadRequestError('a point-in-time restore needs both source and targetTime', 'invalid_restore_request');
    if (req.backupId) throw new BadRequestError('give either backupId or source with targetTime, not both', 'invalid_restore_request');
    const source = platform.sources.forRequest(req.source);
    if (source.kind === 'postgres') {
      if (!source.pitr?.enabled)
        throw new BadRequestError(
          `source ${req.source} has no point-in-time recovery (set pitr: { enabled: true } on it); restore a backupId instead`,
          'pitr_not_enabled',
        );
      const plan = await planWalRecovery(platform, req.source, new Date(req.targetTime));
      return {
        backup: plan.base,
        pointInTime: { targetTime: plan.targetTime.toISOString(), baseBackupId: plan.base.id },
      };
    }
    const picked = await planPointInTime(platform, req.source, req.targetTime, req);
    return { backup: picked[picked.length - 1]!, chain: picked.map((b) => b.id) };
  }
  if (!req.backupId) throw new BadRequestError('backupId is required (or source with targetTime)', 'invalid_restore_request');
  const found = await getBackup(platform.db, req.backupId);
  if (!found) throw new NotFoundError(`backup ${req.backupId} not found`);
  return { backup: found };
}

/** Table names of a restore to a moment: well formed, and one target database for one source database. */
function checkPointInTimeSelection(req: StartRestoreRequest): void {
  const databases = new Set(req.databases ?? []);
  for (const t of req.tables ?? []) {
    const ref = parsePgTableRef(t);
    if (ref.database) databases.add(ref.database);
  }
  if (req.targetDatabase && databases.size > 1)
    throw new BadRequestError('targetDatabase takes the tables of one database; name one database', 'invalid_selection');
}

/** A backup (or one of the chain restored) that failed verification is restored only with `force`. */
async function refuseCorrupted(
  platform: Pick<Platform, 'db'>,
  backup: BackupRecord,
  chain: string[] | undefined,
  force: boolean,
): Promise<void> {
  const members = chain ?? (backup.sourceKind === 'tdengine' ? (await chainOf(platform, backup)).map((b) => b.id) : [backup.id]);
  for (const id of members) {
    const b = id === backup.id ? backup : await getBackup(platform.db, id);
    const verification = b?.verification as { status?: string } | null | undefined;
    if (verification?.status === 'corrupted' && !force)
      throw new ConflictError(
        `backup ${id}${id === backup.id ? '' : ` (of the chain restored)`} failed verification (corrupted); pass force: true to restore anyway`,
        'backup_corrupted',
      );
  }
}

/** Reads the manifest (storage is the truth) and checks the selection against it. */
async function checkSelection(
  platform: Pick<Platform, 'db' | 'store' | 'keyring'>,
  backup: BackupRecord,
  req: StartRestoreRequest,
): Promise<void> {
  let manifest: Awaited<ReturnType<typeof loadManifest>>['manifest'];
  try {
    ({ manifest } = await loadManifest(platform, backup.id));
  } catch (e) {
    throw new ConflictError(`backup ${backup.id} cannot be read: ${errorMessage(e)}`, 'backup_unreadable');
  }
  // Unknown tables or databases are the caller's mistake: answer now, enqueue nothing.
  const invalid = (m: string): never => {
    throw new BadRequestError(m, 'invalid_selection');
  };
  if (manifest.source.kind === 'tdengine') selectTdForRestore(manifest, req, invalid);
  else selectForRestore(manifest, req, invalid);
}

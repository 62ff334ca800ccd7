import {
  type BackupRecord,
  type RestoreRecord,
  insertBackup,
  insertBackupObjects,
  markBackupRunning,
  markObjectRunning,
  mergeBackupMetadata,
} from '@bk/catalog';
import { attemptKey, backupPrefix, errorMessage, newId, parsePgTableRef } from '@bk/core';
import { type Platform, compressionFor, pgDatabaseOf, restoreRequestOf } from '@bk/platform';
import type { SnapshotSession } from '@bk/postgres';
import { finalizeBackup } from '../../handlers/backup-finalize.ts';
import type { HandlerContext } from '../../handlers/types.ts';
import { planPgBackup } from '../postgres/backup.ts';
import { storePgExport } from '../postgres/export.ts';

/** How many tables are read out of the recovered cluster at once. */
const EXTRACT_CONCURRENCY = 2;

/**
 * Reads the chosen databases or tables out of a recovered cluster into a logical backup of
 * its own (the same layout, manifest and checks as every PostgreSQL backup), so that the
 * restore then runs through the ordinary logical path: modes, confirmation, parallel loads
 * across the fleet, post-data, sequences, row-count check. The cluster lives on this worker
 * only (a Unix socket in its own directory), so the exports run here, in this job, instead
 * of as jobs other workers would take. The backup is recorded like any other (metadata
 * `pointInTime` says what it is) and removed once the restore has ended.
 */
export async function extractMoment(
  platform: Platform,
  restore: RestoreRecord,
  clusterUrl: string,
  pointInTime: { targetTime: string; baseBackupId: string; recoveredTo: string | null },
  ctx: HandlerContext,
): Promise<BackupRecord> {
  const source = platform.sources.forJob(restore.source);
  const req = restoreRequestOf(restore);
  const defaultDb = req.databases?.length === 1 ? req.databases[0]! : pgDatabaseOf(source.url);
  // Table names become db.schema.table: the recovered cluster's URL names no database of the source.
  const tables = req.tables?.map((t) => {
    const ref = parsePgTableRef(t);
    return `${ref.database ?? defaultDb}.${ref.schema}.${ref.name}`;
  });
  const id = newId('bk');
  // The moment's data is as sensitive as any backup's: encrypted when a key is configured.
  const wrappedKey = platform.keyring.activeKeyId !== undefined ? platform.keyring.newWrappedDataKey() : undefined;
  const backup = await insertBackup(platform.db, {
    id,
    source: restore.source,
    sourceKind: 'postgres',
    type: tables ? 'table' : 'database',
    scope: tables ? { tables } : { databases: req.databases?.length ? req.databases : [defaultDb] },
    compression: compressionFor(platform, undefined),
    encryption: wrappedKey ? { keyId: wrappedKey.keyId, wrappedDataKey: wrappedKey.wrappedDataKey } : null,
    storagePrefix: backupPrefix(restore.source, id),
    requestedBy: `restore ${restore.id}`,
    scheduleId: null,
  });
  await markBackupRunning(platform.db, id);
  const sessions = new Map<string, SnapshotSession>();
  try {
    const plan = await planPgBackup(platform, backup, clusterUrl, sessions, ctx.signal);
    await insertBackupObjects(platform.db, id, plan.objects);
    const queue = [...plan.exports];
    let done = 0;
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await markObjectRunning(platform.db, id, next.data.objectKey);
        await storePgExport(platform, backup, clusterUrl, next.data, attemptKey(next.data.objectKey, 1), { signal: ctx.signal });
        done++;
        await ctx.job.updateProgress({ phase: 'reading the moment out', tables: plan.exports.length, done }).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: EXTRACT_CONCURRENCY }, worker));
  } catch (e) {
    throw new Error(`reading the recovered moment out failed: ${errorMessage(e)}`, { cause: e });
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.close().catch(() => undefined)));
  }
  await mergeBackupMetadata(platform.db, id, { pointInTime });
  await finalizeBackup(platform, { backupId: id }, ctx);
  return backup;
}

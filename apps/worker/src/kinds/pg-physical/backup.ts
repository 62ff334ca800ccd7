import {
  type BackupRecord,
  insertBackupObjects,
  markBackupRunning,
  markObjectRunning,
  markObjectSucceeded,
  recordBackupSnapshot,
} from '@bk/catalog';
import { PG_BASEBACKUP_TAR, type PhysicalConsistency, type SourceConfig, codecExtension, encodeForStorage, errorMessage } from '@bk/core';
import { type Platform, dataKeyOf, endBackup } from '@bk/platform';
import { serverFacts, streamBaseBackup } from '@bk/postgres';
import type { HandlerContext } from '../../handlers/types.ts';
import { finalizeBackup } from '../../handlers/backup-finalize.ts';

/**
 * A physical base backup: pg_basebackup's tar stream of the whole cluster goes through the
 * storage pipeline (compression, encryption, SHA-256) into one object, never staged on disk;
 * the manifest records where it starts and ends in the WAL, its timeline and the server time
 * once it was complete, the earliest moment it can be recovered to. One job does it all (a
 * cluster is one stream), and it is not retried: a worker lost midway fails the record,
 * with a message saying so, and the next base backup starts over.
 */
export async function coordinateBaseBackup(
  platform: Platform,
  backup: BackupRecord,
  source: SourceConfig,
  ctx: HandlerContext,
): Promise<unknown> {
  const { db } = platform;
  if (!(await markBackupRunning(db, backup.id))) {
    const msg = 'the base backup stopped midway (worker lost); start a new base backup';
    await endBackup(platform, backup.id, 'failed', msg);
    return { failed: msg };
  }
  try {
    const before = await serverFacts(source.url, ctx.signal);
    const key = `${backup.storagePrefix}base.tar${codecExtension(backup.compression.codec)}`;
    const dataKey = dataKeyOf(platform, backup);
    await insertBackupObjects(db, backup.id, [
      {
        key,
        seq: 0,
        kind: 'base',
        database: '',
        schemaName: null,
        tableName: null,
        displayName: null,
        columns: null,
        chunk: null,
        format: PG_BASEBACKUP_TAR,
        compression: backup.compression,
        encrypted: Boolean(dataKey),
      },
    ]);
    await markObjectRunning(db, backup.id, key);
    const { stream, positions } = streamBaseBackup({
      url: source.url,
      serverMajor: before.major,
      label: `bk ${backup.id}`,
      ...(platform.config.postgres.binDir ? { binDir: platform.config.postgres.binDir } : {}),
      signal: ctx.signal,
    });
    const enc = encodeForStorage(stream, { compression: backup.compression, countRows: false, ...(dataKey ? { dataKey } : {}) });
    const progress = setInterval(() => {
      ctx.job.updateProgress({ phase: 'base backup', rawBytes: enc.rawBytesSoFar() }).catch(() => undefined);
    }, 2000);
    try {
      await platform.store.put(key, enc.stream, { signal: ctx.signal });
    } finally {
      clearInterval(progress);
    }
    const pos = await positions;
    // Read after pg_basebackup ended, so every commit stamped before it is inside the backup
    // or in the WAL it carries: the earliest moment this backup recovers to.
    const after = await serverFacts(source.url, ctx.signal);
    await markObjectSucceeded(db, backup.id, key, { ...enc.stats(), rows: 0 });
    const physical: PhysicalConsistency = {
      startLsn: pos.startLsn,
      stopLsn: pos.stopLsn,
      timeline: pos.timeline,
      consistentAt: after.now.toISOString(),
      systemIdentifier: before.systemIdentifier,
      walSegmentSize: before.walSegmentSize,
    };
    await recordBackupSnapshot(db, backup.id, { serverVersion: before.version, metadata: { physical } });
    ctx.log.info({ backupId: backup.id, ...physical, bytes: enc.stats().bytes }, 'base backup stored');
    return await finalizeBackup(platform, { backupId: backup.id }, ctx);
  } catch (e) {
    await endBackup(platform, backup.id, 'failed', errorMessage(e));
    throw e;
  }
}

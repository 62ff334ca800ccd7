import { Readable } from 'node:stream';
import { type BackupObjectRecord, type BackupRecord, getBackup, listBackupObjects } from '@bk/catalog';
import {
  type Manifest,
  MANIFEST_FORMAT,
  PermanentJobError,
  type SequenceState,
  manifestKey,
  manifestVersionFor,
  physicalConsistencySchema,
} from '@bk/core';
import type { Handler } from './types.ts';
import { succeedBackup } from '@bk/platform';

/**
 * Runs once every export of the backup succeeded: writes the manifest beside the objects
 * (the commit marker of the backup) and only then marks the backup succeeded. Idempotent:
 * a rerun writes the same manifest again.
 */
export const finalizeBackup: Handler<'backup.finalize'> = async (platform, { backupId }, ctx) => {
  const { db } = platform;
  const backup = await getBackup(db, backupId);
  if (!backup) throw new PermanentJobError(`backup ${backupId} not found in the catalog`);
  if (backup.status !== 'running') {
    ctx.log.info({ backupId, status: backup.status }, 'backup no longer running; manifest not written');
    return { skipped: backup.status };
  }
  const objects = await listBackupObjects(db, backupId);
  const unfinished = objects.filter((o) => o.status !== 'succeeded');
  if (unfinished.length)
    throw new PermanentJobError(
      `cannot finalize: ${unfinished.length} objects not exported (${unfinished
        .slice(0, 3)
        .map((o) => o.key)
        .join(', ')})`,
    );
  const manifest = buildManifest(backup, objects, new Date());
  const key = manifestKey(backup.source, backupId);
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await platform.store.put(key, Readable.from([body]), { signal: ctx.signal, contentType: 'application/json' });
  // Objects of failed or superseded attempts (each attempt writes its own key) are not part
  // of the backup: remove them, so the prefix holds exactly what the manifest lists.
  const listed = new Set([key, ...manifest.objects.map((o) => o.key)]);
  const orphans: string[] = [];
  for await (const info of platform.store.list(backup.storagePrefix)) if (!listed.has(info.key)) orphans.push(info.key);
  if (orphans.length) {
    await platform.store.deleteMany(orphans);
    ctx.log.info({ backupId, orphans: orphans.length }, 'removed objects of superseded attempts');
  }
  const ok = await succeedBackup(platform, backupId, {
    manifestKey: key,
    rows: manifest.totals.rows,
    bytes: manifest.totals.bytes,
    rawBytes: manifest.totals.rawBytes,
  });
  ctx.log.info({ backupId, ok, ...manifest.totals }, 'backup finalized');
  return { manifestKey: key, ...manifest.totals };
};

export function buildManifest(backup: BackupRecord, objects: BackupObjectRecord[], completedAt: Date): Manifest {
  const sequences = (backup.metadata.sequences ?? {}) as Record<string, SequenceState[]>;
  const encodings = (backup.metadata.encodings ?? {}) as Record<string, string>;
  // TDengine: precision and the super/normal tables of each database; the chain's window.
  const td = backup.metadata.tdengine as { databases?: Record<string, Record<string, unknown>>; windowStart?: string } | undefined;
  const databases = [...new Set(objects.map((o) => o.database))].map((name) => {
    const options = { ...(encodings[name] ? { encoding: encodings[name] } : {}), ...(td?.databases?.[name] ?? {}) };
    return {
      name,
      ...(sequences[name] ? { sequences: sequences[name] } : {}),
      ...(Object.keys(options).length ? { options } : {}),
    };
  });
  const mObjects = objects.map((o) => ({
    key: o.storedKey ?? o.key,
    kind: o.kind,
    database: o.database,
    ...(o.displayName ? { table: o.displayName } : {}),
    ...(o.schemaName !== null ? { schemaName: o.schemaName } : {}),
    ...(o.tableName !== null ? { tableName: o.tableName } : {}),
    ...(o.columns ? { columns: o.columns } : {}),
    ...(o.chunk ? { chunk: o.chunk } : {}),
    ...(o.members ? { members: o.members } : {}),
    format: o.format,
    rows: o.rows ?? 0,
    rawBytes: o.rawBytes ?? 0,
    bytes: o.bytes ?? 0,
    sha256: o.sha256 ?? '',
    compression: o.compression,
    encrypted: o.encrypted,
  }));
  const sum = (f: (o: (typeof mObjects)[number]) => number) => mObjects.reduce((a, o) => a + f(o), 0);
  return {
    format: MANIFEST_FORMAT,
    formatVersion: manifestVersionFor(mObjects),
    backupId: backup.id,
    source: { name: backup.source, kind: backup.sourceKind, serverVersion: backup.serverVersion ?? '' },
    type: backup.type,
    scope: backup.scope,
    startedAt: (backup.startedAt ?? backup.createdAt).toISOString(),
    completedAt: completedAt.toISOString(),
    consistency: {
      ...(backup.snapshots ? { snapshots: backup.snapshots } : {}),
      ...(backup.asOf ? { asOf: backup.asOf.toISOString() } : {}),
      ...(backup.metadata.physical ? { physical: physicalConsistencySchema.parse(backup.metadata.physical) } : {}),
    },
    ...(backup.type === 'incremental' && backup.baseBackupId && backup.parentBackupId && backup.asOf && td?.windowStart
      ? {
          chain: {
            baseBackupId: backup.baseBackupId,
            parentBackupId: backup.parentBackupId,
            windowStart: td.windowStart,
            windowEnd: backup.asOf.toISOString(),
          },
        }
      : {}),
    ...(backup.encryption
      ? {
          encryption: {
            algorithm: 'aes-256-gcm-segmented-v1' as const,
            keyId: backup.encryption.keyId,
            wrappedDataKey: backup.encryption.wrappedDataKey,
          },
        }
      : {}),
    databases,
    objects: mObjects,
    totals: {
      objects: mObjects.length,
      rows: sum((o) => (o.kind === 'data' ? o.rows : 0)),
      rawBytes: sum((o) => o.rawBytes),
      bytes: sum((o) => o.bytes),
    },
  };
}

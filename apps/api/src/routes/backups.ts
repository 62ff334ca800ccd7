import {
  type BackupObjectRecord,
  type BackupRecord,
  audit,
  deleteBackupRecord,
  getBackup,
  insertBackup,
  listBackupObjects,
  listBackups,
  markBackupDeleting,
  markBackupEnded,
} from '@bk/catalog';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  backupPrefix,
  enqueue,
  errorMessage,
  jobIds,
  newId,
  parsePgTableRef,
  resolveCompression,
} from '@bk/core';
import type { Platform } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import {
  acceptedSchema,
  backupListSchema,
  backupSchema,
  createBackupBody,
  deletedSchema,
  errorSchema,
  idParam,
  listBackupsQuery,
} from '../schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema };

export function backupRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/backups',
      { schema: { tags: ['backups'], summary: 'Start a backup', body: createBackupBody, response: { 202: acceptedSchema, ...errors } } },
      async (req, reply) => {
        const body = req.body;
        const source = platform.sources.forRequest(body.source);
        checkScope(source.kind, body);
        const compression = compressionFor(platform, body.compression);
        const encrypt = body.encrypt ?? platform.keyring.activeKeyId !== undefined;
        if (encrypt && platform.keyring.activeKeyId === undefined)
          throw new BadRequestError('encrypt: true, but no encryption key is configured', 'encryption_unavailable');
        const id = newId('bk');
        const encryption = encrypt ? platform.keyring.newWrappedDataKey() : undefined;
        await insertBackup(platform.db, {
          id,
          source: body.source,
          sourceKind: source.kind,
          type: body.type,
          scope: { ...(body.databases ? { databases: body.databases } : {}), ...(body.tables ? { tables: body.tables } : {}) },
          compression,
          encryption: encryption ? { keyId: encryption.keyId, wrappedDataKey: encryption.wrappedDataKey } : null,
          storagePrefix: backupPrefix(body.source, id),
          requestedBy: req.principal?.actor ?? null,
          scheduleId: null,
        });
        try {
          await enqueue(platform.queues, platform.config, 'backup.coordinate', { backupId: id }, jobIds.backupCoordinate(id));
        } catch (e) {
          await markBackupEnded(platform.db, id, 'failed', `could not enqueue: ${errorMessage(e)}`);
          throw new UnavailableError('the job queue (Redis) is unavailable; the backup was not started');
        }
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'backup.create',
          target: id,
          address: req.ip,
          outcome: 'ok',
          details: { source: body.source, type: body.type },
        });
        return reply.status(202).send({ id, status: 'queued' });
      },
    );

    app.get(
      '/backups',
      {
        schema: {
          tags: ['backups'],
          summary: 'List backups',
          querystring: listBackupsQuery,
          response: { 200: backupListSchema, ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const page = await listBackups(platform.db, {
          limit: q.limit,
          ...(q.source ? { source: q.source } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.status ? { status: q.status } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        });
        return { items: page.items.map((b) => backupView(b)), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/backups/:id',
      {
        schema: {
          tags: ['backups'],
          summary: 'A backup with per-table status',
          params: idParam,
          response: { 200: backupSchema, ...errors },
        },
      },
      async (req) => {
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        const objects = await listBackupObjects(platform.db, b.id);
        return { ...backupView(b), tables: tablesView(objects) };
      },
    );

    app.delete(
      '/backups/:id',
      {
        schema: {
          tags: ['backups'],
          summary: 'Delete a backup: its objects first, its catalog record last',
          params: idParam,
          response: { 200: deletedSchema, ...errors },
        },
      },
      async (req) => {
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        if (!(await markBackupDeleting(platform.db, b.id)))
          throw new ConflictError(`backup ${b.id} is ${b.status}; cancel it before deleting`, 'backup_active');
        // Objects first: a crash in between leaves a record marked deleting that cleanup finishes.
        const keys: string[] = [];
        for await (const o of platform.store.list(b.storagePrefix)) keys.push(o.key);
        const manifest = keys.filter((k) => k.endsWith('/manifest.json'));
        // The manifest goes first so that a half-deleted backup never looks complete.
        await platform.store.deleteMany(manifest);
        await platform.store.deleteMany(keys.filter((k) => !manifest.includes(k)));
        await platform.store.abortIncompleteUploads(b.storagePrefix);
        await deleteBackupRecord(platform.db, b.id);
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'backup.delete',
          target: b.id,
          address: req.ip,
          outcome: 'ok',
          details: { objects: keys.length },
        });
        return { id: b.id, deleted: true, objects: keys.length };
      },
    );
  };
}

function checkScope(kind: 'postgres' | 'tdengine', body: z.infer<typeof createBackupBody>): void {
  if (kind === 'tdengine') throw new BadRequestError('TDengine backups are not available in this version yet', 'unsupported');
  if (body.type === 'incremental')
    throw new BadRequestError(
      'incremental backups are supported for TDengine sources only; use full, database or table',
      'unsupported_type',
    );
  if (body.type === 'table') {
    if (!body.tables?.length) throw new BadRequestError('type "table" needs a non-empty tables list', 'missing_tables');
    for (const t of body.tables) parsePgTableRef(t);
  } else if (body.tables) {
    throw new BadRequestError(`tables is only allowed with type "table"`, 'unexpected_field');
  }
  if (body.type === 'full' && body.databases)
    throw new BadRequestError('a full backup covers every database; drop "databases" or use type "database"', 'unexpected_field');
  if (body.type === 'table' && body.databases)
    throw new BadRequestError('name tables as database.schema.table instead of passing databases', 'unexpected_field');
}

function compressionFor(platform: Platform, req: { codec: 'zstd' | 'gzip' | 'none'; level?: number | undefined } | undefined) {
  const codec = req?.codec ?? platform.config.compression.codec;
  const level = req ? req.level : platform.config.compression.level;
  try {
    return resolveCompression(codec, level);
  } catch (e) {
    throw new BadRequestError(`compression: ${errorMessage(e)}`, 'invalid_compression');
  }
}

export function backupView(b: BackupRecord) {
  return {
    id: b.id,
    status: b.status,
    source: b.source,
    type: b.type,
    scope: b.scope,
    compression: b.compression,
    encryption: b.encryption ? { keyId: b.encryption.keyId } : null,
    createdAt: b.createdAt.toISOString(),
    startedAt: b.startedAt?.toISOString() ?? null,
    finishedAt: b.finishedAt?.toISOString() ?? null,
    rows: b.rows,
    bytes: b.bytes,
    rawBytes: b.rawBytes,
    ...(b.error ? { error: b.error } : {}),
    manifestKey: b.manifestKey,
    ...(b.verification ? { verification: b.verification } : {}),
  };
}

/** Per table: chunks of a big table add up; the table's sha256 is its object's when it has one. */
function tablesView(objects: BackupObjectRecord[]) {
  const tables = new Map<string, BackupObjectRecord[]>();
  for (const o of objects) {
    if (o.kind !== 'data') continue;
    const k = `${o.database}\u0000${o.displayName}`;
    tables.set(k, [...(tables.get(k) ?? []), o]);
  }
  const rank = { failed: 3, running: 2, pending: 1, succeeded: 0 } as const;
  return [...tables.values()].map((objs) => {
    const first = objs[0] as BackupObjectRecord;
    const status = objs.reduce((s, o) => (rank[o.status] > rank[s] ? o.status : s), 'succeeded' as BackupObjectRecord['status']);
    const done = objs.every((o) => o.status === 'succeeded');
    const err = objs.find((o) => o.error)?.error;
    return {
      name: first.displayName ?? '',
      database: first.database,
      status,
      rows: done ? objs.reduce((a, o) => a + (o.rows ?? 0), 0) : null,
      bytes: done ? objs.reduce((a, o) => a + (o.bytes ?? 0), 0) : null,
      sha256: objs.length === 1 ? first.sha256 : null,
      ...(err ? { error: err } : {}),
      objects: objs.map((o) => ({ key: o.key, status: o.status, rows: o.rows, bytes: o.bytes, sha256: o.sha256 })),
    };
  });
}

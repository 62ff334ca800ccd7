import {
  type BackupObjectRecord,
  type BackupRecord,
  audit,
  getBackup,
  listBackupObjects,
  listBackups,
  listDependents,
  setBackupPinned,
} from '@bk/catalog';
import { ConflictError, NotFoundError, enqueue, jobIds } from '@bk/core';
import { type Platform, deleteBackupFully, endBackup, startBackup } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
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
        const backup = await startBackup(platform, req.body, { actor: req.principal?.actor ?? 'anonymous', address: req.ip });
        return reply.status(202).send({ id: backup.id, status: backup.status });
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

    app.post(
      '/backups/:id/cancel',
      {
        schema: {
          tags: ['backups'],
          summary: 'Cancel a queued or running backup: its jobs stop within seconds on whichever worker runs them',
          params: idParam,
          response: { 200: z.object({ id: z.string(), status: z.string() }), ...errors },
        },
      },
      async (req) => {
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        const actor = req.principal?.actor ?? 'anonymous';
        if (!(await endBackup(platform, b.id, 'cancelled', `cancelled by ${actor}`)))
          throw new ConflictError(`backup ${b.id} is ${b.status}; only queued or running backups can be cancelled`, 'not_cancellable');
        await audit(platform.db, { actor, action: 'backup.cancel', target: b.id, address: req.ip, outcome: 'ok' });
        return { id: b.id, status: 'cancelled' };
      },
    );

    app.post(
      '/backups/:id/verify',
      {
        schema: {
          tags: ['backups'],
          summary: 'Verify a backup: re-read every object (size, SHA-256, decryption, decompression, row counts)',
          params: idParam,
          response: { 202: acceptedSchema, ...errors },
        },
      },
      async (req, reply) => {
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        if (b.status !== 'succeeded')
          throw new ConflictError(`backup ${b.id} is ${b.status}; only succeeded backups can be verified`, 'backup_not_verifiable');
        const jobId = jobIds.verify(b.id);
        const actor = req.principal?.actor ?? 'anonymous';
        await enqueue(platform.queues, platform.config, 'backup.verify', { backupId: b.id, requestedBy: actor }, jobId);
        await audit(platform.db, { actor, action: 'backup.verify.request', target: b.id, address: req.ip, outcome: 'ok' });
        return reply.status(202).send({ id: jobId, status: 'queued' });
      },
    );

    for (const [method, pinned] of [
      ['POST', true],
      ['DELETE', false],
    ] as const) {
      app.route({
        method,
        url: '/backups/:id/pin',
        schema: {
          tags: ['backups'],
          summary: pinned ? 'Pin a backup: retention never deletes it' : 'Unpin a backup',
          params: idParam,
          response: { 200: z.object({ id: z.string(), pinned: z.boolean() }), ...errors },
        },
        handler: async (req) => {
          if (!(await setBackupPinned(platform.db, req.params.id, pinned))) throw new NotFoundError(`backup ${req.params.id} not found`);
          await audit(platform.db, {
            actor: req.principal?.actor ?? 'anonymous',
            action: pinned ? 'backup.pin' : 'backup.unpin',
            target: req.params.id,
            address: req.ip,
            outcome: 'ok',
          });
          return { id: req.params.id, pinned };
        },
      });
    }

    app.delete(
      '/backups/:id',
      {
        schema: {
          tags: ['backups'],
          summary: 'Delete a backup: its objects first, its catalog record last',
          params: idParam,
          querystring: z.object({ force: z.enum(['true', 'false']).optional() }).strict(),
          response: { 200: deletedSchema, ...errors },
        },
      },
      async (req) => {
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        if (b.status === 'queued' || b.status === 'running')
          throw new ConflictError(`backup ${b.id} is ${b.status}; cancel it before deleting`, 'backup_active');
        // Deleting a backup an incremental builds on breaks that chain for restores.
        const dependents = await listDependents(platform.db, b.id);
        if (dependents.length && req.query.force !== 'true')
          throw new ConflictError(
            `incremental backups build on ${b.id} (${dependents.map((d) => d.id).join(', ')}); deleting it breaks their chain. Delete them first, or pass ?force=true`,
            'backup_has_dependents',
          );
        const objects = await deleteBackupFully(platform, b);
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'backup.delete',
          target: b.id,
          address: req.ip,
          outcome: 'ok',
          details: { objects },
        });
        return { id: b.id, deleted: true, objects };
      },
    );
  };
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
    pinned: b.pinned,
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
      objects: objs.map((o) => ({ key: o.storedKey ?? o.key, status: o.status, rows: o.rows, bytes: o.bytes, sha256: o.sha256 })),
    };
  });
}

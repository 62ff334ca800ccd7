import {
  type BackupRecord,
  type RestoreRecord,
  audit,
  getBackup,
  getRestore,
  insertRestore,
  listRestoreTables,
  listRestores,
} from '@bk/catalog';
import { BadRequestError, ConflictError, NotFoundError, UnavailableError, enqueue, errorMessage, jobIds, newId } from '@bk/core';
import {
  type Platform,
  chainOf,
  endRestore,
  loadManifest,
  planPointInTime,
  selectForRestore,
  selectTdForRestore,
  startDrill,
} from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { acceptedSchema, createRestoreBody, errorSchema, idParam, listRestoresQuery, restoreSchema } from '../schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema };

export function restoreRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/restores',
      {
        schema: {
          tags: ['restores'],
          summary: 'Restore a backup (whole, selected databases or tables, into another database, or a dry run)',
          body: createRestoreBody,
          response: { 202: acceptedSchema, ...errors },
        },
      },
      async (req, reply) => {
        const body = req.body;
        if (body.mode === 'replace' && !body.confirm)
          throw new BadRequestError(
            'mode "replace" overwrites existing tables: repeat the request with confirm: true',
            'confirmation_required',
          );
        let backup: BackupRecord;
        let chain: string[] | undefined;
        if (body.targetTime || (body.source && !body.backupId)) {
          if (!body.source || !body.targetTime)
            throw new BadRequestError('a point-in-time restore needs both source and targetTime', 'invalid_restore_request');
          if (body.backupId)
            throw new BadRequestError('give either backupId or source with targetTime, not both', 'invalid_restore_request');
          const src = platform.sources.forRequest(body.source);
          if (src.kind === 'postgres')
            throw new BadRequestError(
              'point-in-time restore is available for TDengine sources; for PostgreSQL restore a backupId',
              'unsupported',
            );
          const picked = await planPointInTime(platform, body.source, body.targetTime, body);
          backup = picked[picked.length - 1]!;
          chain = picked.map((b) => b.id);
        } else {
          if (!body.backupId) throw new BadRequestError('backupId is required (or source with targetTime)', 'invalid_restore_request');
          const found = await getBackup(platform.db, body.backupId);
          if (!found) throw new NotFoundError(`backup ${body.backupId} not found`);
          backup = found;
        }
        if (backup.status !== 'succeeded')
          throw new ConflictError(
            `backup ${backup.id} is ${backup.status}; only succeeded backups can be restored`,
            'backup_not_restorable',
          );
        if (body.source && body.source !== backup.source)
          throw new BadRequestError(`backup ${backup.id} belongs to source ${backup.source}, not ${body.source}`, 'source_mismatch');
        platform.sources.forRequest(backup.source);
        const members = chain ?? (backup.sourceKind === 'tdengine' ? (await chainOf(platform, backup)).map((b) => b.id) : [backup.id]);
        for (const id of members) {
          const b = id === backup.id ? backup : await getBackup(platform.db, id);
          const verification = b?.verification as { status?: string } | null | undefined;
          if (verification?.status === 'corrupted' && !body.force)
            throw new ConflictError(
              `backup ${id}${id === backup.id ? '' : ` (of the chain restored)`} failed verification (corrupted); pass force: true to restore anyway`,
              'backup_corrupted',
            );
        }
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
        if (manifest.source.kind === 'tdengine') selectTdForRestore(manifest, body, invalid);
        else selectForRestore(manifest, body, invalid);
        const id = newId('rs');
        await insertRestore(platform.db, {
          id,
          backupId: backup.id,
          source: backup.source,
          dryRun: body.dryRun,
          mode: body.mode,
          targetDatabase: body.targetDatabase ?? null,
          request: chain ? { ...body, chain } : body,
          requestedBy: req.principal?.actor ?? null,
        });
        try {
          await enqueue(platform.queues, platform.config, 'restore.coordinate', { restoreId: id }, jobIds.restoreCoordinate(id));
        } catch (e) {
          await endRestore(platform, id, 'failed', `could not enqueue: ${errorMessage(e)}`);
          throw new UnavailableError('the job queue (Redis) is unavailable; the restore was not started');
        }
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: body.dryRun ? 'restore.dry-run' : 'restore.create',
          target: id,
          address: req.ip,
          outcome: 'ok',
          details: {
            backupId: backup.id,
            ...(chain ? { chain, targetTime: body.targetTime } : {}),
            mode: body.mode,
            targetDatabase: body.targetDatabase ?? null,
            tables: body.tables ?? null,
          },
        });
        return reply.status(202).send({ id, status: 'queued' });
      },
    );

    app.post(
      '/drills',
      {
        schema: {
          tags: ['restores'],
          summary:
            'Restore drill: restore the newest good backup of a source into a scratch database, compare, drop; the restore time is the measured RTO',
          body: z.object({ source: z.string().min(1).max(63) }).strict(),
          response: { 202: acceptedSchema, ...errors },
        },
      },
      async (req, reply) => {
        const id = await startDrill(platform, req.body.source, req.principal?.actor ?? 'anonymous');
        return reply.status(202).send({ id, status: 'queued' });
      },
    );

    app.post(
      '/restores/:id/cancel',
      {
        schema: {
          tags: ['restores'],
          summary: 'Cancel a restore: loads in progress roll back; tables already loaded are reported as loaded',
          params: idParam,
          response: { 200: z.object({ id: z.string(), status: z.string() }), ...errors },
        },
      },
      async (req) => {
        const r = await getRestore(platform.db, req.params.id);
        if (!r) throw new NotFoundError(`restore ${req.params.id} not found`);
        const actor = req.principal?.actor ?? 'anonymous';
        if (!(await endRestore(platform, r.id, 'cancelled', `cancelled by ${actor}`)))
          throw new ConflictError(`restore ${r.id} is ${r.status}; only queued or running restores can be cancelled`, 'not_cancellable');
        await audit(platform.db, { actor, action: 'restore.cancel', target: r.id, address: req.ip, outcome: 'ok' });
        return { id: r.id, status: 'cancelled' };
      },
    );

    app.get(
      '/restores',
      {
        schema: {
          tags: ['restores'],
          summary: 'List restores',
          querystring: listRestoresQuery,
          response: {
            200: z.object({ items: z.array(restoreSchema.omit({ tables: true })), nextCursor: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (req) => {
        const q = req.query;
        const page = await listRestores(platform.db, {
          limit: q.limit,
          ...(q.backupId ? { backupId: q.backupId } : {}),
          ...(q.status ? { status: q.status } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        });
        return { items: page.items.map(restoreView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/restores/:id',
      {
        schema: {
          tags: ['restores'],
          summary: 'A restore with per-table progress',
          params: idParam,
          response: { 200: restoreSchema, ...errors },
        },
      },
      async (req) => {
        const r = await getRestore(platform.db, req.params.id);
        if (!r) throw new NotFoundError(`restore ${req.params.id} not found`);
        const tables = await listRestoreTables(platform.db, r.id);
        return {
          ...restoreView(r),
          tables: tables.map((t) => ({
            name: t.name,
            database: t.database,
            objectKey: t.objectKey,
            status: t.status,
            rows: t.rows,
            expectedRows: t.expectedRows,
            ...(t.error ? { error: t.error } : {}),
          })),
        };
      },
    );
  };
}

function restoreView(r: RestoreRecord) {
  return {
    id: r.id,
    backupId: r.backupId,
    source: r.source,
    status: r.status,
    dryRun: r.dryRun,
    mode: r.mode,
    targetDatabase: r.targetDatabase,
    requestedBy: r.requestedBy,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    durationMs: r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null,
    rows: r.rows,
    ...(r.error ? { error: r.error } : {}),
    plan: r.plan,
    replaced: r.replaced,
  };
}

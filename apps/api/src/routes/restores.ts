import { type RestoreRecord, audit, getRestore, listRestoreTables, listRestores } from '@bk/catalog';
import { ConflictError, NotFoundError } from '@bk/core';
import { type Platform, endRestore, startDrill, startRestore } from '@bk/platform';
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
        const started = await startRestore(platform, req.body, { actor: req.principal?.actor ?? 'anonymous', address: req.ip });
        return reply.status(202).send(started);
      },
    );

    app.post(
      '/drills',
      {
        schema: {
          tags: ['restores'],
          summary:
            'Restore drill: restore the newest good backup of a source into a scratch database, compare, drop; the restore time is the measured RTO',
          body: z
            .object({
              source: z.string().min(1).max(63),
              /** Point-in-time sources: the moment to drill (default: the newest restorable one). */
              targetTime: z.iso.datetime({ offset: true }).optional(),
            })
            .strict(),
          response: { 202: acceptedSchema, ...errors },
        },
      },
      async (req, reply) => {
        const id = await startDrill(platform, req.body.source, req.principal?.actor ?? 'anonymous', {
          ...(req.body.targetTime ? { targetTime: req.body.targetTime } : {}),
        });
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

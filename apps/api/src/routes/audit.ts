import { listAudit } from '@bk/catalog';
import type { Platform } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorSchema } from '../schemas.ts';

/** `GET /v1/audit`: who did what, when, from where, with what outcome; filtered and paged. */
export function auditRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/audit',
      {
        schema: {
          tags: ['audit'],
          summary: 'The audit log, newest first',
          querystring: z
            .object({
              actor: z.string().max(200).optional(),
              action: z.string().max(100).optional(),
              target: z.string().max(200).optional(),
              since: z.iso.datetime({ offset: true }).optional(),
              limit: z.coerce.number().int().min(1).max(500).default(100),
              cursor: z
                .string()
                .regex(/^\d{1,18}$/, 'invalid cursor')
                .optional(),
            })
            .strict(),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  id: z.number(),
                  at: z.string(),
                  actor: z.string(),
                  action: z.string(),
                  target: z.string().nullable(),
                  address: z.string().nullable(),
                  outcome: z.string(),
                  details: z.record(z.string(), z.unknown()),
                }),
              ),
              nextCursor: z.string().nullable(),
            }),
            400: errorSchema,
            401: errorSchema,
          },
        },
      },
      async (req) => {
        const q = req.query;
        const page = await listAudit(platform.db, {
          limit: q.limit,
          ...(q.actor ? { actor: q.actor } : {}),
          ...(q.action ? { action: q.action } : {}),
          ...(q.target ? { target: q.target } : {}),
          ...(q.since ? { since: new Date(q.since) } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        });
        return { items: page.items.map((e) => ({ ...e, at: e.at.toISOString() })), nextCursor: page.nextCursor };
      },
    );
  };
}

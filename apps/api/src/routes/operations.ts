import { audit, recoveryFigures, storageUsage } from '@bk/catalog';
import { enqueue } from '@bk/core';
import { type Platform, planCleanup, recoveryWindowOf, rescanCatalog } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorSchema } from '../schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema };

const usageRow = z.object({ key: z.string(), backups: z.number(), objects: z.number(), bytes: z.number() });

/** Least-squares slope of bytes per day over the daily series (0 with fewer than 2 days). */
function slope(days: { key: string; bytes: number }[]): number {
  if (days.length < 2) return 0;
  const xs = days.map((d) => Date.parse(`${d.key}T00:00:00Z`) / 86_400_000);
  const mx = xs.reduce((a, x) => a + x, 0) / xs.length;
  const my = days.reduce((a, d) => a + d.bytes, 0) / days.length;
  let num = 0;
  let den = 0;
  days.forEach((d, i) => {
    const dx = (xs[i] as number) - mx;
    num += dx * (d.bytes - my);
    den += dx * dx;
  });
  return den === 0 ? 0 : num / den;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function operationRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/cleanup',
      {
        schema: {
          tags: ['cleanup'],
          summary: 'Apply retention: dry run lists what would be deleted and which rule decided; otherwise queues the cleanup',
          body: z
            .object({ dryRun: z.boolean().default(false), source: z.string().min(1).optional() })
            .strict()
            .default({ dryRun: false }),
          response: {
            200: z.object({
              dryRun: z.literal(true),
              deletions: z.number(),
              bytesFreed: z.number(),
              items: z.array(
                z.object({
                  id: z.string(),
                  source: z.string(),
                  type: z.string(),
                  status: z.string(),
                  takenAt: z.string(),
                  bytes: z.number(),
                  action: z.enum(['keep', 'delete']),
                  reasons: z.array(z.string()),
                }),
              ),
              /** Point-in-time sources: WAL segments older than every kept base backup. */
              wal: z.array(
                z.object({
                  source: z.string(),
                  keepFrom: z.string().nullable(),
                  segments: z.number(),
                  bytes: z.number(),
                  reason: z.string(),
                }),
              ),
            }),
            202: z.object({ id: z.string(), status: z.string() }),
            ...errors,
          },
        },
      },
      async (req, reply) => {
        const { dryRun, source } = req.body;
        if (source) platform.sources.forRequest(source);
        if (dryRun) {
          const plan = await planCleanup(platform, { source });
          return reply.status(200).send({ dryRun: true as const, ...plan });
        }
        const id = `cleanup-${source ?? 'all'}-${Date.now()}`;
        await enqueue(
          platform.queues,
          platform.config,
          'cleanup.run',
          { ...(source ? { source } : {}), requestedBy: req.principal?.actor ?? 'anonymous' },
          id,
        );
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'cleanup.run',
          target: source ?? null,
          address: req.ip,
          outcome: 'ok',
        });
        return reply.status(202).send({ id, status: 'queued' });
      },
    );

    app.post(
      '/catalog/rescan',
      {
        schema: {
          tags: ['catalog'],
          summary: 'Rebuild backup records from the manifests in storage (idempotent; deletes nothing)',
          body: z.object({}).strict().optional(),
          response: {
            200: z.object({
              manifests: z.number(),
              created: z.array(z.string()),
              unchanged: z.number(),
              problems: z.array(z.object({ key: z.string(), problem: z.string() })),
              missingInStorage: z.array(z.string()),
              /** WAL segments of point-in-time sources recorded again from their sidecars. */
              walSegments: z.number(),
            }),
            ...errors,
          },
        },
      },
      async (req) => rescanCatalog(platform, req.principal?.actor ?? 'anonymous'),
    );

    app.get(
      '/storage/usage',
      {
        schema: {
          tags: ['reports'],
          summary: 'Stored bytes and objects by source, backup type and day, with the growth trend',
          querystring: z.object({ days: z.coerce.number().int().min(2).max(3650).default(30) }).strict(),
          response: {
            200: z.object({
              totals: z.object({ backups: z.number(), objects: z.number(), bytes: z.number() }),
              bySource: z.array(usageRow),
              byType: z.array(usageRow),
              byDay: z.array(usageRow),
              trend: z.object({ days: z.number(), bytesPerDay: z.number(), projectedBytesIn30Days: z.number() }),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const u = await storageUsage(platform.db, req.query.days);
        const totals = u.bySource.reduce(
          (a, r) => ({ backups: a.backups + r.backups, objects: a.objects + r.objects, bytes: a.bytes + r.bytes }),
          { backups: 0, objects: 0, bytes: 0 },
        );
        const perDay = slope(u.byDay);
        return {
          totals,
          ...u,
          trend: {
            days: req.query.days,
            bytesPerDay: Math.round(perDay),
            projectedBytesIn30Days: Math.max(0, Math.round(totals.bytes + perDay * 30)),
          },
        };
      },
    );

    const objective = z.object({ targetMinutes: z.number().nullable(), status: z.enum(['ok', 'breached', 'unknown']) });
    app.get(
      '/recovery-objectives',
      {
        schema: {
          tags: ['reports'],
          summary: 'RPO and RTO per source: targets from configuration against measured values',
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  source: z.string(),
                  rpo: objective.extend({
                    lastSuccessAt: z.string().nullable(),
                    measuredMinutes: z.number().nullable(),
                    /** `wal`: a point-in-time source, measured from the newest restorable moment (the streaming lag); `backup`: from the newest good backup. */
                    basis: z.enum(['wal', 'backup']),
                  }),
                  rto: objective.extend({
                    samples: z.number(),
                    lastMinutes: z.number().nullable(),
                    medianMinutes: z.number().nullable(),
                    maxMinutes: z.number().nullable(),
                  }),
                }),
              ),
            }),
            ...errors,
          },
        },
      },
      async () => {
        const names = platform.sources.names();
        const figures = await recoveryFigures(platform.db, names);
        const now = Date.now();
        const round = (ms: number | null) => (ms === null ? null : Math.round((ms / 60_000) * 100) / 100);
        // A point-in-time source loses at most what the WAL archive has not covered yet.
        const newestMoment = new Map<string, number>();
        for (const name of names) {
          const cfg = platform.sources.find(name);
          if (cfg?.kind !== 'postgres' || !cfg.pitr?.enabled) continue;
          const to = (await recoveryWindowOf(platform, name)).windows.at(-1)?.to;
          if (to) newestMoment.set(name, new Date(to).getTime());
        }
        return {
          items: figures.map((f) => {
            const cfg = platform.sources.find(f.source);
            const moment = newestMoment.get(f.source);
            const rpoMinutes = moment !== undefined ? round(now - moment) : f.lastSuccessAt ? round(now - f.lastSuccessAt.getTime()) : null;
            const rpoTarget = cfg?.rpoTargetMinutes ?? null;
            const rtoTarget = cfg?.rtoTargetMinutes ?? null;
            const maxMs = f.restoreDurationsMs.length ? Math.max(...f.restoreDurationsMs) : null;
            const status = (target: number | null, measured: number | null) =>
              target === null || measured === null ? ('unknown' as const) : measured <= target ? ('ok' as const) : ('breached' as const);
            return {
              source: f.source,
              rpo: {
                targetMinutes: rpoTarget,
                lastSuccessAt: f.lastSuccessAt?.toISOString() ?? null,
                measuredMinutes: rpoMinutes,
                basis: moment !== undefined ? ('wal' as const) : ('backup' as const),
                status: status(rpoTarget, rpoMinutes),
              },
              rto: {
                targetMinutes: rtoTarget,
                samples: f.restoreDurationsMs.length,
                lastMinutes: round(f.restoreDurationsMs[0] ?? null),
                medianMinutes: round(median(f.restoreDurationsMs)),
                maxMinutes: round(maxMs),
                status: status(rtoTarget, round(maxMs)),
              },
            };
          }),
        };
      },
    );
  };
}

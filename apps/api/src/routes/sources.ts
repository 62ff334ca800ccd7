import { NotFoundError } from '@bk/core';
import { lastRunsBySchedule, listSchedules, recoveryFigures } from '@bk/catalog';
import { type Platform, discoverSource, listSourceDatabases, scheduleHealth } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorSchema, sourceNameParam } from '../schemas.ts';

const sourceSummary = z.object({
  name: z.string(),
  kind: z.enum(['postgres', 'tdengine']),
  /** host:port/database, never credentials. */
  target: z.string(),
  reachable: z.boolean(),
  error: z.string().optional(),
  databases: z.array(z.string()).optional(),
  health: z
    .object({
      lastSuccessAt: z.string().nullable(),
      /** Schedules of this source that missed a run, or whose last run failed. */
      schedulesNeedingAttention: z.array(z.object({ id: z.string(), name: z.string(), problem: z.string() })),
    })
    .optional(),
});

const tableInfo = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.string(),
  estimatedRows: z.number(),
  sizeBytes: z.number(),
  parent: z.string().nullable(),
  /** TDengine child tables: tag values (64-bit integers and timestamps as strings, exact). */
  tags: z.record(z.string(), z.unknown()).optional(),
});

const sourceDetail = sourceSummary.extend({
  serverVersion: z.string().optional(),
  catalog: z
    .array(
      z.object({
        name: z.string(),
        precision: z.enum(['ms', 'us', 'ns']).optional(),
        schemas: z.array(z.string()),
        tables: z.array(tableInfo),
      }),
    )
    .optional(),
});

function targetOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol.startsWith('postgres') ? '5432' : '6041')}${u.pathname}`;
}

export function sourceRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/sources',
      {
        schema: {
          tags: ['sources'],
          summary: 'Configured sources and whether they are reachable',
          response: { 200: z.object({ items: z.array(sourceSummary) }), 401: errorSchema },
        },
      },
      async () => {
        const [schedules, lastRuns, recovery] = await Promise.all([
          listSchedules(platform.db),
          lastRunsBySchedule(platform.db),
          recoveryFigures(platform.db, platform.sources.names(), 0),
        ]);
        const healthOf = (name: string) => ({
          lastSuccessAt: recovery.find((r) => r.source === name)?.lastSuccessAt?.toISOString() ?? null,
          schedulesNeedingAttention: schedules
            .filter((s) => s.source === name)
            .flatMap((s) => {
              const last = lastRuns.get(s.id);
              const problem = scheduleHealth(s).problem ?? (last?.status === 'failed' ? `the last run (${last.id}) failed` : null);
              return problem ? [{ id: s.id, name: s.name, problem }] : [];
            }),
        });
        const items = await Promise.all(
          platform.sources.names().map(async (name) => {
            const s = platform.sources.forRequest(name);
            return { name, kind: s.kind, target: targetOf(s.url), health: healthOf(name), ...(await listSourceDatabases(platform, s)) };
          }),
        );
        return { items };
      },
    );

    app.get(
      '/sources/:name',
      {
        schema: {
          tags: ['sources'],
          summary: 'Discover a source: databases, schemas, tables with sizes',
          params: sourceNameParam,
          response: { 200: sourceDetail, 401: errorSchema, 404: errorSchema },
        },
      },
      async (req) => {
        const s = platform.sources.find(req.params.name);
        if (!s) throw new NotFoundError(`unknown source "${req.params.name}"`);
        const base = { name: req.params.name, kind: s.kind, target: targetOf(s.url) };
        const d = await discoverSource(platform, s);
        if (!d.reachable) return { ...base, reachable: false, error: d.error };
        return {
          ...base,
          reachable: true,
          serverVersion: d.serverVersion,
          databases: d.databases.map((x) => x.name),
          catalog: d.databases,
        };
      },
    );
  };
}

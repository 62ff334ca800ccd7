import { BadRequestError, NotFoundError } from '@bk/core';
import { lastRunsBySchedule, listSchedules, recoveryFigures } from '@bk/catalog';
import { type Platform, discoverSource, listSourceDatabases, pitrStatusOf, recoveryWindowOf, scheduleHealth } from '@bk/platform';
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

const streamingSchema = z.object({
  state: z.enum(['starting', 'streaming', 'error', 'stopped', 'never-started']),
  lagSeconds: z.number().nullable(),
  coveredAt: z.string().nullable(),
  holder: z.string().nullable(),
  slot: z.string().nullable(),
  lastError: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

const recoveryWindowSchema = z.object({
  windows: z.array(z.object({ from: z.string(), to: z.string(), timeline: z.number() })),
  gaps: z.array(z.object({ from: z.string(), to: z.string(), reason: z.string() })),
  streaming: streamingSchema,
  baseBackups: z.array(
    z.object({ id: z.string(), consistentAt: z.string(), timeline: z.number(), startLsn: z.string(), stopLsn: z.string() }),
  ),
});

const sourceDetail = sourceSummary.extend({
  serverVersion: z.string().optional(),
  /** Point-in-time recovery (PostgreSQL sources with `pitr.enabled`): what the server lacks, and the streamer. */
  pitr: z
    .object({
      enabled: z.literal(true),
      slot: z.string(),
      problems: z.array(z.string()),
      notes: z.array(z.string()),
      streaming: streamingSchema,
    })
    .optional(),
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
        const pitr = await pitrStatusOf(platform, req.params.name, s);
        const base = { name: req.params.name, kind: s.kind, target: targetOf(s.url), ...(pitr ? { pitr } : {}) };
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

    app.get(
      '/sources/:name/recovery-window',
      {
        schema: {
          tags: ['sources'],
          summary: 'Point-in-time recovery: the moments a restore can reach, holes in the WAL archive, and the streamer lag',
          params: sourceNameParam,
          response: { 200: recoveryWindowSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema },
        },
      },
      async (req) => {
        const s = platform.sources.find(req.params.name);
        if (!s) throw new NotFoundError(`unknown source "${req.params.name}"`);
        if (s.kind !== 'postgres' || !s.pitr?.enabled)
          throw new BadRequestError(
            `source ${req.params.name} has no point-in-time recovery (pitr: { enabled: true })`,
            'pitr_not_enabled',
          );
        return recoveryWindowOf(platform, req.params.name);
      },
    );
  };
}

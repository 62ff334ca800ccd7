import { NotFoundError, type SourceConfig, displayName, errorMessage } from '@bk/core';
import { lastRunsBySchedule, listSchedules, recoveryFigures } from '@bk/catalog';
import { type Platform, discoverTd, scheduleHealth } from '@bk/platform';
import { discover, listDatabases } from '@bk/postgres';
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

/** Discovery must answer even when a source is down: errors become `reachable: false`. */
async function withTimeout<T>(ms: number, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new Error(`no answer within ${ms / 1000}s`)), ms);
  try {
    return await f(ac.signal);
  } finally {
    clearTimeout(t);
  }
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
            const base = { name, kind: s.kind, target: targetOf(s.url), health: healthOf(name) };
            try {
              const databases = await withTimeout(5000, async (signal) =>
                s.kind === 'postgres'
                  ? listDatabases(s.url, { signal })
                  : (await discoverTd(platform, s, signal, true)).databases.map((d) => d.name),
              );
              return { ...base, reachable: true, databases };
            } catch (e) {
              return { ...base, reachable: false, error: errorMessage(e) };
            }
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
        try {
          const d = await withTimeout(30000, (signal) =>
            s.kind === 'tdengine' ? tdCatalog(platform, s, signal) : pgCatalog(s.url, signal),
          );
          return { ...base, reachable: true, serverVersion: d.serverVersion, databases: d.catalog.map((x) => x.name), catalog: d.catalog };
        } catch (e) {
          return { ...base, reachable: false, error: errorMessage(e) };
        }
      },
    );
  };
}

type Catalog = { serverVersion: string; catalog: z.infer<typeof sourceDetail>['catalog'] & object };

/** PostgreSQL discovery as the API shows it. */
async function pgCatalog(url: string, signal: AbortSignal): Promise<Catalog> {
  const d = await discover(url, { signal });
  return {
    serverVersion: d.serverVersion,
    catalog: d.databases.map((x) => ({
      name: x.name,
      schemas: x.schemas,
      tables: x.tables.map((t) => ({
        schema: t.schema,
        name: t.name,
        kind: t.kind,
        estimatedRows: t.estimatedRows,
        sizeBytes: t.sizeBytes,
        parent: t.parent ? displayName(t.parent.schema, t.parent.name) : null,
      })),
    })),
  };
}

/** TDengine discovery as the API shows it: super, child (with tags) and normal tables, rows counted. */
async function tdCatalog(platform: Platform, source: SourceConfig, signal: AbortSignal): Promise<Catalog> {
  const d = await discoverTd(platform, source, signal);
  return {
    serverVersion: d.serverVersion,
    catalog: d.databases.map((x) => ({
      name: x.name,
      precision: x.precision,
      schemas: [],
      tables: x.tables.map((t) => ({
        schema: '',
        name: t.name,
        kind: t.kind,
        estimatedRows: t.rows,
        sizeBytes: 0,
        parent: t.parent,
        ...(t.tags ? { tags: t.tags } : {}),
      })),
    })),
  };
}

import {
  type ScheduleFields,
  type ScheduleRecord,
  type Scope,
  audit,
  deleteSchedule,
  getSchedule,
  getScheduleByName,
  insertSchedule,
  lastRunsBySchedule,
  listSchedules,
  updateSchedule,
} from '@bk/catalog';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, codecSchema, enqueue, newId, retentionSchema } from '@bk/core';
import { hasScope } from '../plugins/auth.ts';
import {
  type Platform,
  backupRequestOf,
  checkNamesExist,
  checkScope,
  compressionFor,
  nextRuns,
  runCheckSchedule,
  scheduleHealth,
  startBackup,
  syncSchedulers,
  validateCron,
} from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { acceptedSchema, backupTypeSchema, errorSchema, idParam } from '../schemas.ts';

/** The scope that running a schedule of each kind needs (the scope of the route that does the same by hand). */
const RUN_SCOPES = { backup: 'backup', verify: 'backup', drill: 'restore', cleanup: 'admin' } satisfies Record<
  ScheduleRecord['kind'],
  Scope
>;

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema };

const scheduleBody = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/, 'names are 1-100 letters, digits, spaces, ".", "_", "-"'),
    kind: z.enum(['backup', 'cleanup', 'verify', 'drill']).default('backup'),
    source: z.string().min(1).max(63).optional(),
    type: backupTypeSchema.optional(),
    databases: z.array(z.string().min(1).max(63)).min(1).optional(),
    tables: z.array(z.string().min(1).max(400)).min(1).optional(),
    cron: z.string().min(1).max(120),
    timezone: z.string().min(1).max(64).default('UTC'),
    enabled: z.boolean().default(true),
    retention: retentionSchema.default({}),
    compression: z.object({ codec: codecSchema, level: z.number().int().optional() }).strict().optional(),
    encrypt: z.boolean().optional(),
    notify: z
      .array(z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16).max(256).optional() }).strict())
      .max(10)
      .default([]),
  })
  .strict();
type ScheduleBody = z.infer<typeof scheduleBody>;

const scheduleView = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['backup', 'cleanup', 'verify', 'drill']),
  source: z.string().nullable(),
  type: z.string().nullable(),
  databases: z.array(z.string()).optional(),
  tables: z.array(z.string()).optional(),
  cron: z.string(),
  timezone: z.string(),
  enabled: z.boolean(),
  retention: z.record(z.string(), z.number()),
  compression: z.object({ codec: codecSchema, level: z.number().optional() }).nullable(),
  encrypt: z.boolean().nullable(),
  /** Webhook targets; secrets are never shown. */
  notify: z.array(z.object({ url: z.string(), signed: z.boolean() })),
  nextRunAt: z.string().nullable(),
  nextRuns: z.array(z.string()),
  lastRun: z.object({ id: z.string(), status: z.string(), at: z.string() }).optional(),
  missedRunAt: z.string().nullable(),
  problem: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Checks a schedule against the configuration; returns the row to store. */
function toFields(platform: Platform, b: ScheduleBody): ScheduleFields {
  validateCron(b.cron, b.timezone);
  if (b.kind === 'cleanup') {
    if (b.source || b.type || b.databases || b.tables || b.compression || b.encrypt !== undefined)
      throw new BadRequestError('a cleanup schedule takes no source, type, scope, compression or encrypt', 'unexpected_field');
  } else if (b.kind === 'verify' || b.kind === 'drill') {
    if (!b.source) throw new BadRequestError(`a ${b.kind} schedule needs a source`, 'missing_fields');
    platform.sources.forRequest(b.source);
    if (b.type || b.databases || b.tables || b.compression || b.encrypt !== undefined)
      throw new BadRequestError(`a ${b.kind} schedule takes a source only (no type, scope, compression or encrypt)`, 'unexpected_field');
  } else {
    if (!b.source || !b.type) throw new BadRequestError('a backup schedule needs source and type', 'missing_fields');
    const src = platform.sources.forRequest(b.source);
    checkScope(src.kind, { type: b.type, databases: b.databases, tables: b.tables });
    if (b.compression) compressionFor(platform, b.compression);
    if (b.encrypt && platform.keyring.activeKeyId === undefined)
      throw new BadRequestError('encrypt: true, but no encryption key is configured', 'encryption_unavailable');
  }
  return {
    name: b.name,
    kind: b.kind,
    source: b.source ?? null,
    type: b.type ?? null,
    scope: { ...(b.databases ? { databases: b.databases } : {}), ...(b.tables ? { tables: b.tables } : {}) },
    cron: b.cron.trim(),
    timezone: b.timezone,
    enabled: b.enabled,
    retention: b.retention,
    compression: b.compression ?? null,
    encrypt: b.encrypt ?? null,
    notify: b.notify,
  };
}

function bodyOf(s: ScheduleRecord): ScheduleBody {
  return {
    name: s.name,
    kind: s.kind,
    ...(s.source ? { source: s.source } : {}),
    ...(s.type ? { type: s.type } : {}),
    ...(s.scope.databases ? { databases: s.scope.databases } : {}),
    ...(s.scope.tables ? { tables: s.scope.tables } : {}),
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled,
    retention: s.retention,
    ...(s.compression ? { compression: s.compression } : {}),
    ...(s.encrypt !== null ? { encrypt: s.encrypt } : {}),
    notify: s.notify,
  };
}

function view(s: ScheduleRecord, lastRun?: { id: string; status: string; at: Date }) {
  const h = scheduleHealth(s);
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    source: s.source,
    type: s.type,
    ...(s.scope.databases ? { databases: s.scope.databases } : {}),
    ...(s.scope.tables ? { tables: s.scope.tables } : {}),
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled,
    retention: s.retention as Record<string, number>,
    compression: s.compression,
    encrypt: s.encrypt,
    notify: s.notify.map((t) => ({ url: t.url, signed: Boolean(t.secret) })),
    nextRunAt: h.nextRunAt,
    nextRuns: s.enabled ? nextRuns(s.cron, s.timezone, 3).map((d) => d.toISOString()) : [],
    ...(lastRun ? { lastRun: { id: lastRun.id, status: lastRun.status, at: lastRun.at.toISOString() } } : {}),
    missedRunAt: h.missedRunAt,
    problem: h.problem ?? (lastRun && lastRun.status === 'failed' ? `the last run (${lastRun.id}) failed` : null),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/** The policy from the design documents, as a preset. */
const presetBody = z
  .object({
    postgresSource: z.string().min(1).optional(),
    tdengineSource: z.string().min(1).optional(),
    timezone: z.string().default('UTC'),
    retention: z
      .object({ fullDays: z.number().int().min(1).default(30), incrementalKeepLast: z.number().int().min(1).default(72) })
      .strict()
      .default({ fullDays: 30, incrementalKeepLast: 72 }),
  })
  .strict();

export function scheduleRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    const actor = (req: { principal?: { actor: string } }) => req.principal?.actor ?? 'anonymous';

    /** A backup schedule names what exists (checked against discovery, as a backup request is). */
    async function checkNames(b: ScheduleBody): Promise<void> {
      if (b.kind === 'backup' && b.source && b.type)
        await checkNamesExist(platform, b.source, platform.sources.forRequest(b.source), {
          type: b.type,
          databases: b.databases,
          tables: b.tables,
        });
    }

    async function create(body: ScheduleBody, who: string, address: string) {
      const fields = toFields(platform, body);
      await checkNames(body);
      if (await getScheduleByName(platform.db, body.name))
        throw new ConflictError(`a schedule named "${body.name}" exists`, 'schedule_exists');
      const s = await insertSchedule(platform.db, newId('sc'), fields);
      await syncSchedulers(platform);
      await audit(platform.db, { actor: who, action: 'schedule.create', target: s.id, address, outcome: 'ok', details: { name: s.name } });
      return s;
    }

    app.post(
      '/schedules',
      { schema: { tags: ['schedules'], summary: 'Create a schedule', body: scheduleBody, response: { 201: scheduleView, ...errors } } },
      async (req, reply) => reply.status(201).send(view(await create(req.body, actor(req), req.ip))),
    );

    app.get(
      '/schedules',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Schedules with next run times and missed runs',
          response: { 200: z.object({ items: z.array(scheduleView) }), ...errors },
        },
      },
      async () => {
        const last = await lastRunsBySchedule(platform.db);
        return { items: (await listSchedules(platform.db)).map((s) => view(s, last.get(s.id))) };
      },
    );

    app.get(
      '/schedules/:id',
      { schema: { tags: ['schedules'], summary: 'One schedule', params: idParam, response: { 200: scheduleView, ...errors } } },
      async (req) => {
        const s = await getSchedule(platform.db, req.params.id);
        if (!s) throw new NotFoundError(`schedule ${req.params.id} not found`);
        return view(s, (await lastRunsBySchedule(platform.db)).get(s.id));
      },
    );

    app.put(
      '/schedules/:id',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Replace a schedule',
          params: idParam,
          body: scheduleBody,
          response: { 200: scheduleView, ...errors },
        },
      },
      async (req) => {
        const existing = await getSchedule(platform.db, req.params.id);
        if (!existing) throw new NotFoundError(`schedule ${req.params.id} not found`);
        const fields = toFields(platform, req.body);
        await checkNames(req.body);
        const clash = await getScheduleByName(platform.db, req.body.name);
        if (clash && clash.id !== existing.id) throw new ConflictError(`a schedule named "${req.body.name}" exists`, 'schedule_exists');
        const s = (await updateSchedule(platform.db, existing.id, fields)) as ScheduleRecord;
        await syncSchedulers(platform);
        await audit(platform.db, { actor: actor(req), action: 'schedule.update', target: s.id, address: req.ip, outcome: 'ok' });
        return view(s);
      },
    );

    for (const [verb, enabled] of [
      ['enable', true],
      ['disable', false],
    ] as const) {
      app.post(
        `/schedules/:id/${verb}`,
        { schema: { tags: ['schedules'], summary: `${verb} a schedule`, params: idParam, response: { 200: scheduleView, ...errors } } },
        async (req) => {
          const existing = await getSchedule(platform.db, req.params.id);
          if (!existing) throw new NotFoundError(`schedule ${req.params.id} not found`);
          const s = (await updateSchedule(
            platform.db,
            existing.id,
            toFields(platform, { ...bodyOf(existing), enabled }),
          )) as ScheduleRecord;
          await syncSchedulers(platform);
          await audit(platform.db, { actor: actor(req), action: `schedule.${verb}`, target: s.id, address: req.ip, outcome: 'ok' });
          return view(s);
        },
      );
    }

    app.delete(
      '/schedules/:id',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Delete a schedule (its backups stay, under the source retention)',
          params: idParam,
          response: { 200: z.object({ id: z.string(), deleted: z.boolean() }), ...errors },
        },
      },
      async (req) => {
        if (!(await deleteSchedule(platform.db, req.params.id))) throw new NotFoundError(`schedule ${req.params.id} not found`);
        await syncSchedulers(platform);
        await audit(platform.db, { actor: actor(req), action: 'schedule.delete', target: req.params.id, address: req.ip, outcome: 'ok' });
        return { id: req.params.id, deleted: true };
      },
    );

    app.post(
      '/schedules/:id/run',
      { schema: { tags: ['schedules'], summary: 'Run a schedule now', params: idParam, response: { 202: acceptedSchema, ...errors } } },
      async (req, reply) => {
        const s = await getSchedule(platform.db, req.params.id);
        if (!s) throw new NotFoundError(`schedule ${req.params.id} not found`);
        // Running a schedule does what its kind does: it needs that kind's scope, as the
        // direct routes do (cleanup -> admin, drill -> restore, backup and verify -> backup).
        const needed = RUN_SCOPES[s.kind];
        if (!hasScope(req.principal, needed)) throw new ForbiddenError(`running a ${s.kind} schedule needs the "${needed}" scope`);
        await audit(platform.db, {
          actor: actor(req),
          action: 'schedule.run',
          target: s.id,
          address: req.ip,
          outcome: 'ok',
          details: { kind: s.kind, name: s.name },
        });
        if (s.kind === 'verify' || s.kind === 'drill') {
          const id = await runCheckSchedule(platform, s, actor(req));
          return reply.status(202).send({ id, status: 'queued' });
        }
        if (s.kind === 'cleanup') {
          const jobId = `cleanup-now-${Date.now()}`;
          await enqueue(platform.queues, platform.config, 'cleanup.run', { requestedBy: actor(req) }, jobId);
          return reply.status(202).send({ id: jobId, status: 'queued' });
        }
        const b = await startBackup(platform, backupRequestOf(s), { actor: actor(req), address: req.ip, scheduleId: s.id });
        return reply.status(202).send({ id: b.id, status: b.status });
      },
    );

    app.post(
      '/schedules/presets/standard',
      {
        schema: {
          tags: ['schedules'],
          summary:
            "The documents' policy: TDengine full 02:00, PostgreSQL full 03:00, cleanup 04:00, TDengine incremental hourly except 02:00",
          body: presetBody,
          response: { 201: z.object({ items: z.array(scheduleView) }), ...errors },
        },
      },
      async (req, reply) => {
        const p = req.body;
        if (!p.postgresSource && !p.tdengineSource)
          throw new BadRequestError('name postgresSource and/or tdengineSource', 'missing_fields');
        const planned: ScheduleBody[] = [];
        const base = { timezone: p.timezone, enabled: true, notify: [] as ScheduleBody['notify'], kind: 'backup' as const };
        if (p.tdengineSource) {
          planned.push({
            ...base,
            name: `${p.tdengineSource} full daily`,
            source: p.tdengineSource,
            type: 'full',
            cron: '0 2 * * *',
            retention: { maxAgeDays: p.retention.fullDays },
          });
          planned.push({
            ...base,
            name: `${p.tdengineSource} incremental hourly`,
            source: p.tdengineSource,
            type: 'incremental',
            cron: '0 0,1,3-23 * * *',
            retention: { keepLast: p.retention.incrementalKeepLast },
          });
        }
        if (p.postgresSource)
          planned.push({
            ...base,
            name: `${p.postgresSource} full daily`,
            source: p.postgresSource,
            type: 'full',
            cron: '0 3 * * *',
            retention: { maxAgeDays: p.retention.fullDays },
          });
        planned.push({ ...base, kind: 'cleanup', name: 'cleanup daily', cron: '0 4 * * *', retention: {} });
        // Validate all before creating any: a preset is created whole or not at all.
        for (const b of planned) {
          toFields(platform, b);
          if (await getScheduleByName(platform.db, b.name))
            throw new ConflictError(`a schedule named "${b.name}" exists`, 'schedule_exists');
        }
        const created: ScheduleRecord[] = [];
        for (const b of planned) created.push(await create(b, actor(req), req.ip));
        return reply.status(201).send({ items: created.map((s) => view(s)) });
      },
    );
  };
}

import { createInterface } from 'node:readline';
import { type BackupRecord, type RestoreRecord, getBackup, insertRestoreTables, markRestoreRunning, recordRestorePlan } from '@bk/catalog';
import { type FlowChild, type Manifest, type ManifestObject, PermanentJobError, enqueueFlow, errorMessage, jobIds } from '@bk/core';
import {
  type Platform,
  chainOf,
  checkObjects,
  endRestore,
  loadManifest,
  objectTouches,
  openObject,
  restoreRequestOf,
  selectTdForRestore,
  endDryRun,
  tdClientFor,
} from '@bk/platform';
import {
  type ColumnInfo,
  type DatabaseSchema,
  type TdClient,
  childTables,
  countOf,
  describe,
  typeSql,
  childTags,
  createChildTablesSql,
  createDatabase,
  createNormalTable,
  createSuperTable,
  listDatabases,
  listNormalTables,
  listSuperTables,
  quoteQualified,
  readSchema,
} from '@bk/tdengine';
import { Job } from 'bullmq';
import { watchRestoreFlow } from '../flow.ts';
import { dropDrillDatabase } from '../scratch.ts';
import type { HandlerContext } from '../../handlers/types.ts';

export interface ChainStep {
  backup: BackupRecord;
  manifest: Manifest;
  dataKey: Buffer | undefined;
  /** Data objects of this backup the restore loads. */
  data: ManifestObject[];
}

/**
 * The backups a TDengine restore applies, oldest first, each with its manifest and the data
 * objects selected. The newest manifest decides the selection (its structure is the one
 * restored); older ones contribute the rows of the same tables.
 */
export async function loadChain(platform: Platform, restore: RestoreRecord) {
  const req = restoreRequestOf(restore);
  let records: BackupRecord[];
  if (req.chain?.length) {
    records = [];
    for (const id of req.chain) {
      const b = await getBackup(platform.db, id);
      if (!b) throw new PermanentJobError(`backup ${id} of the restore's chain is gone`);
      records.push(b);
    }
  } else {
    const b = await getBackup(platform.db, restore.backupId);
    if (!b) throw new PermanentJobError(`backup ${restore.backupId} not found`);
    records = await chainOf(platform, b);
  }
  const loaded = await Promise.all(records.map(async (backup) => ({ backup, ...(await loadManifest(platform, backup.id)) })));
  const last = loaded[loaded.length - 1]!;
  const sel = selectTdForRestore(last.manifest, req, (m) => {
    throw new PermanentJobError(m);
  });
  const steps: ChainStep[] = loaded.map((l) => ({
    ...l,
    data: l.manifest.objects.filter(
      (o) => o.kind === 'data' && sel.databases.has(o.database) && objectTouches(o, sel.tables?.get(o.database)),
    ),
  }));
  return { req, sel, steps };
}

/** Reads a database's schema object of one backup (undefined: the database was not in it yet). */
export async function readSchemaOf(
  platform: Platform,
  step: ChainStep,
  database: string,
  signal: AbortSignal,
): Promise<DatabaseSchema | undefined> {
  const obj = step.manifest.objects.find((o) => o.kind === 'ddl' && o.database === database);
  if (!obj) return undefined;
  const { stream } = await openObject(platform, obj, step.dataKey, signal);
  return readSchema(createInterface({ input: stream, crlfDelay: Infinity }), obj.key);
}

/**
 * Plans and runs a TDengine restore: creates each target database with the backup's
 * precision and options (or checks an existing one), refuses or replaces existing tables as
 * the mode says, creates the super tables, normal tables and every child table with its
 * tags, then loads the rows backup by backup along the chain (a full, then each
 * incremental in order, so a later backup's version of a row wins), one job per object.
 */
export async function coordinateTdRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  // Every TDengine step is idempotent: a run after a lost worker (status running) resumes.
  if (restore.status === 'queued') await markRestoreRunning(platform.db, restore.id);
  try {
    return await runTdRestore(platform, restore, ctx);
  } catch (e) {
    await endRestore(platform, restore.id, 'failed', errorMessage(e));
    await dropDrillDatabase(platform, restore);
    throw e;
  }
}

async function runTdRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  const { db } = platform;
  const restoreId = restore.id;
  const { req, sel, steps } = await loadChain(platform, restore);
  const plan = {
    backups: steps.map((s) => ({ id: s.backup.id, type: s.backup.type, asOf: s.backup.asOf?.toISOString() ?? null })),
    ...(req.targetTime ? { targetTime: req.targetTime } : {}),
    databases: [...sel.databases].map(([from, to]) => ({
      from,
      to,
      tables: sel.tables ? [...(sel.tables.get(from) ?? [])] : 'all',
      objects: steps.reduce((a, s) => a + s.data.filter((o) => o.database === from).length, 0),
    })),
    order: ['database and tables', ...steps.map((s) => `rows of ${s.backup.type} ${s.backup.id}`), 'row-count check'],
  };

  if (req.dryRun) {
    const checked = [];
    for (const s of steps) {
      const toCheck = [...s.manifest.objects.filter((o) => o.kind === 'ddl' && sel.databases.has(o.database)), ...s.data];
      checked.push(...(await checkObjects(platform, toCheck, s.dataKey, ctx.signal)));
    }
    return endDryRun(platform, restoreId, plan, checked);
  }

  // A resumed run (the first one's worker was lost) finds the plan recorded: the databases
  // and tables exist already, and the target may hold rows this restore loaded.
  const resumed = restore.plan !== null;
  if (!resumed) {
    const source = platform.sources.forJob(restore.source);
    const client = tdClientFor(platform, source);
    const replaced: { database: string; table: string; rowsBefore: number }[] = [];
    try {
      for (const [from, to] of sel.databases) {
        const chosen = sel.tables?.get(from);
        const schemas: DatabaseSchema[] = [];
        for (const s of steps) {
          const schema = await readSchemaOf(platform, s, from, ctx.signal);
          if (schema) schemas.push(schema);
        }
        const newest = schemas[schemas.length - 1];
        if (!newest) throw new PermanentJobError(`no backup of the chain has a schema object for database ${from}`);
        replaced.push(...(await prepareTarget(client, newest, to, chosen, restore.mode, ctx.signal)));
        await createTables(client, schemas, to, chosen, platform.config.tdengine.maxStatementKiB * 1024, ctx.signal);
      }
    } finally {
      client.close();
    }
    await recordRestorePlan(db, restoreId, plan, restore.mode === 'replace' && replaced.length ? { tables: replaced } : null);
  } else {
    ctx.log.info({ restoreId }, 'resuming a TDengine restore whose coordinator was lost');
  }

  let seq = 0;
  const stages = steps.map((s) =>
    s.data.map((o) => ({
      o,
      seq: seq++,
      backupId: s.backup.id,
      label: `${o.database}.${o.table ?? o.key}${steps.length > 1 ? ` (${s.backup.type} ${s.backup.id})` : ''}`,
    })),
  );
  await insertRestoreTables(
    db,
    restoreId,
    stages.flat().map(({ o, seq: n, label }) => ({
      objectKey: o.key,
      seq: n,
      name: label,
      database: sel.databases.get(o.database) ?? o.database,
      expectedRows: o.rows,
    })),
  );
  const finalQueue = platform.queues.queues.finalize;
  for (let i = 0; i < stages.length; i++) {
    const last = i === stages.length - 1;
    const parent = last
      ? ({ name: 'restore.finalize', jobId: jobIds.restoreFinalize(restoreId), data: { restoreId } } as const)
      : ({ name: 'restore.stage', jobId: jobIds.restoreStage(restoreId, i), data: { restoreId, stage: i } } as const);
    // Resuming: a stage recorded done is skipped (its barrier job may be gone from Redis, and
    // loading it again after a later stage would bring older row versions back); a stage
    // whose flow exists is watched, not added again.
    const done = ((restore.plan as { done?: string[] } | null)?.done ?? []).includes(`stage:${i}`);
    if (resumed && !last && done) continue;
    const existing = resumed ? await Job.fromId(finalQueue, parent.jobId) : undefined;
    if (!existing) {
      const children: FlowChild[] = stages[i]!.map(({ o, seq: n, backupId }) => ({
        name: 'restore.td-batch',
        jobId: jobIds.restoreTable(restoreId, n),
        data: { restoreId, backupId, objectKey: o.key },
      }));
      await enqueueFlow(platform.queues, platform.config, parent, children);
    }
    const outcome = await watchRestoreFlow(platform, restoreId, parent.jobId, ctx.signal);
    if (outcome.state !== 'completed') {
      await endRestore(platform, restoreId, 'failed', outcome.reason);
      return { outcome: outcome.state, stage: i };
    }
  }
  return { outcome: 'completed', stages: stages.length };
}

/**
 * Checks the target database against the mode: in `fail-if-exists` any chosen table that
 * already holds rows stops the restore before anything changes; in `replace` the chosen
 * tables that exist are dropped (and reported). A database with another precision is refused.
 */
async function prepareTarget(
  client: TdClient,
  schema: DatabaseSchema,
  to: string,
  chosen: Set<string> | undefined,
  mode: string,
  signal: AbortSignal,
): Promise<{ database: string; table: string; rowsBefore: number }[]> {
  const call = { signal };
  if (!(await listDatabases(client, call)).includes(to)) return [];
  const stables = new Set(await listSuperTables(client, to, call));
  const normals = new Set(await listNormalTables(client, to, call));
  const wanted = [...schema.stables.map((s) => s.name), ...schema.tables.map((t) => t.name)].filter((n) => !chosen || chosen.has(n));
  const existing: { table: string; rows: number; stable: boolean }[] = [];
  for (const name of wanted) {
    if (!stables.has(name) && !normals.has(name)) continue;
    const rows = await countOf(client, `SELECT COUNT(*) FROM ${quoteQualified(to, name)}`, call);
    existing.push({ table: name, rows, stable: stables.has(name) });
  }
  const nonEmpty = existing.filter((e) => e.rows > 0);
  if (mode !== 'replace') {
    if (nonEmpty.length)
      throw new PermanentJobError(
        `target database ${to} already has rows in ${nonEmpty.map((e) => `${e.table} (${e.rows})`).join(', ')}; nothing was changed. ` +
          'Restore into another targetDatabase, or use mode "replace" with confirm: true',
      );
    // Empty tables are kept (CREATE ... IF NOT EXISTS), so they must be what the backup
    // describes: another structure, or child tables with other tags, would load wrongly.
    const differ = await structureDifferences(client, schema, to, existing, call);
    if (differ.length)
      throw new PermanentJobError(
        `target database ${to} has ${differ.join('; ')}; nothing was changed. Restore into another targetDatabase, or use mode "replace" with confirm: true`,
      );
    return [];
  }
  for (const e of existing) await client.exec(`DROP ${e.stable ? 'STABLE' : 'TABLE'} IF EXISTS ${quoteQualified(to, e.table)}`, call);
  return existing.map((e) => ({ database: to, table: e.table, rowsBefore: e.rows }));
}

/** How existing (empty) target tables differ from the backup's: kind, columns, tags, child tags. */
async function structureDifferences(
  client: TdClient,
  schema: DatabaseSchema,
  to: string,
  existing: readonly { table: string; stable: boolean }[],
  call: { signal: AbortSignal },
): Promise<string[]> {
  const out: string[] = [];
  const text = (cols: readonly ColumnInfo[]) => cols.map((c) => `${c.name} ${typeSql(c.type)}`).join(', ');
  for (const e of existing) {
    const st = schema.stables.find((x) => x.name === e.table);
    const nt = schema.tables.find((x) => x.name === e.table);
    if (Boolean(st) !== e.stable) {
      out.push(`${e.table} as a ${e.stable ? 'super' : 'normal'} table, the backup's is a ${st ? 'super' : 'normal'} table`);
      continue;
    }
    const actual = await describe(client, to, e.table, call);
    const want = st ?? nt!;
    if (text(actual.columns) !== text(want.columns) || (st && text(actual.tags) !== text(st.tags))) {
      out.push(`${e.table} with other columns or tags than the backup's`);
      continue;
    }
    if (!st) continue;
    const backupTags = new Map(schema.children.filter((c) => c.stable === st.name).map((c) => [c.name, JSON.stringify(c.tags)]));
    const precision = schema.options.precision;
    for (const child of await childTables(client, to, st.name, { ...call, precision, tags: actual.tags })) {
      const b = backupTags.get(child.name);
      if (b !== undefined && b !== JSON.stringify(child.tags.map((t) => t.value)))
        out.push(`child table ${child.name} with other tag values than the backup's`);
    }
  }
  return out;
}

/** The database (newest options), its chosen super and normal tables, and every child table any backup of the chain knew. */
async function createTables(
  client: TdClient,
  schemas: DatabaseSchema[],
  to: string,
  chosen: Set<string> | undefined,
  maxBytes: number,
  signal: AbortSignal,
): Promise<void> {
  const call = { signal };
  const newest = schemas[schemas.length - 1]!;
  await createDatabase(client, to, newest.options, call);
  const stables = new Map(newest.stables.filter((s) => !chosen || chosen.has(s.name)).map((s) => [s.name, s]));
  for (const s of stables.values()) await createSuperTable(client, to, s.name, s.columns, s.tags, call);
  for (const t of newest.tables.filter((x) => !chosen || chosen.has(x.name))) await createNormalTable(client, to, t.name, t.columns, call);
  const children = new Map<string, { name: string; stable: string; tags: ReturnType<typeof childTags> }>();
  for (const schema of schemas) {
    for (const c of schema.children) {
      const st = stables.get(c.stable);
      if (st)
        children.set(c.name, { name: c.name, stable: c.stable, tags: childTags(c, schema.stables.find((s) => s.name === c.stable) ?? st) });
    }
  }
  for (const sql of createChildTablesSql(to, children.values(), maxBytes)) await client.exec(sql, call);
}

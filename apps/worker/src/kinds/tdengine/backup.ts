import { Readable } from 'node:stream';
import {
  type BackupRecord,
  type NewBackupObject,
  getBackup,
  insertBackupObjects,
  listBackupObjects,
  markBackupRunning,
  markObjectRunning,
  markObjectSucceeded,
  recordBackupSnapshot,
} from '@bk/catalog';
import {
  type FlowChild,
  PermanentJobError,
  attemptKey,
  type SourceConfig,
  codecExtension,
  databasePrefix,
  encodeForStorage,
  enqueueFlow,
  errorMessage,
  jobIds,
  keySegment,
} from '@bk/core';
import { dataKeyOf, dateToEpoch, endBackup, parseTdTableRef, tdClientFor } from '@bk/platform';
import {
  type ColumnInfo,
  type TdClient,
  clampEpoch,
  countOf,
  listDatabases,
  readDatabaseChecked,
  quoteIdent,
  quoteQualified,
  schemaLines,
  serverVersion,
  typeSql,
} from '@bk/tdengine';
import { Job } from 'bullmq';
import { watchFlow } from '../flow.ts';
import type { HandlerContext } from '../../handlers/types.ts';
import type { Platform } from '@bk/platform';

/**
 * The TDengine backup coordinator. It fixes the cut ("as of", taken now: rows with earlier
 * timestamps belong to this backup), writes each database's structure (options, super
 * tables, normal tables, child tables with typed tags) as a schema object, and fans the rows
 * out: one job per batch of child tables of a super table (and per batch of normal tables),
 * each reading its tables' window `[from, cut)` with keyset paging and a COUNT(*) check.
 * An incremental's window starts at its parent's cut minus the configured look-back.
 */
export async function coordinateTdBackup(
  platform: Platform,
  backup: BackupRecord,
  source: SourceConfig,
  ctx: HandlerContext,
): Promise<unknown> {
  // No snapshot to lose: a run after a lost worker resumes at the recorded cut (the flow's
  // job ids are fixed, so enqueueing it again adds nothing that exists).
  if (backup.status === 'queued') await markBackupRunning(platform.db, backup.id);
  try {
    return await runTdBackup(platform, backup, source, ctx);
  } catch (e) {
    await endBackup(platform, backup.id, 'failed', errorMessage(e));
    throw e;
  }
}

async function runTdBackup(platform: Platform, backup: BackupRecord, source: SourceConfig, ctx: HandlerContext): Promise<unknown> {
  const { db } = platform;
  const backupId = backup.id;
  // A resumed run (the first one's worker was lost) whose flow exists only watches it: the
  // exports and the finalize job are under way, and the schema objects must not be rewritten.
  if (await Job.fromId(platform.queues.queues.finalize, jobIds.backupFinalize(backupId)))
    ctx.log.info({ backupId }, 'resuming a TDengine backup: watching its flow');
  else await fanOut(platform, backup, source, ctx);

  const outcome = await watchFlow(platform, 'finalize', jobIds.backupFinalize(backupId), {
    signal: ctx.signal,
    check: async () => {
      const b = await getBackup(db, backupId);
      return b && b.status !== 'running' ? `backup is ${b.status}` : undefined;
    },
    onTick: async () => {
      const objs = await listBackupObjects(db, backupId);
      await ctx.job.updateProgress({ objects: objs.length, done: objs.filter((o) => o.status === 'succeeded').length });
    },
  });
  if (outcome.state !== 'completed') {
    const reason = outcome.reason;
    await endBackup(platform, backupId, 'failed', reason.startsWith('backup is') ? reason : `backup failed: ${reason}`);
  }
  return { outcome: outcome.state };
}

/** Fixes the cut, writes the schema objects and enqueues the export flow. */
async function fanOut(platform: Platform, backup: BackupRecord, source: SourceConfig, ctx: HandlerContext): Promise<void> {
  const { db } = platform;
  const backupId = backup.id;
  const cfg = platform.config.tdengine;
  const client = tdClientFor(platform, source);
  const call = { signal: ctx.signal };
  // The cut trails the clock a little: rows that live ingestion delivers a few seconds late
  // then land before the export reads their table, not between its pages and its COUNT(*).
  // A resumed run keeps the recorded cut: exports already done were read at it.
  const asOf = backup.asOf ?? new Date(Date.now() - cfg.cutDelaySeconds * 1000);
  let windowStart: Date | undefined;
  let parentCut: Date | undefined;
  /** `db\u0000table` of every child and normal table the parent backup held. */
  let known: Set<string> | undefined;
  if (backup.type === 'incremental') {
    const parent = backup.parentBackupId ? await getBackup(db, backup.parentBackupId) : undefined;
    if (!parent?.asOf || parent.status !== 'succeeded')
      throw new PermanentJobError(`the parent backup ${backup.parentBackupId ?? '(none)'} of this incremental is gone or did not succeed`);
    parentCut = parent.asOf;
    windowStart = new Date(parent.asOf.getTime() - cfg.lookbackMinutes * 60_000);
    if (parentCut >= asOf)
      throw new PermanentJobError(
        `the parent backup ${parent.id} is cut at ${parent.asOf.toISOString()}, not before this incremental's cut; take a full backup`,
      );
    known = new Set();
    for (const o of await listBackupObjects(db, parent.id)) for (const m of o.members ?? []) known.add(`${o.database}\u0000${m.table}`);
  }

  const version = await serverVersion(client, call);
  const targets = await resolveTargets(client, backup, call);
  const dataKey = dataKeyOf(platform, backup);
  const ext = codecExtension(backup.compression.codec);
  const objects: NewBackupObject[] = [];
  const children: FlowChild[] = [];
  const databases: Record<string, { precision: string; tables: string[]; rowsAfterCut: number }> = {};
  let seq = 0;

  for (const [database, only] of targets) {
    // Every listing cross-checked: a truncated one would leave tables out unnoticed.
    const { options, stables, tables, allTables } = await readDatabaseChecked(client, database, only, call);
    const { precision } = options;
    if (only) {
      const missing = [...only].filter((t) => !allTables.includes(t));
      if (missing.length)
        throw new PermanentJobError(`tables not found in database ${database} (super or normal tables): ${missing.join(', ')}`);
    }
    const cut = clampEpoch(dateToEpoch(asOf, precision), precision);
    // Rows stamped at or after the cut (live ingestion, future timestamps) belong to a later
    // backup: counted here so the manifest says so instead of leaving them out silently.
    let rowsAfterCut = 0;
    for (const t of [...stables, ...tables]) {
      rowsAfterCut += await countOf(
        client,
        `SELECT COUNT(*) FROM ${quoteQualified(database, t.name)} WHERE ${quoteIdent(t.columns[0]!.name)} >= ${cut}`,
        call,
      );
    }
    if (rowsAfterCut)
      ctx.log.warn({ backupId, database, rowsAfterCut, asOf }, 'rows stamped at or after the cut are left to a later backup');
    databases[database] = { precision, tables: [...stables.map((s) => s.name), ...tables.map((t) => t.name)], rowsAfterCut };

    // The structure first, inline: it is small next to the rows, and a restore needs it first.
    const dbPrefix = databasePrefix(backup.source, backupId, database);
    const schemaKey = `${dbPrefix}schema/schema.td.jsonl${ext}`;
    await insertBackupObjects(db, backupId, [
      { ...objectBase(backup, dataKey), key: schemaKey, seq: seq++, kind: 'ddl', database, format: 'td-ddl-jsonl' },
    ]);
    await markObjectRunning(db, backupId, schemaKey);
    // A resumed coordinator writes its own key: an earlier run may still be writing the other.
    const storeKey = attemptKey(schemaKey, ctx.job.attemptsStarted);
    const lines = schemaLines(
      database,
      options,
      stables,
      tables,
      stables.flatMap((s) => s.children.map((child) => ({ stable: s.name, child }))),
    );
    const enc = encodeForStorage(Readable.from(lines), { compression: backup.compression, ...(dataKey ? { dataKey } : {}) });
    await platform.store.put(storeKey, enc.stream, { signal: ctx.signal });
    await markObjectSucceeded(db, backupId, schemaKey, { ...enc.stats(), rows: 0, storedKey: storeKey });

    const window = {
      from: windowStart ? clampEpoch(dateToEpoch(windowStart, precision), precision).toString() : null,
      to: cut.toString(),
      // Rows from the parent's cut on are this backup's own (no other backup of the chain
      // holds them): counted per table so a chain restore can check a lower bound.
      newFrom: parentCut ? clampEpoch(dateToEpoch(parentCut, precision), precision).toString() : null,
    };
    // A table the parent did not hold (new, or backfilled) is taken whole, not just its window.
    const whole = (name: string) => (known && !known.has(`${database}\u0000${name}`) ? { whole: true as const } : {});
    const addBatches = (
      path: string,
      stable: string | null,
      names: readonly { name: string; columns?: readonly ColumnInfo[] }[],
      columns?: readonly ColumnInfo[],
    ) => {
      const n = Math.ceil(names.length / cfg.childTablesPerJob);
      for (let i = 0; i < n; i++) {
        const part = names.slice(i * cfg.childTablesPerJob, (i + 1) * cfg.childTablesPerJob);
        const key = `${dbPrefix}data/${path}.batch-${String(i).padStart(5, '0')}.tdb.jsonl${ext}`;
        objects.push({
          ...objectBase(backup, dataKey),
          key,
          seq: seq++,
          kind: 'data',
          database,
          tableName: stable,
          displayName: `${stable ?? 'normal tables'}${n > 1 ? ` [batch ${i + 1}/${n}]` : ''}`,
          format: 'td-batch-jsonl',
        });
        children.push({
          name: 'export.td-batch',
          jobId: jobIds.backupExport(backupId, children.length),
          data: {
            backupId,
            source: backup.source,
            database,
            objectKey: key,
            stable,
            ...(columns ? { columns: columnsOf(columns) } : {}),
            tables: part.map((t) => ({ name: t.name, ...(t.columns ? { columns: columnsOf(t.columns) } : {}), ...whole(t.name) })),
            precision,
            window,
            compression: backup.compression,
          },
        });
      }
    };
    for (const s of stables) addBatches(`stable/${keySegment(s.name)}`, s.name, s.children, s.columns);
    if (tables.length) addBatches('normal', null, tables);
  }

  await recordBackupSnapshot(db, backupId, {
    asOf,
    serverVersion: version,
    metadata: { tdengine: { databases, ...(windowStart ? { windowStart: windowStart.toISOString() } : {}) } },
  });
  await insertBackupObjects(db, backupId, objects);
  await enqueueFlow(
    platform.queues,
    platform.config,
    { name: 'backup.finalize', jobId: jobIds.backupFinalize(backupId), data: { backupId } },
    children,
  );
  ctx.log.info({ backupId, databases: Object.keys(databases), exports: children.length, asOf }, 'TDengine backup fanned out');
}

function objectBase(backup: BackupRecord, dataKey: Buffer | undefined) {
  return {
    schemaName: null,
    tableName: null,
    displayName: null,
    columns: null,
    chunk: null,
    compression: backup.compression,
    encrypted: Boolean(dataKey),
  };
}

function columnsOf(columns: readonly ColumnInfo[]): { name: string; type: string }[] {
  return columns.map((c) => ({ name: c.name, type: typeSql(c.type) }));
}

/** Databases to back up, each with the tables asked for (undefined: all of them). */
async function resolveTargets(
  client: TdClient,
  backup: BackupRecord,
  call: { signal: AbortSignal },
): Promise<Map<string, Set<string> | undefined>> {
  const all = await listDatabases(client, call);
  const out = new Map<string, Set<string> | undefined>();
  if (backup.scope.tables?.length) {
    for (const t of backup.scope.tables) {
      const ref = parseTdTableRef(t);
      out.set(ref.database, (out.get(ref.database) ?? new Set()).add(ref.table));
    }
  } else if (backup.scope.databases?.length) {
    for (const d of backup.scope.databases) out.set(d, undefined);
  } else {
    for (const d of all) out.set(d, undefined);
  }
  const missing = [...out.keys()].filter((d) => !all.includes(d));
  if (missing.length) throw new PermanentJobError(`databases not found on the server: ${missing.join(', ')}`);
  return out;
}

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
  type JobPayload,
  PG_COPY_BINARY,
  PG_COPY_TEXT,
  PermanentJobError,
  type SourceConfig,
  codecExtension,
  databasePrefix,
  displayName,
  encodeForStorage,
  enqueueFlow,
  errorMessage,
  jobIds,
  keySegment,
  parsePgTableRef,
  partSuffix,
} from '@bk/core';
import { type Platform, dataKeyOf, endBackup, pgDatabaseOf, pgUrlForDatabase } from '@bk/platform';
import { SnapshotSession, dumpSchema, listDatabases } from '@bk/postgres';
import { watchFlow } from '../flow.ts';
import type { HandlerContext } from '../../handlers/types.ts';

/**
 * The PostgreSQL backup coordinator. It opens one REPEATABLE READ snapshot per database and
 * exports it, writes the schema (pre-data, post-data) from that snapshot, registers one
 * object per table (or ctid block range of a big table), fans the exports out as a flow
 * whose parent writes the manifest, and holds the snapshots open until the flow ends.
 *
 * It is never retried: a second run would take a new snapshot and mix two states. If it
 * finds its own earlier run's snapshot recorded, that snapshot died with the earlier run,
 * and the backup fails with a message that says so.
 */
export async function coordinatePgBackup(
  platform: Platform,
  backup: BackupRecord,
  source: SourceConfig,
  ctx: HandlerContext,
): Promise<unknown> {
  const { db } = platform;
  const backupId = backup.id;
  if (backup.snapshots) {
    const msg =
      'the coordinator holding the snapshot stopped before all tables were exported (worker lost); a consistent backup cannot be completed. Start a new backup.';
    await endBackup(platform, backupId, 'failed', msg);
    return { failed: msg };
  }
  if (!(await markBackupRunning(db, backupId))) {
    // Running already: an earlier run of this coordinator (whose lock was lost) may still be
    // taking snapshots. Two runs would mix snapshots, so this one fails the backup instead.
    const msg =
      'the backup coordinator was started twice (an earlier run lost its lock); a consistent backup cannot be guaranteed. Start a new backup.';
    await endBackup(platform, backupId, 'failed', msg);
    return { failed: msg };
  }

  try {
    const sessions = new Map<string, SnapshotSession>();
    try {
      const plan = await planPgBackup(platform, backup, source.url, sessions, ctx.signal);
      const children: FlowChild[] = plan.exports.map(({ jobId, data }) => ({ name: 'export.pg-table', jobId, data }));
      await insertBackupObjects(db, backupId, plan.objects);
      await enqueueFlow(
        platform.queues,
        platform.config,
        { name: 'backup.finalize', jobId: jobIds.backupFinalize(backupId), data: { backupId } },
        children,
      );
      ctx.log.info({ backupId, databases: [...sessions.keys()], exports: children.length }, 'backup fanned out; holding snapshot');

      const outcome = await watchFlow(platform, 'finalize', jobIds.backupFinalize(backupId), {
        signal: ctx.signal,
        check: async () => {
          for (const [database, s] of sessions) if (!s.isAlive()) return `the snapshot session of database ${database} was lost`;
          const b = await getBackup(db, backupId);
          if (b && b.status !== 'running') return `backup is ${b.status}`;
          return undefined;
        },
        onTick: async () => {
          const objs = await listBackupObjects(db, backupId);
          const done = objs.filter((o) => o.status === 'succeeded').length;
          await ctx.job.updateProgress({ objects: objs.length, done });
        },
      });
      if (outcome.state !== 'completed') {
        const reason = outcome.reason;
        await endBackup(platform, backupId, 'failed', reason.startsWith('backup is') ? reason : `backup failed: ${reason}`);
      }
      return { outcome: outcome.state };
    } finally {
      await Promise.all([...sessions.values()].map((s) => s.close().catch(() => undefined)));
    }
  } catch (e) {
    await endBackup(platform, backupId, 'failed', errorMessage(e));
    throw e;
  }
}

/** One export of a planned backup: its job id and payload (biggest first in `PgBackupPlan.exports`). */
export interface PlannedExport {
  jobId: string;
  data: JobPayload<'export.pg-table'>;
}

export interface PgBackupPlan {
  /** The data objects to register (the schema objects are stored and registered already). */
  objects: NewBackupObject[];
  /** Largest first: queues hand jobs out in the order they were added, and a big table started last would leave the other workers idle at the end. */
  exports: PlannedExport[];
}

/**
 * Plans a logical backup of the server at `serverUrl`: opens one exported snapshot per
 * database into `sessions` (the caller closes them once every export is done), writes each
 * database's schema (pre-data, post-data) from its snapshot, and records the snapshots,
 * sequence values and encodings on the backup. Also used to read a point in time out of a
 * recovered cluster (kinds/pg-physical).
 */
export async function planPgBackup(
  platform: Platform,
  backup: BackupRecord,
  serverUrl: string,
  sessions: Map<string, SnapshotSession>,
  signal: AbortSignal,
): Promise<PgBackupPlan> {
  const { db } = platform;
  const backupId = backup.id;
  const databases = await resolveDatabases(serverUrl, backup.type, backup.scope, signal);
  const tableFilter = tablesByDatabase(backup.scope.tables, pgDatabaseOf(serverUrl));
  for (const database of databases) {
    sessions.set(database, await SnapshotSession.open(pgUrlForDatabase(serverUrl, database), { signal }));
  }
  const dataKey = dataKeyOf(platform, backup);
  const objects: NewBackupObject[] = [];
  const exports: PlannedExport[] = [];
  /** Estimated heap bytes per export (by jobId), to start the biggest exports first. */
  const estimate = new Map<string, number>();
  const sequences: Record<string, unknown> = {};
  // COPY bytes are in the source database's encoding; the restore must read them so.
  const encodings: Record<string, string> = {};
  const snapshots: Record<string, string> = {};
  let serverVersion = '';
  const chunkBytes = platform.config.postgres.chunkMiB * 1024 * 1024;
  const ext = codecExtension(backup.compression.codec);
  let seq = 0;
  for (const [database, session] of sessions) {
    snapshots[database] = session.snapshotId;
    serverVersion = session.serverVersion.text;
    const dbUrl = pgUrlForDatabase(serverUrl, database);
    const dbPrefix = databasePrefix(backup.source, backupId, database);
    const filter = backup.type === 'table' ? (tableFilter.get(database) ?? []) : undefined;
    const tables = await session.listTables(filter);
    if (filter) {
      const found = new Set(tables.map((t) => `${t.schema}\u0000${t.name}`));
      const missing = filter.filter((f) => !found.has(`${f.schema}\u0000${f.name}`));
      if (missing.length)
        throw new PermanentJobError(
          `tables not found in database ${database}: ${missing.map((m) => displayName(m.schema, m.name)).join(', ')}`,
        );
    }
    sequences[database] = await session.sequences();
    encodings[database] = session.encoding;

    // Schema first, from the same snapshot, inline: it is small and the exports need it.
    for (const section of ['pre-data', 'post-data'] as const) {
      const key = `${dbPrefix}schema/${section}.pgdump${ext}`;
      const obj: NewBackupObject = {
        key,
        seq: seq++,
        kind: section === 'pre-data' ? 'schema-pre' : 'schema-post',
        database,
        schemaName: null,
        tableName: null,
        displayName: null,
        columns: null,
        chunk: null,
        format: 'pg-dump-custom',
        compression: backup.compression,
        encrypted: Boolean(dataKey),
      };
      await insertBackupObjects(db, backupId, [obj]);
      await markObjectRunning(db, backupId, key);
      const raw = dumpSchema({
        url: dbUrl,
        snapshotId: session.snapshotId,
        serverMajor: session.serverVersion.major,
        section,
        ...(platform.config.postgres.binDir ? { binDir: platform.config.postgres.binDir } : {}),
        signal,
      });
      const enc = encodeForStorage(raw, { compression: backup.compression, ...(dataKey ? { dataKey } : {}) });
      await platform.store.put(key, enc.stream, { signal });
      const s = enc.stats();
      // A schema archive is not line oriented: its "rows" are meaningless, record 0.
      await markObjectSucceeded(db, backupId, key, { ...s, rows: 0 });
    }

    for (const table of tables) {
      const chunks = await session.tableChunks(table, chunkBytes);
      // Binary where every column's type allows it (copy-format.ts); `.pgcopy` names it for a person.
      const copyFormat = platform.config.postgres.copyFormat === 'auto' && table.binaryCopySafe ? 'binary' : 'text';
      const base = `${dbPrefix}data/${keySegment(table.schema)}/${keySegment(table.name)}`;
      chunks.forEach((range, index) => {
        const chunk = chunks.length > 1 ? { index, count: chunks.length, fromBlock: range.fromBlock, toBlock: range.toBlock } : undefined;
        const key = `${base}${partSuffix(chunk?.index)}${copyFormat === 'binary' ? '.pgcopy' : '.copy'}${ext}`;
        objects.push({
          key,
          seq: seq++,
          kind: 'data',
          database,
          schemaName: table.schema,
          tableName: table.name,
          displayName: displayName(table.schema, table.name),
          columns: table.columns,
          chunk: chunk ?? null,
          format: copyFormat === 'binary' ? PG_COPY_BINARY : PG_COPY_TEXT,
          compression: backup.compression,
          encrypted: Boolean(dataKey),
        });
        const jobId = jobIds.backupExport(backupId, exports.length);
        estimate.set(jobId, table.sizeBytes / chunks.length);
        exports.push({
          jobId,
          data: {
            backupId,
            source: backup.source,
            database,
            snapshotId: session.snapshotId,
            objectKey: key,
            table: { schema: table.schema, name: table.name, columns: table.columns },
            ...(chunk ? { chunk } : {}),
            compression: backup.compression,
            copyFormat,
          },
        });
      });
    }
  }

  exports.sort((a, b) => (estimate.get(b.jobId) ?? 0) - (estimate.get(a.jobId) ?? 0));
  await recordBackupSnapshot(db, backupId, { snapshots, serverVersion, metadata: { sequences, encodings } });
  return { objects, exports };
}

async function resolveDatabases(
  url: string,
  type: string,
  scope: { databases?: string[]; tables?: string[] },
  signal: AbortSignal,
): Promise<string[]> {
  const all = await listDatabases(url, { signal });
  if (type === 'full') return all;
  if (type === 'database') {
    const wanted = scope.databases?.length ? scope.databases : [pgDatabaseOf(url)];
    const missing = wanted.filter((d) => !all.includes(d));
    if (missing.length) throw new PermanentJobError(`databases not found on the server: ${missing.join(', ')}`);
    return wanted;
  }
  if (type === 'table') {
    const dbs = [...tablesByDatabase(scope.tables, pgDatabaseOf(url)).keys()];
    const missing = dbs.filter((d) => !all.includes(d));
    if (missing.length) throw new PermanentJobError(`databases not found on the server: ${missing.join(', ')}`);
    return dbs;
  }
  throw new PermanentJobError(`backup type ${type} is not supported for PostgreSQL sources`);
}

function tablesByDatabase(tables: string[] | undefined, defaultDb: string): Map<string, { schema: string; name: string }[]> {
  const out = new Map<string, { schema: string; name: string }[]>();
  for (const t of tables ?? []) {
    const ref = parsePgTableRef(t);
    const db = ref.database ?? defaultDb;
    const list = out.get(db) ?? [];
    list.push({ schema: ref.schema, name: ref.name });
    out.set(db, list);
  }
  return out;
}

import { type RestoreRecord, insertRestoreTables, markRestoreRunning, recordRestorePlan } from '@bk/catalog';
import { type FlowChild, type Manifest, PermanentJobError, enqueueFlow, errorMessage, jobIds } from '@bk/core';
import {
  type Platform,
  checkObjects,
  endRestore,
  loadManifest,
  openObject,
  pgUrlForDatabase,
  restoreRequestOf,
  selectForRestore,
  endDryRun,
} from '@bk/platform';
import { ensureDatabase, restoreSchema, rowCounts, skipsWalForNewTables } from '@bk/postgres';
import { watchRestoreFlow } from '../flow.ts';
import { dropDrillDatabase } from '../scratch.ts';
import type { HandlerContext } from '../../handlers/types.ts';

/**
 * Plans and starts a PostgreSQL restore: checks the targets, applies the pre-data schema,
 * fans out one load job per data object, and watches the flow (whose parent applies the
 * post-data schema and checks row counts). A dry run verifies every object it would read
 * (exists, size, SHA-256, decodes, row count) and changes nothing.
 */
export async function coordinatePgRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  const { db } = platform;
  const restoreId = restore.id;
  if (restore.status !== 'queued') {
    await endRestore(
      platform,
      restoreId,
      'failed',
      'the restore coordinator stopped midway (worker lost); nothing was marked done that was not loaded',
    );
    return { skipped: restore.status };
  }
  await markRestoreRunning(db, restoreId);
  return runPgRestore(platform, restore, ctx);
}

/**
 * The logical restore of a running restore record from the backup it names: shared with
 * point-in-time restores (kinds/pg-physical), which first read the moment out of a
 * recovered cluster into a backup of their own.
 */
export async function runPgRestore(
  platform: Platform,
  restore: RestoreRecord,
  ctx: HandlerContext,
  /** Kept in the recorded plan beside the logical restore's own (a point in time's origin). */
  planExtra: Record<string, unknown> = {},
): Promise<unknown> {
  const { db } = platform;
  const restoreId = restore.id;
  try {
    const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
    const req = restoreRequestOf(restore);
    const sel = selectForRestore(manifest, req, (m) => {
      throw new PermanentJobError(m);
    });
    const plan = { ...planExtra, ...planOf(manifest, sel) };

    if (req.dryRun) {
      const toCheck = [...manifest.objects.filter((o) => o.kind !== 'data' && sel.databases.has(o.database)), ...sel.data];
      return await endDryRun(platform, restoreId, plan, await checkObjects(platform, toCheck, dataKey, ctx.signal));
    }

    const source = platform.sources.forJob(restore.source);
    const replaced: { database: string; table: string; rowsBefore: number }[] = [];
    /** Source databases whose target skips WAL for tables loaded in one transaction. */
    const walSkipping = new Set<string>();
    for (const [from, to] of sel.databases) {
      const encoding = manifest.databases.find((d) => d.name === from)?.options?.encoding;
      await ensureDatabase(source.url, to, { ...(typeof encoding === 'string' ? { encoding } : {}), signal: ctx.signal });
      const url = pgUrlForDatabase(source.url, to);
      if (await skipsWalForNewTables(url, { signal: ctx.signal })) walSkipping.add(from);
      const tables = tablesOf(from, sel);
      const counts = await rowCounts(url, tables);
      const nonEmpty = counts.filter((c) => c.exists && c.rows > 0);
      if (restore.mode === 'fail-if-exists' && nonEmpty.length) {
        throw new PermanentJobError(
          `target database ${to} already has rows in ${nonEmpty.map((c) => `${c.schema}.${c.name} (${c.rows})`).join(', ')}; ` +
            'nothing was changed. Restore into another targetDatabase, or use mode "replace" with confirm: true',
        );
      }
      for (const c of counts.filter((x) => x.exists)) replaced.push({ database: to, table: `${c.schema}.${c.name}`, rowsBefore: c.rows });
      const pre = manifest.objects.find((o) => o.kind === 'schema-pre' && o.database === from);
      if (!pre) throw new PermanentJobError(`backup has no pre-data schema for database ${from}`);
      await restoreSchema({
        url,
        section: 'pre-data',
        archive: async () => (await openObject(platform, pre, dataKey, ctx.signal)).stream,
        ...(sel.tableFilter ? { tables: sel.tableFilter.get(from) ?? [] } : {}),
        // Existing tables are dropped and recreated: in "replace" mode by request; in
        // "fail-if-exists" mode only when they were verified empty just above.
        clean: counts.some((c) => c.exists),
        signal: ctx.signal,
      });
    }
    await recordRestorePlan(db, restoreId, plan, restore.mode === 'replace' && replaced.length ? { tables: replaced } : null);

    await insertRestoreTables(
      db,
      restoreId,
      sel.data.map((o, seq) => ({
        objectKey: o.key,
        seq,
        name: `${o.table ?? ''}${o.chunk ? ` [part ${o.chunk.index + 1}/${o.chunk.count}]` : ''}`,
        database: sel.databases.get(o.database) ?? o.database,
        expectedRows: o.rows,
      })),
    );
    const { earlyIndexes, earlyIndexMiB } = platform.config.postgres;
    const rawBytes = new Map(sel.data.map((o) => [o.key, o.rawBytes] as const));
    const children: FlowChild[] = loadJobs(sel.data, walSkipping).map(({ n, keys, wholeTable }) => {
      const load: FlowChild = {
        name: 'restore.pg-table',
        jobId: jobIds.restoreTable(restoreId, n),
        data: { restoreId, objectKey: keys[0]!, ...(keys.length > 1 ? { objectKeys: keys } : {}) },
      };
      const mib = keys.reduce((a, k) => a + (rawBytes.get(k) ?? 0), 0) / 2 ** 20;
      if (!wholeTable || !earlyIndexes || mib < earlyIndexMiB) return load;
      // The table's own indexes and keys once it is loaded (restore-pg-indexes.ts).
      return {
        name: 'restore.pg-indexes',
        jobId: jobIds.restoreIndexes(restoreId, n),
        data: { restoreId, objectKey: keys[0]! },
        children: [load],
      };
    });
    await enqueueFlow(
      platform.queues,
      platform.config,
      { name: 'restore.finalize', jobId: jobIds.restoreFinalize(restoreId), data: { restoreId } },
      children,
    );

    const outcome = await watchRestoreFlow(platform, restoreId, jobIds.restoreFinalize(restoreId), ctx.signal);
    if (outcome.state !== 'completed') {
      await endRestore(platform, restoreId, 'failed', outcome.reason);
      await dropDrillDatabase(platform, restore);
    }
    return { outcome: outcome.state };
  } catch (e) {
    await endRestore(platform, restoreId, 'failed', errorMessage(e));
    await dropDrillDatabase(platform, restore);
    throw e;
  }
}

function tablesOf(database: string, sel: ReturnType<typeof selectForRestore>): { schema: string; name: string }[] {
  const seen = new Map<string, { schema: string; name: string }>();
  for (const o of sel.data) {
    if (o.database !== database || o.schemaName === undefined || o.tableName === undefined) continue;
    seen.set(`${o.schemaName}\u0000${o.tableName}`, { schema: o.schemaName, name: o.tableName });
  }
  return [...seen.values()];
}

function planOf(manifest: Manifest, sel: ReturnType<typeof selectForRestore>): Record<string, unknown> {
  return {
    backupId: manifest.backupId,
    databases: [...sel.databases].map(([from, to]) => ({
      from,
      to,
      tables: [...new Set(sel.data.filter((o) => o.database === from).map((o) => o.table))],
      rows: sel.data.filter((o) => o.database === from).reduce((a, o) => a + o.rows, 0),
      bytes: sel.data.filter((o) => o.database === from).reduce((a, o) => a + o.bytes, 0),
    })),
    order: ['pre-data', 'data (parallel)', 'post-data', 'sequences', 'row-count check'],
  };
}

/**
 * The load jobs: one per data object, except that where the target skips WAL for a table
 * filled in the transaction that emptied it (wal_level = minimal), the chunks of a table go
 * to one job that loads them in order in one transaction. Parallel loads into one table
 * would write all of it to WAL and contend for the table; on such a server the one job is
 * cheaper, and the other tables' loads keep the workers busy meanwhile. `n` is the index of
 * the job's first object (job ids stay stable across retries); `wholeTable`: the job loads
 * all of its table. Biggest loads first.
 */
export function loadJobs(
  data: Manifest['objects'],
  walSkipping: ReadonlySet<string>,
): { n: number; keys: string[]; wholeTable: boolean }[] {
  const jobs: { n: number; keys: string[] }[] = [];
  const byTable = new Map<string, { n: number; keys: string[]; order: number[] }>();
  data.forEach((o, n) => {
    if (!o.chunk || !walSkipping.has(o.database)) {
      jobs.push({ n, keys: [o.key] });
      return;
    }
    const table = `${o.database}\u0000${o.schemaName ?? ''}\u0000${o.tableName ?? ''}`;
    let group = byTable.get(table);
    if (!group) {
      group = { n, keys: [], order: [] };
      byTable.set(table, group);
      jobs.push(group);
    }
    group.keys.push(o.key);
    group.order.push(o.chunk.index);
  });
  for (const g of byTable.values()) {
    const sorted = g.keys.map((k, i) => [g.order[i]!, k] as const).sort((a, b) => a[0] - b[0]);
    g.keys.splice(0, g.keys.length, ...sorted.map(([, k]) => k));
  }
  // Largest first: queues hand jobs out in the order they were added, and a big load
  // started last would leave the other workers idle at the end.
  const bytes = new Map(data.map((o) => [o.key, o.rawBytes] as const));
  const size = (keys: readonly string[]) => keys.reduce((a, k) => a + (bytes.get(k) ?? 0), 0);
  const chunks = new Map(data.map((o) => [o.key, o.chunk?.count ?? 1] as const));
  return jobs
    .map(({ n, keys }) => ({ n, keys, wholeTable: keys.length === chunks.get(keys[0]!) }))
    .sort((a, b) => size(b.keys) - size(a.keys));
}

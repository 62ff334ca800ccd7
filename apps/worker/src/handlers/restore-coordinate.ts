import { getBackup, getRestore, insertRestoreTables, markRestoreRunning, recordRestorePlan } from '@bk/catalog';
import { type FlowChild, type Manifest, PermanentJobError, enqueueFlow, errorMessage, jobIds } from '@bk/core';
import {
  checkObjects,
  endRestore,
  loadManifest,
  openObject,
  pgUrlForDatabase,
  restoreRequestOf,
  selectForRestore,
  endDryRun,
} from '@bk/platform';
import { ensureDatabase, restoreSchema, rowCounts } from '@bk/postgres';
import { watchRestoreFlow } from './flow.ts';
import { dropDrillDatabase } from './drill-check.ts';
import { coordinateTdRestore } from './td-restore-coordinate.ts';
import type { Handler } from './types.ts';

/**
 * Plans and starts a restore (TDengine: td-restore-coordinate.ts). PostgreSQL: checks the targets, applies the pre-data schema,
 * fans out one load job per data object, and watches the flow (whose parent applies the
 * post-data schema and checks row counts). A dry run verifies every object it would read
 * (exists, size, SHA-256, decodes, row count) and changes nothing.
 */
export const coordinateRestore: Handler<'restore.coordinate'> = async (platform, { restoreId }, ctx) => {
  const { db } = platform;
  const restore = await getRestore(db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  // TDengine restores have their own coordinator, which reads the manifests of the chain.
  // Every TDengine step is idempotent: a run after a lost worker (status running) resumes.
  if ((restore.status === 'queued' || restore.status === 'running') && (await getBackup(db, restore.backupId))?.sourceKind === 'tdengine') {
    if (restore.status === 'queued') await markRestoreRunning(db, restoreId);
    try {
      return await coordinateTdRestore(platform, restore, ctx);
    } catch (e) {
      await endRestore(platform, restoreId, 'failed', errorMessage(e));
      await dropDrillDatabase(platform, restore);
      throw e;
    }
  }
  if (restore.status !== 'queued') {
    if (restore.status === 'running')
      await endRestore(
        platform,
        restoreId,
        'failed',
        'the restore coordinator stopped midway (worker lost); nothing was marked done that was not loaded',
      );
    return { skipped: restore.status };
  }
  await markRestoreRunning(db, restoreId);
  try {
    const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
    const req = restoreRequestOf(restore);
    const sel = selectForRestore(manifest, req, (m) => {
      throw new PermanentJobError(m);
    });
    const plan = planOf(manifest, sel);

    if (req.dryRun) {
      const toCheck = [...manifest.objects.filter((o) => o.kind !== 'data' && sel.databases.has(o.database)), ...sel.data];
      return await endDryRun(platform, restoreId, plan, await checkObjects(platform, toCheck, dataKey, ctx.signal));
    }

    const source = platform.sources.forJob(restore.source);
    const replaced: { database: string; table: string; rowsBefore: number }[] = [];
    for (const [from, to] of sel.databases) {
      const encoding = manifest.databases.find((d) => d.name === from)?.options?.encoding;
      await ensureDatabase(source.url, to, { ...(typeof encoding === 'string' ? { encoding } : {}), signal: ctx.signal });
      const url = pgUrlForDatabase(source.url, to);
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
    const children: FlowChild[] = sel.data.map((o, n) => ({
      name: 'restore.pg-table',
      jobId: jobIds.restoreTable(restoreId, n),
      data: { restoreId, objectKey: o.key },
    }));
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
};

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

import { type RestoreRecord, listRestoreTables, markRestoreStep, recordDrillResult } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import {
  type Platform,
  endRestore,
  loadManifest,
  openObject,
  pgUrlForDatabase,
  restoreRequestOf,
  selectForRestore,
  succeedRestore,
} from '@bk/platform';
import { dropLedger, restoreSchema, rowCounts, setSequences } from '@bk/postgres';
import { dropDrillDatabase } from '../scratch.ts';
import { compareDrill } from './drill.ts';
import type { HandlerContext } from '../../handlers/types.ts';

/**
 * After every load: post-data schema (indexes, constraints, foreign keys, triggers), then
 * sequence values, then the row count of every restored table against the manifest. Any
 * difference fails the restore.
 */
export async function finalizePgRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  const { db } = platform;
  const restoreId = restore.id;
  const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
  const req = restoreRequestOf(restore);
  const sel = selectForRestore(manifest, req, (m) => {
    throw new PermanentJobError(m);
  });
  const source = platform.sources.forJob(restore.source);
  try {
    return await finish();
  } finally {
    // A drill's scratch database goes whatever happens below (a failed check included).
    if (req.drill) await dropDrillDatabase(platform, restore);
  }

  async function finish() {
    const done = new Set((restore.plan as { done?: string[] } | null)?.done ?? []);
    const mismatches: string[] = [];
    for (const [from, to] of sel.databases) {
      const url = pgUrlForDatabase(source.url, to);
      const post = manifest.objects.find((o) => o.kind === 'schema-post' && o.database === from);
      // Built in parallel (postDataJobs), object by object, leaving out what the target
      // already has: indexes built early (restore-pg-indexes.ts), or what an
      // interrupted earlier run of this step built. Every restored table was created by
      // this restore's pre-data step, so what exists on it is ours. A finished step is not
      // run again.
      const step = `post-data:${to}`;
      if (post && !done.has(step)) {
        await restoreSchema({
          url,
          section: 'post-data',
          jobs: platform.config.postgres.postDataJobs,
          skipExisting: true,
          archive: async () => (await openObject(platform, post, dataKey, ctx.signal)).stream,
          ...(sel.tableFilter ? { tables: sel.tableFilter.get(from) ?? [] } : {}),
          signal: ctx.signal,
        });
        await markRestoreStep(db, restoreId, step);
      }
      const seqs = manifest.databases.find((d) => d.name === from)?.sequences ?? [];
      // A selective restore sets only the sequences its pre-data section created.
      await setSequences(url, seqs, { onlyExisting: Boolean(sel.tableFilter), signal: ctx.signal });

      const expected = new Map<string, { schema: string; name: string; rows: number }>();
      for (const o of sel.data.filter((x) => x.database === from)) {
        const k = `${o.schemaName}\u0000${o.tableName}`;
        const e = expected.get(k) ?? { schema: o.schemaName ?? '', name: o.tableName ?? '', rows: 0 };
        e.rows += o.rows;
        expected.set(k, e);
      }
      const counts = await rowCounts(url, [...expected.values()]);
      for (const c of counts) {
        const e = expected.get(`${c.schema}\u0000${c.name}`);
        if (e && c.rows !== e.rows) mismatches.push(`${to}: ${c.schema}.${c.name} has ${c.rows} rows, the manifest says ${e.rows}`);
      }
      await dropLedger(url, { restoreId, signal: ctx.signal });
    }
    if (mismatches.length) {
      await endRestore(platform, restoreId, 'failed', `row counts differ after restore: ${mismatches.join('; ')}`);
      throw new PermanentJobError(`row counts differ: ${mismatches.join('; ')}`);
    }
    const tables = await listRestoreTables(db, restoreId);
    const rows = tables.reduce((a, t) => a + (t.rows ?? 0), 0);
    // The restore time is what a recovery takes: recorded before a drill's extra checks.
    await succeedRestore(platform, restoreId, rows);
    ctx.log.info({ restoreId, rows }, 'restore finished');
    if (req.drill) {
      const { tables: compared, differences } = await compareDrill(platform, sel.databases, sel.data, dataKey, source.url, ctx.signal);
      const drill = {
        status: differences.length ? 'failed' : 'passed',
        tablesCompared: compared,
        rowsChecked: rows,
        differences,
        checkedAt: new Date().toISOString(),
      };
      // Dropped before the verdict is recorded: whoever sees the verdict sees the copy gone.
      await dropDrillDatabase(platform, restore);
      await recordDrillResult(
        db,
        restoreId,
        drill,
        differences.length ? `drill: restored data differs from the backup: ${differences.join('; ')}` : null,
      );
    }
    return { rows };
  }
}

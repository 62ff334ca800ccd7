import { type RestoreRecord, listRestoreTables, recordDrillResult } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { type Platform, endRestore, succeedRestore, tdClientFor } from '@bk/platform';
import { type TdClient, countOf, quoteQualified, rowsPerChildTable } from '@bk/tdengine';
import { dropDrillDatabase } from '../scratch.ts';
import { compareTdDrill } from './drill.ts';
import { loadChain } from './restore.ts';
import type { HandlerContext } from '../../handlers/types.ts';

/**
 * After every load of a TDengine restore: the rows of each restored table are counted in the
 * target and compared with the manifests. One backup, no target time: exactly the manifest's
 * rows. A chain overlaps (the look-back window) and a point in time drops rows, so there the
 * count must lie between the rows no two backups share (the base's, then each incremental's
 * rows from its parent's cut on; the last backup of a point in time not counted) and the sum
 * of them all.
 */
export async function finalizeTdRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown> {
  const { req, sel, steps } = await loadChain(platform, restore);
  const exact = steps.length === 1 && !req.targetTime;
  const source = platform.sources.forJob(restore.source);
  const client = tdClientFor(platform, source);
  const mismatches: string[] = [];
  try {
    for (const [from, to] of sel.databases) {
      const chosen = sel.tables?.get(from);
      // per super/normal table: per member table, [lower bound, sum]
      const expected = new Map<string, Map<string, { lower: number; sum: number }>>();
      steps.forEach((s, k) => {
        const partial = Boolean(req.targetTime) && k === steps.length - 1;
        for (const o of s.data.filter((x) => x.database === from)) {
          for (const m of o.members ?? []) {
            const owner = o.tableName ?? m.table;
            if (chosen && !chosen.has(owner)) continue;
            const group = expected.get(owner) ?? new Map<string, { lower: number; sum: number }>();
            const e = group.get(m.table) ?? { lower: 0, sum: 0 };
            e.sum += m.rows;
            // Each backup's own rows (from its parent's cut on) are held by no other backup of
            // the chain: together with the base's rows they are a lower bound of the result.
            if (!partial) e.lower += m.newRows ?? (k === 0 ? m.rows : 0);
            group.set(m.table, e);
            expected.set(owner, group);
          }
        }
      });
      for (const [owner, group] of expected) {
        const counts = await countRows(client, to, owner, group.size > 1 || ![...group.keys()].includes(owner), ctx.signal);
        for (const [table, e] of group) {
          const n = counts.get(table) ?? 0;
          const ok = exact ? n === e.sum : n >= e.lower && n <= e.sum;
          if (!ok) mismatches.push(`${to}.${table} has ${n} rows, the backup${exact ? ` says ${e.sum}` : `s allow ${e.lower}..${e.sum}`}`);
        }
      }
    }
  } finally {
    client.close();
  }
  if (mismatches.length) {
    if (req.drill) await dropDrillDatabase(platform, restore);
    const shown = mismatches.slice(0, 20).join('; ') + (mismatches.length > 20 ? `; and ${mismatches.length - 20} more` : '');
    await endRestore(platform, restore.id, 'failed', `row counts differ after restore: ${shown}`);
    throw new PermanentJobError(`row counts differ: ${shown}`);
  }
  const rows = (await listRestoreTables(platform.db, restore.id)).reduce((a, t) => a + (t.rows ?? 0), 0);
  // The restore time is what a recovery takes: recorded before a drill's extra checks.
  await succeedRestore(platform, restore.id, rows);
  ctx.log.info({ restoreId: restore.id, rows }, 'TDengine restore finished');
  if (req.drill) {
    const check = tdClientFor(platform, source);
    try {
      if (steps.length !== 1) throw new PermanentJobError('a drill restores one backup, not a chain');
      const { tables, differences } = await compareTdDrill(platform, check, steps[0]!, sel.databases, ctx.signal);
      // Dropped before the verdict is recorded: whoever sees the verdict sees the copy gone.
      await dropDrillDatabase(platform, restore);
      await recordDrillResult(
        platform.db,
        restore.id,
        {
          status: differences.length ? 'failed' : 'passed',
          tablesCompared: tables,
          rowsChecked: rows,
          differences,
          checkedAt: new Date().toISOString(),
        },
        differences.length ? `drill: restored data differs from the backup: ${differences.join('; ')}` : null,
      );
    } finally {
      check.close();
      await dropDrillDatabase(platform, restore);
    }
  }
  return { rows };
}

/** Rows per table: a super table's children in one query, a normal table on its own. */
async function countRows(
  client: TdClient,
  db: string,
  table: string,
  isStable: boolean,
  signal: AbortSignal,
): Promise<Map<string, number>> {
  if (isStable) return rowsPerChildTable(client, db, table, { signal });
  return new Map([[table, await countOf(client, `SELECT COUNT(*) FROM ${quoteQualified(db, table)}`, { signal })]]);
}

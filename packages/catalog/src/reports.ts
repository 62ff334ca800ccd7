import type { Db } from './db.ts';

export interface UsageRow {
  key: string;
  backups: number;
  objects: number;
  bytes: number;
}

/**
 * Storage held by backups the catalog knows (stored bytes, objects incl. manifests), grouped
 * by source, by backup type and by the UTC day the backup was taken.
 */
export async function storageUsage(db: Db, days: number): Promise<{ bySource: UsageRow[]; byType: UsageRow[]; byDay: UsageRow[] }> {
  const base = `
    WITH b AS (
      SELECT b.id, b.source, b.type, (coalesce(b.started_at, b.created_at) AT TIME ZONE 'UTC')::date AS day, b.bytes,
             (SELECT count(*) FROM backup_objects o WHERE o.backup_id = b.id AND o.status = 'succeeded')
               + CASE WHEN b.manifest_key IS NULL THEN 0 ELSE 1 END AS objects
      FROM backups b WHERE b.deleting_at IS NULL
    )`;
  const q = async (keyExpr: string, where = '') => {
    const { rows } = await db.query(
      `${base} SELECT ${keyExpr} AS key, count(*)::int AS backups, coalesce(sum(objects), 0)::bigint AS objects, coalesce(sum(bytes), 0)::bigint AS bytes
       FROM b ${where} GROUP BY 1 ORDER BY 1`,
      where ? [days] : [],
    );
    return rows.map((r) => ({ key: String(r.key), backups: Number(r.backups), objects: Number(r.objects), bytes: Number(r.bytes) }));
  };
  return {
    bySource: await q('source'),
    byType: await q('type'),
    byDay: await q(`to_char(day, 'YYYY-MM-DD')`, `WHERE day > (now() AT TIME ZONE 'UTC')::date - $1::int`),
  };
}

export interface SourceRecovery {
  source: string;
  lastSuccessAt: Date | null;
  /** Durations (ms) of the most recent successful, real (not dry-run) restores, newest first. */
  restoreDurationsMs: number[];
}

export async function recoveryFigures(db: Db, sources: readonly string[], samples = 10): Promise<SourceRecovery[]> {
  const out: SourceRecovery[] = [];
  for (const source of sources) {
    const last = await db.query(`SELECT max(finished_at) AS t FROM backups WHERE source = $1 AND status = 'succeeded'`, [source]);
    const rs = await db.query(
      `SELECT extract(epoch FROM (finished_at - started_at)) * 1000 AS ms FROM restores
       WHERE source = $1 AND status = 'succeeded' AND NOT dry_run AND started_at IS NOT NULL AND finished_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT $2`,
      [source, samples],
    );
    out.push({
      source,
      lastSuccessAt: (last.rows[0]?.t as Date | null) ?? null,
      restoreDurationsMs: rs.rows.map((r) => Math.round(Number(r.ms))),
    });
  }
  return out;
}

/** The newest backup of each schedule, for "last run" in schedule listings. */
export async function lastRunsBySchedule(db: Db): Promise<Map<string, { id: string; status: string; at: Date }>> {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (schedule_id) schedule_id, id, status, created_at FROM backups WHERE schedule_id IS NOT NULL ORDER BY schedule_id, id DESC`,
  );
  return new Map(rows.map((r) => [r.schedule_id as string, { id: r.id as string, status: r.status as string, at: r.created_at as Date }]));
}

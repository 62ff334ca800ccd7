import { type BackupRecord, type WalSegmentRecord, deleteWalSegments, listWalSegments } from '@bk/catalog';
import { type SourceConfig, physicalConsistencySchema, walSidecarKey } from '@bk/core';
import { parseLsn, segNoOf } from '@bk/postgres';
import type { Platform } from './platform.ts';
import type { RetentionDecision } from './retention.ts';

/** What cleanup does to a point-in-time source's WAL archive. */
export interface WalCleanupItem {
  source: string;
  /** Segments numbered below this one's go (null: none). */
  keepFrom: string | null;
  segments: number;
  bytes: number;
  reason: string;
}

const DAY = 86_400_000;

/**
 * Retention of base backups and WAL for a point-in-time source, on top of the ordinary rules:
 *
 * - The newest succeeded base backup is always kept: the recovery window starts there at
 *   the latest.
 * - With `pitr.windowDays` D: every base backup complete within the last D days is kept, and
 *   the newest one before that (from it, the window reaches back D days); older ones are
 *   deleted, pinned ones excepted. The window shrinks only this way, by policy.
 * - WAL older than the start of the oldest base backup kept is deleted; WAL a kept base
 *   backup needs never is. Without any base backup no WAL is deleted.
 *
 * Returns the decisions changed in place, and the WAL deletion planned.
 */
export function decidePitrRetention(
  name: string,
  source: SourceConfig | undefined,
  backups: readonly BackupRecord[],
  decisions: RetentionDecision[],
  segments: readonly WalSegmentRecord[],
  now: Date,
): WalCleanupItem | undefined {
  if (source?.kind !== 'postgres' || !source.pitr?.enabled) return undefined;
  const byId = new Map(decisions.map((d) => [d.id, d]));
  const bases = backups
    .filter((b) => b.type === 'base' && b.status === 'succeeded')
    .map((b) => ({ b, physical: physicalConsistencySchema.safeParse(b.metadata.physical).data }))
    .filter((x): x is { b: BackupRecord; physical: NonNullable<typeof x.physical> } => x.physical !== undefined)
    .sort((x, y) => y.physical.consistentAt.localeCompare(x.physical.consistentAt));
  const windowDays = source.pitr.windowDays;
  const since = windowDays ? new Date(now.getTime() - windowDays * DAY).toISOString() : undefined;
  let reachedBack = false;
  bases.forEach(({ b, physical }, i) => {
    const d = byId.get(b.id);
    if (!d) return;
    if (i === 0) {
      keep(d, 'newest base backup (the recovery window starts there)');
      return;
    }
    if (since === undefined) return;
    if (physical.consistentAt >= since) keep(d, `pitr.windowDays=${windowDays}`);
    else if (!reachedBack) {
      reachedBack = true;
      keep(d, `pitr.windowDays=${windowDays} (the window reaches back from it)`);
    } else if (!b.pinned) {
      d.action = 'delete';
      d.reasons = [`older than the pitr.windowDays=${windowDays} window`];
    }
  });
  const kept = bases.filter(({ b }) => byId.get(b.id)?.action === 'keep');
  const oldest = kept.at(-1);
  if (!oldest) return { source: name, keepFrom: null, segments: 0, bytes: 0, reason: 'no base backup kept: all WAL is kept' };
  const keepFrom = segNoOf(parseLsn(oldest.physical.startLsn), oldest.physical.walSegmentSize);
  const old = segments.filter((s) => s.segNo < keepFrom);
  return {
    source: name,
    keepFrom: old.length ? (segments.find((s) => s.segNo >= keepFrom)?.name ?? null) : null,
    segments: old.length,
    bytes: old.reduce((a, s) => a + s.bytes, 0),
    reason: `WAL before the oldest kept base backup ${oldest.b.id} (starts at ${oldest.physical.startLsn})`,
  };
}

function keep(d: RetentionDecision, reason: string): void {
  if (d.action === 'delete') d.reasons = [reason];
  else if (!d.reasons.includes(reason)) d.reasons.push(reason);
  d.action = 'keep';
}

/** Deletes the WAL a plan marked: objects, their sidecars, then the catalog rows. */
export async function deleteOldWal(platform: Pick<Platform, 'db' | 'store'>, item: WalCleanupItem): Promise<number> {
  if (!item.segments) return 0;
  const segments = await listWalSegments(platform.db, item.source);
  const keepFrom = item.keepFrom ? segments.find((s) => s.name === item.keepFrom)?.segNo : undefined;
  if (keepFrom === undefined) return 0;
  const old = segments.filter((s) => s.segNo < keepFrom);
  await platform.store.deleteMany(old.flatMap((s) => [s.key, walSidecarKey(item.source, s.timeline, s.name, s.partial)]));
  await deleteWalSegments(
    platform.db,
    item.source,
    old.map((s) => s.key),
  );
  return old.length;
}

import type { Retention } from '@bk/core';
import { describe, expect, it } from 'vitest';
import { type RetentionCandidate, decideRetention } from './retention.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
const HOUR = 3_600_000;

function b(id: string, hoursAgo: number, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return {
    id,
    source: 'pg',
    status: 'succeeded',
    takenAt: new Date(NOW.getTime() - hoursAgo * HOUR),
    pinned: false,
    scheduleId: 'sc',
    baseBackupId: null,
    parentBackupId: null,
    deletingAt: null,
    ...extra,
  };
}

function run(backups: RetentionCandidate[], policy: Retention | undefined, manual?: Retention) {
  const decisions = decideRetention({
    backups,
    policies: new Map<string | null, Retention | undefined>([
      ['sc', policy],
      [null, manual],
    ]),
    now: NOW,
    failedRetentionDays: 7,
  });
  return {
    deleted: decisions.filter((d) => d.action === 'delete').map((d) => d.id),
    reasons: Object.fromEntries(decisions.map((d) => [d.id, d.reasons.join('; ')])),
  };
}

/** 100 hourly backups h0 (newest) .. h99. */
const hourly = Array.from({ length: 100 }, (_, i) => b(`h${i}`, i));

describe('retention decisions', () => {
  it.each<[string, Retention | undefined, string[]]>([
    ['no policy keeps everything', undefined, []],
    ['keepLast 72 (the hourly plan from the design documents)', { keepLast: 72 }, hourly.slice(72).map((x) => x.id)],
    ['maxAgeDays 2 keeps 48 hours', { maxAgeDays: 2 }, hourly.slice(49).map((x) => x.id)],
    ['maxCount alone caps the count', { maxCount: 10 }, hourly.slice(10).map((x) => x.id)],
    ['keepLast 50 capped by maxCount 20', { keepLast: 50, maxCount: 20 }, hourly.slice(20).map((x) => x.id)],
    ['hourly 5 keeps the newest of each of the last 5 hours', { hourly: 5 }, hourly.slice(5).map((x) => x.id)],
  ])('%s', (_name, policy, expected) => {
    expect(run(hourly, policy).deleted.sort()).toEqual([...expected].sort());
  });

  it('daily and weekly tiers keep the newest backup of each bucket, and say which', () => {
    // 30 days of backups at 02:00 and 14:00 UTC.
    const list: RetentionCandidate[] = [];
    for (let day = 0; day < 30; day++) {
      list.push(b(`d${day}-14`, day * 24 - 2), b(`d${day}-02`, day * 24 + 10));
    }
    const { deleted, reasons } = run(list, { daily: 7, weekly: 4 });
    const kept = list.map((x) => x.id).filter((id) => !deleted.includes(id));
    // Newest of each of the last 7 days (the 14:00 ones), plus newest of each of 4 ISO weeks.
    expect(kept.filter((id) => id.endsWith('-14')).length).toBeGreaterThanOrEqual(7);
    expect(kept.length).toBeLessThanOrEqual(11);
    expect(reasons['d0-14']).toMatch(/daily=7 \(2026-11-21\)/);
    expect(reasons['d0-14']).toMatch(/weekly=4 \(2026-W47\)/);
    expect(reasons['d29-02']).toMatch(/not kept by daily=7, weekly=4/);
  });

  it('never deletes a pinned backup', () => {
    const list = hourly.map((x) => (x.id === 'h90' ? { ...x, pinned: true } : x));
    const { deleted, reasons } = run(list, { keepLast: 3 });
    expect(deleted).not.toContain('h90');
    expect(reasons.h90).toContain('pinned');
  });

  it('never deletes the newest successful backup of the source', () => {
    // The schedule keeps nothing of the old ones, and the newest backups all failed.
    const list = [b('f1', 1, { status: 'failed' }), b('f2', 2, { status: 'failed' }), b('old', 24 * 40, { scheduleId: null })];
    const { deleted, reasons } = run(list, { keepLast: 1 }, { maxAgeDays: 30 });
    expect(deleted).toEqual([]);
    expect(reasons.old).toContain('newest successful backup of the source');
  });

  it('never breaks an incremental chain that a kept backup depends on', () => {
    const list = [
      b('inc3', 1, { parentBackupId: 'inc2', baseBackupId: 'full' }),
      b('inc2', 2, { parentBackupId: 'inc1', baseBackupId: 'full' }),
      b('inc1', 3, { parentBackupId: 'full', baseBackupId: 'full' }),
      b('full', 4),
      b('older', 30),
    ];
    const { deleted, reasons } = run(list, { keepLast: 1 });
    expect(deleted).toEqual(['older']);
    expect(reasons.inc2).toBe('needed by incremental inc3');
    expect(reasons.full).toContain('needed by incremental');
  });

  it('removes failed backups after the grace period, never queued or running ones', () => {
    const list = [
      b('ok', 1),
      b('failed-new', 24, { status: 'failed' }),
      b('failed-old', 24 * 8, { status: 'failed' }),
      b('cancelled-old', 24 * 9, { status: 'cancelled' }),
      b('running', 24 * 30, { status: 'running' }),
    ];
    const { deleted, reasons } = run(list, { keepLast: 1 });
    expect(deleted.sort()).toEqual(['cancelled-old', 'failed-old']);
    expect(reasons['failed-old']).toBe('failed backup older than 7 days');
    expect(reasons.running).toContain('never touched');
  });

  it('finishes an interrupted deletion even of the newest backup', () => {
    const list = [b('half-deleted', 1, { deletingAt: new Date(NOW.getTime() - HOUR) }), b('prev', 2)];
    const { deleted, reasons } = run(list, { keepLast: 5 });
    expect(deleted).toEqual(['half-deleted']);
    expect(reasons.prev).toContain('newest successful backup of the source');
  });

  it('applies each schedule its own policy, and keeps hand-made backups without a policy', () => {
    const list = [b('s1', 1), b('s2', 2), b('s3', 3), b('m1', 4, { scheduleId: null }), b('m2', 50, { scheduleId: null })];
    expect(run(list, { keepLast: 2 }).deleted).toEqual(['s3']);
    expect(run(list, { keepLast: 2 }, { keepLast: 1 }).deleted.sort()).toEqual(['m2', 's3']);
  });
});

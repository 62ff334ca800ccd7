import type { Retention } from '@bk/core';

/** What retention needs to know about a backup. */
export interface RetentionCandidate {
  id: string;
  source: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** When the backup was taken (its start, or creation when it never started). */
  takenAt: Date;
  pinned: boolean;
  scheduleId: string | null;
  baseBackupId: string | null;
  parentBackupId: string | null;
  /** Set when a deletion started and did not finish. */
  deletingAt: Date | null;
}

export interface RetentionDecision {
  id: string;
  action: 'keep' | 'delete';
  /** Every rule that decided, e.g. ["keepLast=3"], ["daily=7 (2026-11-20)", "pinned"]. */
  reasons: string[];
}

export interface RetentionInput {
  /** All backups of ONE source. */
  backups: readonly RetentionCandidate[];
  /** Policy per schedule id; `null` is the policy for backups taken by hand. */
  policies: ReadonlyMap<string | null, Retention | undefined>;
  now: Date;
  failedRetentionDays: number;
}

const DAY = 86_400_000;

/** Calendar buckets in UTC for the grandfather-father-son tiers. */
const TIERS: { key: keyof Retention; bucket: (d: Date) => string }[] = [
  { key: 'hourly', bucket: (d) => d.toISOString().slice(0, 13) },
  { key: 'daily', bucket: (d) => d.toISOString().slice(0, 10) },
  { key: 'weekly', bucket: isoWeek },
  { key: 'monthly', bucket: (d) => d.toISOString().slice(0, 7) },
  { key: 'yearly', bucket: (d) => d.toISOString().slice(0, 4) },
];

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / DAY + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function describePolicy(p: Retention): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/**
 * Decides which backups of one source to keep and which to delete, and why.
 *
 * Per group (a schedule's backups, or the hand-made ones) with a policy: a succeeded backup
 * is kept if any keep rule keeps it (keepLast N newest; maxAgeDays D: taken within D days;
 * each tier: the newest backup of each of the N most recent hours/days/ISO weeks/months/
 * years that have one); then maxCount M deletes the oldest kept ones beyond M. A group with
 * a policy but no keep rule keeps everything that maxCount allows; a group without a
 * policy keeps everything.
 *
 * Then protections override deletion: a pinned backup is kept; the newest succeeded backup
 * of the source is kept; a backup that a kept incremental depends on (its base or parent)
 * is kept. Failed and cancelled backups go after `failedRetentionDays`. Queued and running
 * backups are never touched. A backup whose deletion was interrupted is finished.
 */
export function decideRetention(input: RetentionInput): RetentionDecision[] {
  const { backups, policies, now } = input;
  const decisions = new Map<string, RetentionDecision>();
  const keep = (id: string, reason: string) => {
    const d = decisions.get(id);
    if (!d) decisions.set(id, { id, action: 'keep', reasons: [reason] });
    else if (d.action === 'keep') d.reasons.push(reason);
    else decisions.set(id, { id, action: 'keep', reasons: [reason] });
  };
  const del = (id: string, reason: string) => {
    if (!decisions.has(id)) decisions.set(id, { id, action: 'delete', reasons: [reason] });
  };
  const newestFirst = [...backups].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || (a.id < b.id ? 1 : -1));

  // Interrupted deletions are finished first; nothing below brings them back.
  for (const b of newestFirst)
    if (b.deletingAt) decisions.set(b.id, { id: b.id, action: 'delete', reasons: ['deletion was interrupted; finishing it'] });

  for (const b of newestFirst) {
    if (decisions.has(b.id)) continue;
    if (b.status === 'queued' || b.status === 'running') keep(b.id, `${b.status}: never touched`);
    else if (b.status === 'failed' || b.status === 'cancelled') {
      const ageDays = (now.getTime() - b.takenAt.getTime()) / DAY;
      if (ageDays > input.failedRetentionDays) del(b.id, `${b.status} backup older than ${input.failedRetentionDays} days`);
      else keep(b.id, `${b.status} backup kept ${input.failedRetentionDays} days for diagnosis`);
    }
  }

  const groups = new Map<string | null, RetentionCandidate[]>();
  for (const b of newestFirst) {
    if (b.status !== 'succeeded' || decisions.has(b.id)) continue;
    groups.set(b.scheduleId, [...(groups.get(b.scheduleId) ?? []), b]);
  }
  for (const [group, list] of groups) {
    const policy = policies.get(group);
    if (!policy || Object.keys(policy).length === 0) {
      for (const b of list) keep(b.id, group ? 'its schedule has no retention policy' : 'no retention policy for backups taken by hand');
      continue;
    }
    const kept = new Map<string, string[]>();
    const mark = (id: string, reason: string) => kept.set(id, [...(kept.get(id) ?? []), reason]);
    const hasKeepRule = TIERS.some((t) => policy[t.key] !== undefined) || policy.keepLast !== undefined || policy.maxAgeDays !== undefined;
    if (policy.keepLast !== undefined) list.slice(0, policy.keepLast).forEach((b) => mark(b.id, `keepLast=${policy.keepLast}`));
    if (policy.maxAgeDays !== undefined) {
      const limit = now.getTime() - policy.maxAgeDays * DAY;
      for (const b of list) if (b.takenAt.getTime() >= limit) mark(b.id, `maxAgeDays=${policy.maxAgeDays}`);
    }
    for (const tier of TIERS) {
      const n = policy[tier.key];
      if (n === undefined) continue;
      const seen = new Set<string>();
      for (const b of list) {
        const bucket = tier.bucket(b.takenAt);
        if (seen.has(bucket)) continue;
        if (seen.size >= n) break;
        seen.add(bucket);
        mark(b.id, `${tier.key}=${n} (${bucket})`);
      }
    }
    if (!hasKeepRule) for (const b of list) mark(b.id, 'no keep rule limits it');
    let count = 0;
    for (const b of list) {
      const reasons = kept.get(b.id);
      if (reasons && (policy.maxCount === undefined || count < policy.maxCount)) {
        count++;
        for (const r of reasons) keep(b.id, r);
      } else if (reasons) del(b.id, `maxCount=${policy.maxCount}: ${count} newer backups are kept`);
      else del(b.id, `not kept by ${describePolicy(policy)}`);
    }
  }

  // Protections: they turn a delete back into a keep.
  for (const b of newestFirst) if (b.pinned && !b.deletingAt) keep(b.id, 'pinned');
  const newestGood = newestFirst.find((b) => b.status === 'succeeded' && !b.deletingAt);
  if (newestGood) keep(newestGood.id, 'newest successful backup of the source');
  const byId = new Map(backups.map((b) => [b.id, b]));
  let changed = true;
  while (changed) {
    changed = false;
    for (const d of decisions.values()) {
      if (d.action !== 'keep') continue;
      const b = byId.get(d.id);
      for (const dep of [b?.baseBackupId, b?.parentBackupId]) {
        if (!dep || !byId.has(dep)) continue;
        const current = decisions.get(dep);
        if (current?.action === 'keep') continue;
        keep(dep, `needed by incremental ${d.id}`);
        changed = true;
      }
    }
  }
  return newestFirst.map((b) => decisions.get(b.id) as RetentionDecision);
}

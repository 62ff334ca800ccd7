import { getRestore } from '@bk/catalog';
import { type QueueName, errorMessage } from '@bk/core';
import type { Platform } from '@bk/platform';
import { Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';

export type FlowOutcome = { state: 'completed' } | { state: 'failed'; reason: string } | { state: 'stopped'; reason: string };

/**
 * Waits for a flow's parent job to complete or fail, polling once a second. `check` runs
 * on every tick and may stop the wait (a cancelled backup, a lost snapshot session). Used
 * by coordinators, which must stay alive while the flow runs (PostgreSQL: they hold the
 * exported snapshot) and which notice a parent failed by a stalled child, a failure no
 * handler code sees.
 */
export async function watchFlow(
  platform: Platform,
  queue: QueueName,
  parentJobId: string,
  opts: { signal: AbortSignal; check: () => Promise<string | undefined>; onTick?: () => Promise<void> },
): Promise<FlowOutcome> {
  const q = platform.queues.queues[queue];
  // A Redis failover or a catalog blip must not fail a backup whose exports are fine:
  // errors are tolerated for a while, and only a lasting outage ends the wait.
  let failingSince: number | undefined;
  const TOLERATE_MS = 5 * 60_000;
  for (;;) {
    if (opts.signal.aborted) return { state: 'stopped', reason: 'the coordinator was stopped' };
    try {
      const stop = await opts.check();
      if (stop) return { state: 'stopped', reason: stop };
      const job = await Job.fromId(q, parentJobId);
      if (!job) return { state: 'failed', reason: `flow job ${parentJobId} disappeared from Redis` };
      const state = await job.getState();
      if (state === 'completed') return { state: 'completed' };
      if (state === 'failed') return { state: 'failed', reason: job.failedReason || 'the flow failed' };
      failingSince = undefined;
    } catch (e) {
      failingSince ??= Date.now();
      platform.log.warn({ err: errorMessage(e), parentJobId }, 'cannot read the flow state; retrying');
      if (Date.now() - failingSince > TOLERATE_MS) throw e;
    }
    if (opts.onTick) await opts.onTick().catch((e: unknown) => platform.log.warn({ err: errorMessage(e) }, 'progress update failed'));
    await sleep(1000, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}

/** Waits for a restore's flow (its finalize or a chain stage) while the restore still runs. */
export function watchRestoreFlow(platform: Platform, restoreId: string, parentJobId: string, signal: AbortSignal): Promise<FlowOutcome> {
  return watchFlow(platform, 'finalize', parentJobId, {
    signal,
    check: async () => {
      const r = await getRestore(platform.db, restoreId);
      return r && r.status !== 'running' ? `restore is ${r.status}` : undefined;
    },
  });
}

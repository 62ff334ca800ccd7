import { getBackup, getRestore } from '@bk/catalog';
import type { Platform } from '@bk/platform';

/** A job's work was cancelled through the API: it fails without retries. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

type Subject = { kind: 'backup'; id: string } | { kind: 'restore'; id: string };

/** The backup or restore a job works for, from its (validated) payload. */
export function subjectOf(jobName: string, payload: unknown): Subject | undefined {
  const p = payload as { backupId?: unknown; restoreId?: unknown };
  // Verification reads a finished backup; cancelling backups does not concern it.
  if (jobName === 'backup.verify') return undefined;
  if (typeof p.restoreId === 'string') return { kind: 'restore', id: p.restoreId };
  if (typeof p.backupId === 'string') return { kind: 'backup', id: p.backupId };
  return undefined;
}

/**
 * Cancellation that reaches whichever worker process runs the job: while the job runs, the
 * catalog record is polled every `intervalMs`; once it says `cancelled`, the job's signal
 * aborts (uploads are aborted, COPY is cancelled, transactions roll back). Polling the
 * catalog, not an in-memory event, is what makes it work across processes and survive a
 * Redis hiccup.
 */
export function watchCancellation(
  platform: Platform,
  subject: Subject | undefined,
  jobSignal: AbortSignal,
  intervalMs = 1000,
): { signal: AbortSignal; cancelled: () => boolean; stop: () => void } {
  if (!subject) return { signal: jobSignal, cancelled: () => false, stop: () => {} };
  const ctl = new AbortController();
  const timer = setInterval(() => {
    const read = subject.kind === 'backup' ? getBackup(platform.db, subject.id) : getRestore(platform.db, subject.id);
    read
      .then((r) => {
        if (r?.status === 'cancelled' && !ctl.signal.aborted) ctl.abort(new CancelledError(`${subject.kind} ${subject.id} was cancelled`));
      })
      .catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return {
    signal: AbortSignal.any([jobSignal, ctl.signal]),
    cancelled: () => ctl.signal.aborted,
    stop: () => clearInterval(timer),
  };
}

import { type ScheduleRecord, listSchedules } from '@bk/catalog';
import { BadRequestError, jobIds, jobOptions } from '@bk/core';
import { CronExpressionParser } from 'cron-parser';
import type { BackupRequest } from './backups.ts';
import type { Platform } from './platform.ts';
import { reconcileRecords } from './reconcile.ts';

/** A time zone the runtime knows (IANA names, and UTC). */
export function validateTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new BadRequestError(`timezone "${tz}" is not a known IANA time zone (e.g. "Europe/Berlin", "UTC")`, 'invalid_timezone');
  }
}

/**
 * A cron expression with 5 fields (minute precision) or 6 (seconds first), as BullMQ's
 * job schedulers read it; the message says what is wrong with it.
 */
export function validateCron(cron: string, tz: string): void {
  validateTimezone(tz);
  const fields = cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6)
    throw new BadRequestError(`cron "${cron}": expected 5 fields (or 6 with seconds), got ${fields}`, 'invalid_cron');
  try {
    CronExpressionParser.parse(cron, { tz }).next();
  } catch (e) {
    throw new BadRequestError(`cron "${cron}": ${(e as Error).message}`, 'invalid_cron');
  }
}

export function nextRuns(cron: string, tz: string, count: number, from = new Date()): Date[] {
  const it = CronExpressionParser.parse(cron, { tz, currentDate: from });
  return Array.from({ length: count }, () => it.next().toDate());
}

function previousRun(cron: string, tz: string, before: Date): Date {
  return CronExpressionParser.parse(cron, { tz, currentDate: before }).prev().toDate();
}

/** How late a run may start before it counts as missed. */
export const MISSED_GRACE_MS = 2 * 60_000;

export interface ScheduleHealth {
  nextRunAt: string | null;
  /** The fire time that passed without a run, if any. */
  missedRunAt: string | null;
  /** Why the schedule needs attention, in words; null when it does not. */
  problem: string | null;
}

/**
 * A disabled schedule has no next run and never misses. An enabled one has missed a run
 * when the last fire time (more than the grace ago, and after the schedule was saved) is
 * later than its last recorded run. The outcome of the last run is reported by the caller.
 */
export function scheduleHealth(
  s: Pick<ScheduleRecord, 'cron' | 'timezone' | 'enabled' | 'lastRunAt' | 'updatedAt'>,
  now = new Date(),
): ScheduleHealth {
  if (!s.enabled) return { nextRunAt: null, missedRunAt: null, problem: null };
  const nextRunAt = nextRuns(s.cron, s.timezone, 1, now)[0]?.toISOString() ?? null;
  const prev = previousRun(s.cron, s.timezone, new Date(now.getTime() - MISSED_GRACE_MS));
  const missed = prev > s.updatedAt && (!s.lastRunAt || s.lastRunAt.getTime() < prev.getTime() - 1000);
  return {
    nextRunAt,
    missedRunAt: missed ? prev.toISOString() : null,
    problem: missed ? `missed the run due at ${prev.toISOString()}` : null,
  };
}

/** Advisory lock key that serialises scheduler changes across every API process. */
const SYNC_LOCK = 0x626b5f73; // "bk_s"

/**
 * Makes the job schedulers in Redis match the schedules in the catalog exactly: one per
 * enabled schedule (upsert is idempotent), none for a disabled or deleted one, plus the
 * periodic missed-run check. Runs under a PostgreSQL advisory lock, so API processes
 * starting together (or one changing a schedule while another syncs) never fight: each
 * sync reads the committed schedules and writes the whole set.
 */
export async function syncSchedulers(platform: Platform): Promise<{ upserted: number; removed: number }> {
  const client = await platform.db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SYNC_LOCK]);
    const schedules = await listSchedules(platform.db);
    const queue = platform.queues.queues.maintenance;
    const wanted = new Map(schedules.filter((s) => s.enabled).map((s) => [jobIds.scheduler(s.id), s]));
    let upserted = 0;
    for (const [id, s] of wanted) {
      const { jobId: _, ...opts } = jobOptions(platform.config, 'schedule.run', id);
      await queue.upsertJobScheduler(id, { pattern: s.cron, tz: s.timezone }, { name: 'schedule.run', data: { scheduleId: s.id }, opts });
      upserted++;
    }
    await queue.upsertJobScheduler(
      jobIds.schedulerCheck,
      { every: 60_000 },
      { name: 'schedule.check', data: {}, opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
    );
    let removed = 0;
    const existing = await queue.getJobSchedulers(0, -1);
    for (const js of existing) {
      const key = js.key;
      if (key === jobIds.schedulerCheck || wanted.has(key)) continue;
      await queue.removeJobScheduler(key);
      removed++;
    }
    return { upserted, removed };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SYNC_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** The next fire time Redis holds for a schedule, if its scheduler exists. */
export async function schedulerNext(platform: Platform, scheduleId: string): Promise<Date | null> {
  const js = await platform.queues.queues.maintenance.getJobScheduler(jobIds.scheduler(scheduleId));
  return js?.next ? new Date(js.next) : null;
}

/**
 * Syncs at start-up, then every `intervalMs`: schedulers lost with a Redis flush come back
 * within a minute even without a restart. Failures are logged and retried next time.
 */
export async function startScheduleSync(platform: Platform, intervalMs = 60_000): Promise<{ stop(): void }> {
  const run = async () => {
    try {
      const r = await syncSchedulers(platform);
      platform.log.debug(r, 'job schedulers synchronised with the catalog');
    } catch (e) {
      platform.log.error({ err: (e as Error).message }, 'could not synchronise job schedulers');
    }
    // The same once-a-minute pass finds records whose jobs Redis lost (it is idempotent:
    // several API processes doing it at once end each record once).
    await reconcileRecords(platform).catch((e: unknown) =>
      platform.log.error({ err: (e as Error).message }, 'could not reconcile records with their jobs'),
    );
  };
  await run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * The backup a schedule asks for, run by its job scheduler or "run now". An hourly
 * incremental whose full has not run yet takes the full itself (`fullIfMissing`), rather
 * than failing every hour until it does.
 */
export function backupRequestOf(s: ScheduleRecord): BackupRequest {
  if (!s.source || !s.type) throw new BadRequestError(`schedule ${s.name} has no source or backup type`, 'not_a_backup_schedule');
  return {
    source: s.source,
    type: s.type,
    databases: s.scope.databases,
    tables: s.scope.tables,
    compression: s.compression ?? undefined,
    encrypt: s.encrypt ?? undefined,
    fullIfMissing: true,
  };
}

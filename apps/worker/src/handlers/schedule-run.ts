import { getSchedule, recordScheduleRun } from '@bk/catalog';
import { BadRequestError, DomainError, PermanentJobError } from '@bk/core';
import { backupRequestOf, runCheckSchedule, runCleanup, startBackup } from '@bk/platform';
import type { Handler } from './types.ts';

/**
 * One run of a schedule, produced by its BullMQ job scheduler. The scheduler's job id is
 * unique per fire time, and the backup records it as its run key: a retried run finds the
 * backup it already started instead of starting a second one.
 */
export const runSchedule: Handler<'schedule.run'> = async (platform, { scheduleId }, ctx) => {
  const s = await getSchedule(platform.db, scheduleId);
  if (!s || !s.enabled) {
    ctx.log.info({ scheduleId }, 'schedule deleted or disabled since this run was planned; skipped');
    return { skipped: true };
  }
  const actor = `schedule:${s.name}`;
  const at = new Date();
  if (s.kind === 'verify' || s.kind === 'drill') {
    try {
      const id = await runCheckSchedule(platform, s, actor);
      await recordScheduleRun(platform.db, s.id, id, at);
      return { started: id };
    } catch (e) {
      if (e instanceof DomainError) throw new PermanentJobError(`schedule ${s.name}: ${e.message}`);
      throw e;
    }
  }
  if (s.kind === 'cleanup') {
    const r = await runCleanup(platform, { actor });
    await recordScheduleRun(platform.db, s.id, `cleanup@${at.toISOString()}`, at);
    return { deleted: r.deleted.length, errors: r.errors.length };
  }
  if (!s.source || !s.type) throw new PermanentJobError(`schedule ${s.name} has no source or type`);
  try {
    const backup = await startBackup(platform, backupRequestOf(s), {
      actor,
      scheduleId: s.id,
      runKey: `schedule-${ctx.job.id ?? at.toISOString()}`,
    });
    await recordScheduleRun(platform.db, s.id, backup.id, at);
    return { backupId: backup.id };
  } catch (e) {
    // The configuration changed under the schedule (source removed, key gone): permanent.
    if (e instanceof BadRequestError) throw new PermanentJobError(`schedule ${s.name}: ${e.message}`);
    throw e;
  }
};

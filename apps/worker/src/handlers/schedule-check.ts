import { claimMissedNotification, listSchedules } from '@bk/catalog';
import { emitEvent, scheduleHealth } from '@bk/platform';
import type { Handler } from './types.ts';

/** Every minute: a schedule that missed a run is reported once per missed fire time. */
export const checkSchedules: Handler<'schedule.check'> = async (platform, _payload, ctx) => {
  let missed = 0;
  for (const s of await listSchedules(platform.db)) {
    const h = scheduleHealth(s);
    if (!h.missedRunAt) continue;
    missed++;
    if (!(await claimMissedNotification(platform.db, s.id, new Date(h.missedRunAt)))) continue;
    ctx.log.warn({ schedule: s.name, missedRunAt: h.missedRunAt }, 'schedule missed a run');
    await emitEvent(
      platform,
      'schedule.missed',
      `${s.id}-${h.missedRunAt}`,
      { scheduleId: s.id, name: s.name, missedRunAt: h.missedRunAt },
      s.id,
    );
  }
  return { missed };
};

import { createHmac } from 'node:crypto';
import { getSchedule } from '@bk/catalog';
import { type JobPayload, PermanentJobError, enqueue, errorMessage, jobIds } from '@bk/core';
import type { Platform } from './platform.ts';

export type EventType =
  | 'backup.succeeded'
  | 'backup.failed'
  | 'backup.cancelled'
  | 'restore.succeeded'
  | 'restore.failed'
  | 'restore.cancelled'
  | 'schedule.missed'
  | 'wal.gap';

export type NotificationEvent = JobPayload<'notify.webhook'>['event'];

/**
 * Queues one delivery per webhook target (the configured ones, and the schedule's own when
 * the event belongs to a scheduled run). Event ids are derived from what happened, so
 * emitting the same event twice delivers it once. Job data names the target by index,
 * never by secret. Enqueue failures are logged, never thrown: a notification must not fail
 * the backup it reports on.
 */
export async function emitEvent(
  platform: Pick<Platform, 'db' | 'queues' | 'config' | 'log'>,
  type: EventType,
  subjectId: string,
  data: Record<string, unknown>,
  scheduleId?: string | null,
): Promise<void> {
  const event: NotificationEvent = {
    type,
    id: `${type}-${subjectId}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
    at: new Date().toISOString(),
    data,
  };
  const targets: JobPayload<'notify.webhook'>['target'][] = platform.config.notifications.webhooks.map((_, index) => ({
    kind: 'config' as const,
    index,
  }));
  try {
    if (scheduleId) {
      const s = await getSchedule(platform.db, scheduleId);
      s?.notify.forEach((_, index) => targets.push({ kind: 'schedule', scheduleId, index }));
    }
    for (const target of targets) {
      const name = target.kind === 'config' ? `c${target.index}` : `s${target.index}`;
      await enqueue(platform.queues, platform.config, 'notify.webhook', { target, event }, jobIds.webhook(event.id, name));
    }
  } catch (e) {
    platform.log.warn({ event: event.id, err: errorMessage(e) }, 'could not queue webhook notifications');
  }
}

/** Resolves a delivery's target (URL and secret) from configuration or the schedule row. */
export async function resolveTarget(
  platform: Platform,
  target: JobPayload<'notify.webhook'>['target'],
): Promise<{ url: string; secret?: string | undefined }> {
  if (target.kind === 'config') {
    const t = platform.config.notifications.webhooks[target.index];
    if (!t) throw new PermanentJobError(`webhook ${target.index} is no longer configured`);
    return t;
  }
  const s = await getSchedule(platform.db, target.scheduleId);
  const t = s?.notify[target.index];
  if (!t) throw new PermanentJobError(`schedule ${target.scheduleId} has no webhook ${target.index} any more`);
  return t;
}

/**
 * The signature header: `sha256=` + HMAC-SHA256(secret, `${timestamp}.${body}`) in hex. The
 * timestamp (also sent as x-bk-timestamp) lets receivers refuse replays.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

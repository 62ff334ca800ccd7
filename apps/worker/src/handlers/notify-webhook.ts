import { errorMessage } from '@bk/core';
import { resolveTarget, signWebhook } from '@bk/platform';
import { WebhookAddressError, deliverWebhook } from '../webhooks/deliver.ts';
import type { Handler } from './types.ts';

/**
 * Delivers one event to one webhook: POST of the JSON event, signed with HMAC-SHA256 when
 * the target has a secret. Anything but a 2xx is retried with backoff (redirects are not
 * followed); a delivery that never succeeds is logged, and never affects the backup or
 * restore it reports on. Internal addresses are refused unless allowed (webhooks/deliver.ts).
 */
export const notifyWebhook: Handler<'notify.webhook'> = async (platform, { target, event }, ctx) => {
  const t = await resolveTarget(platform, target);
  const body = JSON.stringify(event);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'bk-backup-webhooks/1',
    'x-bk-event': event.type,
    'x-bk-event-id': event.id,
    'x-bk-timestamp': timestamp,
  };
  if (t.secret) headers['x-bk-signature'] = signWebhook(t.secret, timestamp, body);
  let status: number;
  try {
    status = await deliverWebhook(t.url, body, headers, {
      allowedHosts: platform.config.notifications.allowedHosts,
      signal: ctx.signal,
      timeoutMs: 10_000,
    });
  } catch (e) {
    if (e instanceof WebhookAddressError) {
      ctx.log.error({ event: event.id }, `not delivered: ${e.message}`);
      throw e;
    }
    const msg = `webhook ${new URL(t.url).origin}: ${errorMessage(e)}`;
    if (ctx.isFinalAttempt(e)) ctx.log.error({ event: event.id }, `giving up: ${msg}`);
    throw new Error(msg);
  }
  if (status < 200 || status > 299) {
    const err = new Error(`webhook ${new URL(t.url).origin} answered HTTP ${status}`);
    if (ctx.isFinalAttempt(err)) ctx.log.error({ event: event.id }, `giving up: ${err.message}`);
    throw err;
  }
  return { status };
};

import { errorMessage } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const check = z.object({ ok: z.boolean(), error: z.string().optional() });
const readiness = z.object({ status: z.enum(['ready', 'not-ready']), checks: z.object({ redis: check, catalog: check, storage: check }) });

/**
 * What an unauthenticated caller may learn of a failed check: its kind, never the message
 * (which names hosts, ports, user names or bucket names). The message goes to the log.
 */
export function publicReason(e: unknown): string {
  const text = `${(e as { code?: unknown } | null)?.code ?? ''} ${errorMessage(e)}`;
  if (/timed out|ETIMEDOUT|timeout/i.test(text)) return 'timed out';
  if (/ECONNREFUSED|refused/i.test(text)) return 'connection refused';
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(text)) return 'host not found';
  if (/auth|password|denied|forbidden|403|401/i.test(text)) return 'access denied';
  return 'unavailable';
}

async function probe(f: () => Promise<unknown>, log: Platform['log'], what: string): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      f(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out after 3s')), 3000);
      }),
    ]);
    return { ok: true };
  } catch (e) {
    log.warn({ check: what, err: errorMessage(e) }, 'readiness check failed');
    return { ok: false, error: publicReason(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Unauthenticated probes: they reveal only up/down, never configuration. */
export function healthRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      { schema: { tags: ['health'], summary: 'The process is alive', response: { 200: z.object({ status: z.literal('ok') }) } } },
      async () => ({
        status: 'ok' as const,
      }),
    );
    app.get(
      '/readyz',
      {
        schema: { tags: ['health'], summary: 'Redis, the catalog and storage are reachable', response: { 200: readiness, 503: readiness } },
      },
      async (_req, reply) => {
        const [redis, catalog, storage] = await Promise.all([
          probe(() => platform.redis.ping(), platform.log, 'redis'),
          probe(() => platform.db.query('SELECT 1'), platform.log, 'catalog'),
          probe(() => platform.store.ping(), platform.log, 'storage'),
        ]);
        const ok = redis.ok && catalog.ok && storage.ok;
        return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks: { redis, catalog, storage } });
      },
    );
  };
}

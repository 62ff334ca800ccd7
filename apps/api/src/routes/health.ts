import { errorMessage } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const check = z.object({ ok: z.boolean(), error: z.string().optional() });
const readiness = z.object({ status: z.enum(['ready', 'not-ready']), checks: z.object({ redis: check, catalog: check, storage: check }) });

async function probe(f: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
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
    return { ok: false, error: errorMessage(e) };
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
          probe(() => platform.redis.ping()),
          probe(() => platform.db.query('SELECT 1')),
          probe(() => platform.store.ping()),
        ]);
        const ok = redis.ok && catalog.ok && storage.ok;
        return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks: { redis, catalog, storage } });
      },
    );
  };
}

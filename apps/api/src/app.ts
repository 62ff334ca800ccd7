import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { consoleRoutes } from '@bk/console';
import { QUEUES } from '@bk/core';
import type { Platform } from '@bk/platform';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyReply } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { type Authenticator, assertRouteScopes, createAuthenticator, requireApiKey, requireBrowserAuth } from './plugins/auth.ts';
import { errorBody, registerErrorHandling } from './plugins/errors.ts';
import { backupRoutes } from './routes/backups.ts';
import { auditRoutes } from './routes/audit.ts';
import { keyRoutes } from './routes/keys.ts';
import { downloadRoutes } from './routes/download.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { operationRoutes } from './routes/operations.ts';
import { restoreRoutes } from './routes/restores.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { sourceRoutes } from './routes/sources.ts';

export interface AppDeps {
  platform: Platform;
  /** Defaults to the bootstrap keys from configuration. */
  auth?: Authenticator;
}

/**
 * Builds the HTTP application. It never listens: `main.ts` (or a test with `inject`) does.
 * Every route under `/v1` requires an API key; the dashboard and the docs accept the key
 * as HTTP Basic password too, so a browser can open them.
 */
export async function buildApp(deps: AppDeps) {
  const { platform } = deps;
  const auth = deps.auth ?? createAuthenticator(platform.config.auth.apiKeys, platform.db);
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps one logger type across plugins.
    loggerInstance: platform.log.child({ component: 'api' }) as FastifyBaseLogger,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    // Errors Fastify raises before routing (a malformed percent-encoding in the URL) get the
    // same body as every other error.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).status(400).send(errorBody('bad_url', err.message));
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  // A POST without a body (curl -X POST, fetch with no body) means "no options": validate it
  // as {} so defaults apply and missing fields are named, instead of "received null".
  app.addHook('preValidation', async (req) => {
    if ((req.method === 'POST' || req.method === 'PUT') && (req.body === null || req.body === undefined)) req.body = {};
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'bk backup platform API', version: '1' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  const docsAuth = requireBrowserAuth(auth, 'read');
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: {
      // swagger-ui takes callback-style hooks; a sent 401 ends the request without done().
      onRequest: (req, reply, done) => {
        docsAuth(req, reply).then((sent) => (sent ? undefined : done()), done);
      },
    },
  });

  await app.register(healthRoutes(platform));
  await app.register(metricsRoutes(platform, auth));

  await app.register(
    async (v1) => {
      v1.addHook('onRoute', (route) => assertRouteScopes(route.method, route.url));
      v1.addHook('onRequest', requireApiKey(auth));
      await v1.register(backupRoutes(platform));
      await v1.register(restoreRoutes(platform));
      await v1.register(sourceRoutes(platform));
      await v1.register(scheduleRoutes(platform));
      await v1.register(operationRoutes(platform));
      await v1.register(downloadRoutes(platform));
      await v1.register(auditRoutes(platform));
      await v1.register(keyRoutes(platform));
    },
    { prefix: '/v1' },
  );

  const board = new FastifyAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: QUEUES.map((q) => new BullMQAdapter(platform.queues.queues[q])), serverAdapter: board });
  await app.register(async (scope) => {
    // The dashboard can retry and remove jobs: admins only.
    scope.addHook('onRequest', requireBrowserAuth(auth, 'admin'));
    await scope.register(board.registerPlugin(), { prefix: '/admin/queues' });
  });

  // The operators' console (static files; it signs in with an API key and calls /v1).
  await app.register(consoleRoutes());

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

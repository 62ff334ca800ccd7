import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/** Where `npm run build:console` (Vite) writes the console: apps/console/dist. */
export const CONSOLE_DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/**
 * Every console response carries it. Scripts, styles, images and API calls from this origin
 * only (Vite emits files, never inline code); no plugins, no <base>, no framing. Forms never
 * submit: the sign-in form is handled by script, so even a broken script cannot put the key
 * in a URL.
 */
export const CONSOLE_CSP = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'none'";

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><h1>The console is not built</h1>
<p>The API is running, but <code>apps/console/dist</code> is missing. Build it with
<code>npm run build:console</code> and reload this page (<code>npm start</code> builds it first).</p>
<p>The HTTP API is at <a href="/docs">/docs</a>.</p></body></html>
`;

function secure(reply: FastifyReply): void {
  reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin');
}

export interface ConsoleOptions {
  /** The built console (default: CONSOLE_DIST). */
  root?: string;
}

/**
 * The operators' web console: `GET /` and its static assets (`/assets/*`, hashed names),
 * public like any web page; everything it shows comes from `/v1` with the key the operator
 * types in. When the console was not built, `GET /` answers 503 with how to build it (the
 * API itself keeps working). Reads the directory on each request, so a rebuild is served
 * without a restart.
 */
export function consoleRoutes(opts: ConsoleOptions = {}): FastifyPluginAsync {
  const root = opts.root ?? CONSOLE_DIST;
  return async (app) => {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: false,
      cacheControl: false,
      serveDotFiles: false,
      setHeaders: (reply: FastifyReply, path: string) => {
        secure(reply);
        // Vite names assets by content hash: they never change; index.html names them.
        reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      if (!existsSync(join(root, 'index.html'))) {
        secure(reply);
        return reply.status(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
      }
      return reply.sendFile('index.html');
    });
  };
}

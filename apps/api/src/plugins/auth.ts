import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Scope, findActiveKeyByHash } from '@bk/catalog';
import { ForbiddenError, UnauthorizedError } from '@bk/core';
import type { Db } from '@bk/catalog';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.ts';

export interface Principal {
  /** Stable, non-secret name of the key: what the audit log records. */
  actor: string;
  scopes: ReadonlySet<Scope>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * The scope each `/v1` route needs, in one table. Every key can `read`; `admin` implies
 * every scope. A `/v1` route missing here stops the API at start-up (`assertRouteScopes`).
 */
export const ROUTE_SCOPES: Readonly<Record<string, Scope>> = {
  'GET /v1/backups': 'read',
  'GET /v1/backups/:id': 'read',
  'POST /v1/backups': 'backup',
  'POST /v1/backups/:id/cancel': 'backup',
  'POST /v1/backups/:id/verify': 'backup',
  'POST /v1/backups/:id/pin': 'backup',
  'DELETE /v1/backups/:id/pin': 'backup',
  'DELETE /v1/backups/:id': 'admin',
  // ?decrypt=true additionally needs `restore` (checked in the handler).
  // Table data, encrypted or not: a read key (monitoring) must not fetch it.
  'GET /v1/backups/:id/download': 'restore',
  'GET /v1/restores': 'read',
  'GET /v1/restores/:id': 'read',
  'POST /v1/restores': 'restore',
  'POST /v1/restores/:id/cancel': 'restore',
  'POST /v1/drills': 'restore',
  'GET /v1/whoami': 'read',
  'GET /v1/sources': 'read',
  'GET /v1/sources/:name': 'read',
  'GET /v1/sources/:name/recovery-window': 'read',
  'GET /v1/schedules': 'read',
  'GET /v1/schedules/:id': 'read',
  'POST /v1/schedules': 'admin',
  'PUT /v1/schedules/:id': 'admin',
  'DELETE /v1/schedules/:id': 'admin',
  'POST /v1/schedules/:id/enable': 'admin',
  'POST /v1/schedules/:id/disable': 'admin',
  // Any key gets past here: the route checks the scope of the schedule's own kind (a drill
  // schedule needs restore, which a restore-only key has and a backup key has not).
  'POST /v1/schedules/:id/run': 'read',
  'POST /v1/schedules/presets/standard': 'admin',
  'POST /v1/cleanup': 'admin',
  'POST /v1/catalog/rescan': 'admin',
  'GET /v1/storage/usage': 'read',
  'GET /v1/recovery-objectives': 'read',
  'GET /v1/audit': 'admin',
  'GET /v1/keys': 'admin',
  'POST /v1/keys': 'admin',
  'DELETE /v1/keys/:id': 'admin',
};

export function scopeOf(method: string, url: string): Scope | undefined {
  return ROUTE_SCOPES[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

export function assertRouteScopes(method: string | string[], url: string): void {
  for (const m of Array.isArray(method) ? method : [method]) {
    if (!scopeOf(m, url))
      throw new Error(`route ${m} ${url} has no entry in ROUTE_SCOPES: every /v1 route must declare the scope it needs`);
  }
}

export function hasScope(p: Principal | undefined, scope: Scope): boolean {
  return Boolean(p && (scope === 'read' || p.scopes.has('admin') || p.scopes.has(scope)));
}

const ALL_SCOPES: ReadonlySet<Scope> = new Set(['read', 'backup', 'restore', 'admin']);

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new API key: `bk_` + 32 random bytes (base64url). Shown once; only its hash is stored. */
export function generateKey(): string {
  return `bk_${randomBytes(32).toString('base64url')}`;
}

export interface Authenticator {
  /** The principal for a presented key, or undefined. */
  verify(key: string): Promise<Principal | undefined>;
}

/** Bootstrap keys from configuration (every scope), then keys stored (hashed) in the catalog. */
export function createAuthenticator(bootstrapKeys: readonly string[], db?: Db): Authenticator {
  const hashes = bootstrapKeys.map((k) => createHash('sha256').update(k).digest());
  return {
    async verify(key) {
      const h = createHash('sha256').update(key).digest();
      let found: Buffer | undefined;
      for (const candidate of hashes) if (timingSafeEqual(candidate, h)) found = candidate;
      if (found) return { actor: `key:${found.toString('hex').slice(0, 12)}`, scopes: ALL_SCOPES };
      if (!db || !key.startsWith('bk_')) return undefined;
      const stored = await findActiveKeyByHash(db, h.toString('hex'));
      return stored ? { actor: `key:${stored.id}`, scopes: new Set(stored.scopes) } : undefined;
    },
  };
}

/** The key from `Authorization: Bearer <key>`, or from HTTP Basic (password = key) for browsers. */
export function presentedKey(req: FastifyRequest, allowBasic: boolean): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const [scheme, value] = h.split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (allowBasic && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i === -1 ? undefined : decoded.slice(i + 1);
  }
  return undefined;
}

/** onRequest hook for `/v1`: a bearer key with the route's scope. */
export function requireApiKey(auth: Authenticator) {
  return async (req: FastifyRequest) => {
    const key = presentedKey(req, false);
    if (!key) throw new UnauthorizedError('missing API key: send "Authorization: Bearer <key>"');
    const p = await auth.verify(key);
    if (!p) throw new UnauthorizedError('invalid or revoked API key');
    req.principal = p;
    const scope = req.routeOptions.url ? scopeOf(req.method, req.routeOptions.url) : undefined;
    if (scope && !hasScope(p, scope))
      throw new ForbiddenError(`this key lacks the "${scope}" scope needed for ${req.method} ${req.routeOptions.url}`);
  };
}

/** onRequest hook for browser pages: Basic or Bearer with `scope`, with a Basic challenge. */
export function requireBrowserAuth(auth: Authenticator, scope: Scope) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(req, true);
    const p = key ? await auth.verify(key) : undefined;
    if (!p) {
      // Replied here rather than thrown: plugins mounted in this scope (Bull Board) install
      // error handlers of their own that would turn the 401 into a 500.
      return reply
        .status(401)
        .header('www-authenticate', 'Basic realm="bk backups", charset="UTF-8"')
        .send(errorBody('unauthorized', 'sign in with any user name and an API key as the password'));
    }
    if (!hasScope(p, scope)) return reply.status(403).send(errorBody('forbidden', `this key lacks the "${scope}" scope`));
    req.principal = p;
    return undefined;
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '@bk/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.ts';

export interface Principal {
  /** Stable, non-secret name of the key (a hash prefix): what the audit log records. */
  actor: string;
  scopes: ReadonlySet<'read' | 'backup' | 'restore' | 'admin'>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const ALL_SCOPES = new Set(['read', 'backup', 'restore', 'admin'] as const);

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export interface Authenticator {
  /** The principal for a presented key, or undefined. Constant-time over configured keys. */
  verify(key: string): Principal | undefined;
}

export function createAuthenticator(bootstrapKeys: readonly string[]): Authenticator {
  const hashes = bootstrapKeys.map((k) => sha256(k));
  return {
    verify(key) {
      const h = sha256(key);
      let found: Buffer | undefined;
      for (const candidate of hashes) if (timingSafeEqual(candidate, h)) found = candidate;
      if (!found) return undefined;
      return { actor: `key:${found.toString('hex').slice(0, 12)}`, scopes: ALL_SCOPES };
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

/** onRequest hook for `/v1`: bearer key required. */
export function requireApiKey(auth: Authenticator) {
  return async (req: FastifyRequest) => {
    const key = presentedKey(req, false);
    if (!key) throw new UnauthorizedError('missing API key: send "Authorization: Bearer <key>"');
    const p = auth.verify(key);
    if (!p) throw new UnauthorizedError('invalid API key');
    req.principal = p;
    return undefined;
  };
}

/** onRequest hook for browser pages (dashboard, docs): Basic or Bearer, with a Basic challenge. */
export function requireBrowserAuth(auth: Authenticator) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(req, true);
    const p = key ? auth.verify(key) : undefined;
    if (!p) {
      // Replied here rather than thrown: plugins mounted in this scope (Bull Board) install
      // error handlers of their own that would turn the 401 into a 500.
      return reply
        .status(401)
        .header('www-authenticate', 'Basic realm="bk backups", charset="UTF-8"')
        .send(errorBody('unauthorized', 'sign in with any user name and an API key as the password'));
    }
    req.principal = p;
    return undefined;
  };
}

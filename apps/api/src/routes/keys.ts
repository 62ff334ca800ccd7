import { type ApiKeyRecord, SCOPES, audit, insertApiKey, listApiKeys, revokeApiKey } from '@bk/catalog';
import { NotFoundError, newId } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateKey, hashKey } from '../plugins/auth.ts';
import { errorSchema } from '../schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema };
const scopeSchema = z.enum(SCOPES as [string, ...string[]]);

const keyView = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  /** The first characters of the key, to recognise it; the key itself is never shown again. */
  prefix: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});

function view(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    scopes: k.scopes,
    prefix: k.keyPrefix,
    createdBy: k.createdBy,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  };
}

/** API keys with scopes, managed by admins. Stored hashed; shown once at creation. */
export function keyRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/whoami',
      {
        schema: {
          tags: ['keys'],
          summary: 'The key this request was made with: its actor name and scopes (what a client may offer its user)',
          response: { 200: z.object({ actor: z.string(), scopes: z.array(scopeSchema) }), ...errors },
        },
      },
      async (req) => {
        const p = req.principal;
        const scopes = p ? (p.scopes.has('admin') ? [...SCOPES] : ['read', ...[...p.scopes].filter((s) => s !== 'read')]) : ['read'];
        return { actor: p?.actor ?? 'anonymous', scopes };
      },
    );

    app.get(
      '/keys',
      {
        schema: {
          tags: ['keys'],
          summary: 'List API keys (never the keys themselves)',
          response: { 200: z.object({ items: z.array(keyView) }), ...errors },
        },
      },
      async () => ({
        items: (await listApiKeys(platform.db)).map(view),
      }),
    );

    app.post(
      '/keys',
      {
        schema: {
          tags: ['keys'],
          summary: 'Create an API key; the response is the only time the key is shown',
          body: z.object({ name: z.string().min(1).max(100), scopes: z.array(scopeSchema).min(1).max(4) }).strict(),
          response: { 201: keyView.extend({ key: z.string() }), ...errors },
        },
      },
      async (req, reply) => {
        const key = generateKey();
        const actor = req.principal?.actor ?? 'anonymous';
        const rec = await insertApiKey(platform.db, {
          id: newId('ak'),
          name: req.body.name,
          scopes: [...new Set(req.body.scopes)] as ApiKeyRecord['scopes'],
          keyHash: hashKey(key),
          keyPrefix: key.slice(0, 10),
          createdBy: actor,
        });
        await audit(platform.db, {
          actor,
          action: 'key.create',
          target: rec.id,
          address: req.ip,
          outcome: 'ok',
          details: { name: rec.name, scopes: rec.scopes },
        });
        return reply.status(201).send({ ...view(rec), key });
      },
    );

    app.delete(
      '/keys/:id',
      {
        schema: {
          tags: ['keys'],
          summary: 'Revoke an API key (effective at once)',
          params: z.object({ id: z.string().regex(/^ak_[0-9a-f]{22}$/, 'not a key id') }),
          response: { 200: z.object({ id: z.string(), revoked: z.boolean() }), ...errors },
        },
      },
      async (req) => {
        if (!(await revokeApiKey(platform.db, req.params.id))) throw new NotFoundError(`no active key ${req.params.id}`);
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'key.revoke',
          target: req.params.id,
          address: req.ip,
          outcome: 'ok',
        });
        return { id: req.params.id, revoked: true };
      },
    );
  };
}

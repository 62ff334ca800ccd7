import { DomainError } from '@bk/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** The one place that builds error bodies. */
export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** Fastify's own 4xx errors (bad JSON, wrong content type, body too large) keep their status. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
};

/**
 * Maps every error to `{ error: { code, message } }`: validation errors and domain errors
 * to their 4xx, anything unexpected to a 500 whose body says only "internal error" and the
 * request id (the details go to the log).
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const message = err.validation
        .map((v) => {
          const where = `${err.validationContext ?? 'request'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
          return `${where}: ${v.message}`;
        })
        .join('; ');
      return reply.status(400).send(errorBody('validation_failed', message));
    }
    if (err instanceof DomainError) {
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const code = err.code && FASTIFY_CODES[err.code];
    if (code || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.status(err.statusCode ?? 400).send(errorBody(code || 'bad_request', err.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('internal', `internal error (request ${req.id})`));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}

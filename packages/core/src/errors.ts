/**
 * Typed domain errors. Each has a stable `code` and the HTTP status it maps to; the API
 * turns them into `{ error: { code, message } }` in exactly one place. Messages are shown
 * to API callers, so they must never contain secrets (URLs with passwords, keys).
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  readonly details?: Record<string, unknown>;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    if (details) this.details = details;
  }
}

export class BadRequestError extends DomainError {
  override readonly name = 'BadRequestError';
  readonly code: string;
  readonly status = 400;
  constructor(message: string, code = 'bad_request', details?: Record<string, unknown>) {
    super(message, details);
    this.code = code;
  }
}

export class UnauthorizedError extends DomainError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'unauthorized';
  readonly status = 401;
}

export class ForbiddenError extends DomainError {
  override readonly name = 'ForbiddenError';
  readonly code = 'forbidden';
  readonly status = 403;
}

export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
  readonly status = 404;
}

export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  readonly code: string;
  readonly status = 409;
  constructor(message: string, code = 'conflict', details?: Record<string, unknown>) {
    super(message, details);
    this.code = code;
  }
}

export class UnavailableError extends DomainError {
  override readonly name = 'UnavailableError';
  readonly code = 'unavailable';
  readonly status = 503;
}

/**
 * A failure retrying cannot fix (bad input in the job, unknown source, auth failure,
 * checksum mismatch). Workers turn it into BullMQ's UnrecoverableError.
 */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

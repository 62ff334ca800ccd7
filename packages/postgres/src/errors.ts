/**
 * Typed errors of the PostgreSQL connector, and the one function that maps driver, server
 * and tool failures onto them. Messages name targets as `user@host:port/db` at most: never
 * a URL, never a password.
 */

import { DatabaseError } from 'pg';

export type PgConnectorErrorCode =
  | 'SOURCE_UNREACHABLE'
  | 'SOURCE_AUTH'
  | 'DATABASE_MISSING'
  | 'SNAPSHOT_GONE'
  | 'TOOL_MISSING'
  | 'TOOL_FAILED'
  | 'INVALID_CONNECTION_URL'
  | 'RESTORE_CONFLICT'
  | 'NOT_IN_ARCHIVE';

/** Base class: a stable `code`, and `permanent` when retrying the same call cannot help. */
export abstract class PgConnectorError extends Error {
  abstract readonly code: PgConnectorErrorCode;
  abstract readonly permanent: boolean;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Connection refused, timed out, or the host name did not resolve. Transient. */
export class SourceUnreachableError extends PgConnectorError {
  readonly code = 'SOURCE_UNREACHABLE';
  readonly permanent = false;
  constructor(
    readonly hostPort: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`PostgreSQL server ${hostPort} is unreachable: ${reason}`, options);
  }
}

/** The server refused the credentials (SQLSTATE 28P01 / 28000). */
export class SourceAuthError extends PgConnectorError {
  readonly code = 'SOURCE_AUTH';
  readonly permanent = true;
  constructor(
    readonly user: string,
    readonly hostPort: string,
    serverMessage: string,
    options?: ErrorOptions,
  ) {
    super(`password authentication failed for user "${user}" at ${hostPort} (server said: ${serverMessage})`, options);
  }
}

/** The database named in the URL does not exist (SQLSTATE 3D000). */
export class DatabaseMissingError extends PgConnectorError {
  readonly code = 'DATABASE_MISSING';
  readonly permanent = true;
  constructor(
    readonly database: string,
    readonly hostPort: string,
    options?: ErrorOptions,
  ) {
    super(`database "${database}" does not exist on ${hostPort}`, options);
  }
}

/**
 * The exported snapshot cannot be imported any more: the coordinator's transaction ended or
 * its connection died. Exporting anything else would mix snapshots.
 */
export class SnapshotGoneError extends PgConnectorError {
  readonly code = 'SNAPSHOT_GONE';
  readonly permanent = true;
  constructor(
    readonly snapshotId: string,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(
      `the coordinator's snapshot ${snapshotId} is no longer available; the backup cannot continue consistently` +
        (detail ? ` (${detail})` : ''),
      options,
    );
  }
}

/** No usable pg_dump / pg_restore for the server's major version is installed. */
export class ToolMissingError extends PgConnectorError {
  readonly code = 'TOOL_MISSING';
  readonly permanent = true;
  constructor(
    readonly tool: string,
    readonly requiredMajor: number,
    found: readonly { path: string; major: number }[],
  ) {
    const seen = found.length ? `found only ${found.map((f) => `${f.path} (${f.major})`).join(', ')}` : `found none`;
    super(
      `${tool} of PostgreSQL ${requiredMajor} or newer is needed for a PostgreSQL ${requiredMajor} server, ${seen} ` +
        `in /usr/lib/postgresql/*/bin and PATH; install the postgresql-client-${requiredMajor} package ` +
        `(Debian/Ubuntu, PGDG repository) or postgresql${requiredMajor} (RHEL, Alpine)`,
    );
  }
}

/** pg_dump / pg_restore exited with an error; `stderr` has passwords scrubbed. */
export class ToolFailedError extends PgConnectorError {
  readonly code = 'TOOL_FAILED';
  readonly permanent = false;
  constructor(
    readonly tool: string,
    readonly exit: string,
    readonly stderr: string,
  ) {
    super(`${tool} failed (${exit}): ${stderr.trim() || 'no error output'}`);
  }
}

/** A URL that cannot be parsed; the message says what is wrong, never what the URL was. */
export class InvalidConnectionUrlError extends PgConnectorError {
  readonly code = 'INVALID_CONNECTION_URL';
  readonly permanent = true;
  constructor(reason: string) {
    super(`invalid PostgreSQL connection URL: ${reason}`);
  }
}

/** A restore that would break or silently change objects it was not asked to touch. */
export class RestoreConflictError extends PgConnectorError {
  readonly code = 'RESTORE_CONFLICT';
  readonly permanent = true;
}

/** A selective restore asked for tables the schema archive does not hold. */
export class NotInArchiveError extends PgConnectorError {
  readonly code = 'NOT_IN_ARCHIVE';
  readonly permanent = true;
}

/** What {@link pgErrorToDomain} needs to phrase its messages. */
export interface ErrorContext {
  readonly user?: string;
  /** `host:port` */
  readonly hostPort?: string;
  readonly database?: string;
  readonly snapshotId?: string;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ECONNRESET',
  'ENOENT',
]);

function isDatabaseError(err: unknown): err is DatabaseError {
  if (err instanceof DatabaseError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; severity?: unknown };
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

/** True when `err` is PostgreSQL's "invalid snapshot identifier" / "could not import the requested snapshot". */
export function isSnapshotImportError(err: unknown): boolean {
  if (!isDatabaseError(err)) return false;
  return (
    (err.code === '22023' && /invalid snapshot identifier/.test(err.message)) ||
    (err.code === '55000' && /could not import the requested snapshot/.test(err.message))
  );
}

/**
 * Maps an error from node-postgres, the network or a server message to the connector's
 * typed errors; returns anything it does not recognise unchanged (it is an Error either way).
 *
 * - ECONNREFUSED / timeouts / DNS failures, "the database system is starting up" -> {@link SourceUnreachableError}
 * - SQLSTATE 28P01 / 28000 -> {@link SourceAuthError}
 * - SQLSTATE 3D000 -> {@link DatabaseMissingError}
 * - invalid snapshot identifier -> {@link SnapshotGoneError}
 */
export function pgErrorToDomain(err: unknown, ctx: ErrorContext = {}): Error {
  if (err instanceof PgConnectorError) return err;
  const hostPort = ctx.hostPort ?? 'the PostgreSQL server';
  if (isDatabaseError(err)) {
    if (err.code === '28P01' || err.code === '28000') {
      return new SourceAuthError(ctx.user ?? '?', hostPort, err.message, { cause: err });
    }
    if (err.code === '3D000') return new DatabaseMissingError(ctx.database ?? '?', hostPort, { cause: err });
    if (err.code === '57P03' || err.code === '53300') return new SourceUnreachableError(hostPort, err.message, { cause: err });
    if (isSnapshotImportError(err)) return new SnapshotGoneError(ctx.snapshotId ?? '?', err.message, { cause: err });
    return err;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new SourceUnreachableError(hostPort, code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `host name not found (${code})` : code, {
        cause: err,
      });
    }
    if (/timeout expired|connection timeout/i.test(err.message)) {
      return new SourceUnreachableError(hostPort, 'connection timed out', { cause: err });
    }
    return err;
  }
  return new Error(String(err));
}

/** The abort reason as an Error (AbortSignal.reason may be any value). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException(typeof r === 'string' ? r : 'This operation was aborted', 'AbortError');
}

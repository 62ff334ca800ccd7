/**
 * Typed errors of the TDengine connector. Messages name the server as `user@host:port` at
 * most: never a URL, never a password. Every error says whether retrying the same call can
 * help (`permanent`); retries themselves are the caller's.
 */

export type TdConnectorErrorKind =
  | 'TDENGINE'
  | 'UNREACHABLE'
  | 'CONNECTION_LOST'
  | 'PROTOCOL'
  | 'TIMEOUT'
  | 'ROW_COUNT_MISMATCH'
  | 'INVALID_INPUT'
  | 'INVALID_URL'
  | 'CONFLICT';

/** Base class: a stable `kind`, and `permanent` when retrying the same call cannot help. */
export abstract class TdConnectorError extends Error {
  abstract readonly kind: TdConnectorErrorKind;
  abstract readonly permanent: boolean;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * TDengine error codes (low 16 bits, as REST reports them) that no retry can fix: parse
 * errors, missing objects, authentication, SQL too long, timestamp out of range, invalid
 * options or values.
 */
const PERMANENT_CODES = new Set([
  0x0216, // TSC_INVALID_OPERATION
  0x0219, // TSC_EXCEED_SQL_LIMIT: SQL statement too long
  0x021b, // TSC_INVALID_JSON
  0x0224, // TSC_VALUE_OUT_OF_RANGE
  0x0350, // auth errors 0x0350..0x0357
  0x0351,
  0x0352,
  0x0353,
  0x0354,
  0x0355,
  0x0356,
  0x0357,
  0x0388, // MND_DB_NOT_EXIST
  0x060b, // TDB_TIMESTAMP_OUT_OF_RANGE
  0x2600, // PAR_SYNTAX_ERROR
  0x2603, // PAR_TABLE_NOT_EXIST
  0x2619, // PAR_INVALID_DB_OPTION
  0x263b, // PAR_VALUE_TOO_LONG and neighbours are parse errors as well
  0x1105, // adapter: no auth info
  0x1106, // adapter: request is empty
  0x1107, // adapter: no sql input
  0x1122, // adapter: invalid type of Authorization
  0x1124, // adapter: invalid basic Authorization
  0x1125, // adapter: invalid taosd Authorization
]);

/**
 * An error reported by TDengine or taosAdapter: HTTP 200 with a non-zero `code`, or a 4xx/5xx
 * status with `{code, desc}` (or, for some statuses, a bare JSON string or text: `code` is
 * then null).
 */
export class TdError extends TdConnectorError {
  readonly kind = 'TDENGINE';
  readonly permanent: boolean;
  constructor(
    /** TDengine's code (low 16 bits), or null when the body carried none. */
    readonly code: number | null,
    readonly desc: string,
    readonly httpStatus: number,
    /** `user@host:port` */
    readonly server: string,
    options?: ErrorOptions,
  ) {
    const codeText = code === null ? '' : ` code ${code} (0x${code.toString(16).padStart(4, '0')})`;
    super(`TDengine at ${server} failed (HTTP ${httpStatus}${codeText}): ${desc}`, options);
    this.permanent =
      httpStatus === 400 || httpStatus === 401 || httpStatus === 403 || httpStatus === 404 || (code !== null && PERMANENT_CODES.has(code));
  }
}

/** The connection could not be made: refused, DNS failure, host unreachable. Transient. */
export class TdUnreachableError extends TdConnectorError {
  readonly kind = 'UNREACHABLE';
  readonly permanent = false;
  constructor(
    readonly server: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`TDengine REST server ${server} is unreachable: ${reason}`, options);
  }
}

/** The connection broke after the request was sent: before the response or in its middle. */
export class TdConnectionLostError extends TdConnectorError {
  readonly kind = 'CONNECTION_LOST';
  readonly permanent = false;
  constructor(
    readonly server: string,
    /** Rows parsed before the connection broke (0 when it broke before the response). */
    readonly rowsReceived: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`connection to TDengine at ${server} lost after ${rowsReceived} rows: ${reason}`, options);
  }
}

/** The response is not what the REST protocol promises: truncated or malformed JSON, invalid UTF-8. */
export class TdProtocolError extends TdConnectorError {
  readonly kind = 'PROTOCOL';
  readonly permanent = false;
}

/** The call's `timeoutMs` passed before it completed (reading every row included). */
export class TdTimeoutError extends TdConnectorError {
  readonly kind = 'TIMEOUT';
  readonly permanent = false;
  constructor(
    readonly server: string,
    readonly timeoutMs: number,
  ) {
    super(`TDengine at ${server} did not complete the statement within ${timeoutMs} ms`);
  }
}

/**
 * A cross-check failed: an export read fewer (or more) rows than `COUNT(*)` reports for the
 * same window (silent truncation by `restfulRowLimit`, a fetch error taosAdapter ended with
 * code 0, or writes into the window during the export), or an INSERT reported fewer
 * affected rows than it carried.
 */
export class TdRowCountMismatchError extends TdConnectorError {
  readonly kind = 'ROW_COUNT_MISMATCH';
  readonly permanent = false;
  constructor(
    message: string,
    readonly expected: bigint,
    readonly actual: bigint,
  ) {
    super(message);
  }
}

/** Input the connector refuses to turn into SQL: a bad identifier, value, type or td-jsonl line. */
export class TdInvalidInputError extends TdConnectorError {
  readonly kind = 'INVALID_INPUT';
  readonly permanent = true;
}

/** A source URL that cannot be used; the message says why, never what the URL was. */
export class TdInvalidUrlError extends TdConnectorError {
  readonly kind = 'INVALID_URL';
  readonly permanent = true;
  constructor(reason: string) {
    super(`invalid TDengine REST URL: ${reason}`);
  }
}

/** A restore target that exists but does not match (e.g. a database with another precision). */
export class TdConflictError extends TdConnectorError {
  readonly kind = 'CONFLICT';
  readonly permanent = true;
}

/** The abort reason as an Error (AbortSignal.reason may be any value). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException(typeof r === 'string' ? r : 'This operation was aborted', 'AbortError');
}

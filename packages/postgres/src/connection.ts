/**
 * Opening, cancelling and closing single connections. Each operation of this package uses its
 * own connection (no pool): a COPY or a held snapshot owns its session for its whole life.
 */

import { connect as netConnect } from 'node:net';
import { Client } from 'pg';
import { abortReason, pgErrorToDomain, SourceUnreachableError, type ErrorContext } from './errors.ts';
import { clientConfig, hostPort, parseTarget, type PgTarget } from './target.ts';

export interface ConnectOptions {
  readonly signal?: AbortSignal | undefined;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string | undefined;
  /** Default 10 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Connect to this database instead of the URL's. */
  readonly database?: string | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Session settings under which COPY text is produced and parsed, and row text hashed: the
 * same on both sides so that every value round-trips exactly and hashes compare.
 * - DateStyle ISO / IntervalStyle postgres / TimeZone UTC: unambiguous date-time text;
 * - extra_float_digits 3: exact floats on every server version;
 * - bytea_output hex, lc_monetary C (money keeps its integer value), xmloption content;
 * - row_security off: a policy that would hide rows makes COPY fail instead (as pg_dump);
 * - empty search_path: regclass and friends print schema-qualified, no function hijacking;
 * - no statement / lock / idle-in-transaction / transaction timeouts from the role's defaults.
 */
export const CANONICAL_SESSION_SQL = [
  'SET statement_timeout = 0',
  'SET lock_timeout = 0',
  'SET idle_in_transaction_session_timeout = 0',
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET TimeZone = 'UTC'",
  'SET extra_float_digits = 3',
  "SET bytea_output = 'hex'",
  "SET lc_monetary = 'C'",
  'SET xmloption = content',
  'SET row_security = off',
  "SELECT pg_catalog.set_config('search_path', '', false)",
  // PostgreSQL 17 added transaction_timeout; older servers do not know the name.
  "SELECT pg_catalog.set_config('transaction_timeout', '0', false) WHERE pg_catalog.current_setting('server_version_num')::integer >= 170000",
].join('; ');

/** The timeouts part of {@link CANONICAL_SESSION_SQL}, for sessions that only hold a snapshot. */
export const NO_TIMEOUTS_SQL = [
  'SET statement_timeout = 0',
  'SET lock_timeout = 0',
  'SET idle_in_transaction_session_timeout = 0',
  "SELECT pg_catalog.set_config('transaction_timeout', '0', false) WHERE pg_catalog.current_setting('server_version_num')::integer >= 170000",
].join('; ');

export function errorContext(t: PgTarget, database?: string): ErrorContext {
  return { user: t.user, hostPort: hostPort(t), database: database ?? t.database };
}

/** node-postgres keeps the backend key data on the client without typing it. */
interface BackendKey {
  readonly processID: number | null;
  readonly secretKey: number | null;
}

/**
 * Opens a connection. Connection failures come back as typed errors
 * (SourceUnreachableError, SourceAuthError, DatabaseMissingError). The client always has an
 * 'error' listener (an idle client losing its socket would otherwise crash the process);
 * callers that care about losing the connection add their own.
 */
export async function connect(target: PgTarget, opts: ConnectOptions = {}): Promise<Client> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const client = new Client(
    clientConfig(target, {
      applicationName: opts.applicationName ?? 'bk-postgres',
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      ...(opts.database !== undefined ? { database: opts.database } : {}),
    }),
  );
  client.on('error', () => {
    // Surfaced through the failing query or the owner's own listener.
  });
  const onAbort = (): void => destroyClient(client);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
  } catch (err) {
    destroyClient(client);
    if (signal?.aborted) throw abortReason(signal);
    throw connectErrorToDomain(err, target, opts.database);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return client;
}

function connectErrorToDomain(err: unknown, target: PgTarget, database: string | undefined): Error {
  const mapped = pgErrorToDomain(err, errorContext(target, database));
  if (mapped !== err) return mapped;
  // Anything else while establishing the session (the server closed the socket, TLS
  // refused...) means we could not reach a usable server.
  if (err instanceof Error && !('severity' in err)) return new SourceUnreachableError(hostPort(target), err.message, { cause: err });
  return mapped;
}

/** Closes the socket at once; pending queries fail. Idempotent. */
export function destroyClient(client: Client): void {
  try {
    client.connection.stream.destroy();
  } catch {
    // already gone
  }
}

/**
 * Sends a protocol CancelRequest for the client's running statement over a separate socket
 * (best effort, never throws). Needed because closing our socket alone lets the server
 * finish a long statement that produces no output (a sort, an index build).
 */
export function sendCancelRequest(target: PgTarget, client: Client): Promise<void> {
  const key = client as unknown as BackendKey;
  if (key.processID === null || key.secretKey === null) return Promise.resolve();
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(key.processID, 8);
  packet.writeInt32BE(key.secretKey, 12);
  return new Promise((resolve) => {
    const socket = target.host.startsWith('/')
      ? netConnect(`${target.host}/.s.PGSQL.${target.port}`)
      : netConnect({ host: target.host, port: target.port });
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.on('connect', () => socket.end(packet));
  });
}

/**
 * Ends the client politely when it is idle, or destroys it. Never throws.
 */
export async function closeClient(client: Client): Promise<void> {
  try {
    await Promise.race([client.end(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  } catch {
    // ignore
  } finally {
    destroyClient(client);
  }
}

/**
 * Wires an AbortSignal to a connection: on abort the running statement is cancelled and the
 * socket closed. Returns the function that unhooks it.
 */
export function abortConnectionOn(signal: AbortSignal | undefined, target: PgTarget, client: Client): () => void {
  if (!signal) return () => {};
  const onAbort = (): void => {
    void sendCancelRequest(target, client);
    destroyClient(client);
  };
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

export interface WithClientOptions extends ConnectOptions {
  /** Run {@link CANONICAL_SESSION_SQL} first. */
  readonly canonical?: boolean;
}

/**
 * Runs `fn` on a fresh connection and closes it afterwards, whatever happens. Errors are
 * mapped with {@link pgErrorToDomain}; an abort rejects with the signal's reason.
 */
export async function withClient<T>(url: string | PgTarget, opts: WithClientOptions, fn: (client: Client) => Promise<T>): Promise<T> {
  const target = typeof url === 'string' ? parseTarget(url) : url;
  const client = await connect(target, opts);
  const unhook = abortConnectionOn(opts.signal, target, client);
  try {
    if (opts.canonical) await client.query(CANONICAL_SESSION_SQL);
    return await fn(client);
  } catch (err) {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    throw pgErrorToDomain(err, errorContext(target, opts.database));
  } finally {
    unhook();
    await closeClient(client);
  }
}

/** Runs `fn` inside BEGIN ... COMMIT (ROLLBACK on error). */
export async function inTransaction<T>(client: Client, begin: string, fn: () => Promise<T>): Promise<T> {
  await client.query(begin);
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

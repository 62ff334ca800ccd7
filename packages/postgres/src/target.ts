/**
 * Connection URLs. A URL carries a password, so it is parsed here once and only
 * `describeTarget` (`user@host:port/db`) ever reaches a message or a log.
 */

import { userInfo } from 'node:os';
import type { ClientConfig } from 'pg';
import { InvalidConnectionUrlError } from './errors.ts';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full' | 'no-verify';

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/** A parsed `postgres://` URL. `password` never leaves this package's connection code. */
export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  readonly sslMode: SslMode | undefined;
}

/**
 * Parses `postgres://user:password@host:port/database?sslmode=...&host=/socket/dir`.
 * Percent-encoded parts are decoded. Defaults follow libpq: host localhost, port 5432,
 * user = the OS user, database = user. Throws {@link InvalidConnectionUrlError}, whose
 * message never contains the URL.
 */
export function parseTarget(url: string): PgTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidConnectionUrlError('it is not a valid URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidConnectionUrlError(`the scheme must be postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  const decode = (s: string, what: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InvalidConnectionUrlError(`its ${what} is not valid percent-encoding`);
    }
  };
  const hostParam = parsed.searchParams.get('host');
  const urlHost = decode(parsed.hostname, 'host');
  const host = hostParam ?? (urlHost.startsWith('[') ? urlHost.slice(1, -1) : urlHost);
  const portText = parsed.port || parsed.searchParams.get('port') || '5432';
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new InvalidConnectionUrlError('its port is not a valid port number');
  const user = parsed.username ? decode(parsed.username, 'user name') : (parsed.searchParams.get('user') ?? userInfo().username);
  const password = parsed.password ? decode(parsed.password, 'password') : (parsed.searchParams.get('password') ?? undefined);
  const path = parsed.pathname.replace(/^\//, '');
  const database = path ? decode(path, 'database name') : (parsed.searchParams.get('dbname') ?? user);
  const sslParam = parsed.searchParams.get('sslmode');
  let sslMode: SslMode | undefined;
  if (sslParam !== null) {
    if (!(SSL_MODES as readonly string[]).includes(sslParam))
      throw new InvalidConnectionUrlError(`sslmode must be one of ${SSL_MODES.join(', ')}`);
    sslMode = sslParam as SslMode;
  }
  return { host: host || 'localhost', port, user, password, database, sslMode };
}

/** `user@host:port/database`: what to show of a target in messages, logs and job data. */
export function describeTarget(urlOrTarget: string | PgTarget): string {
  let t: PgTarget;
  if (typeof urlOrTarget === 'string') {
    try {
      t = parseTarget(urlOrTarget);
    } catch {
      return '<invalid connection URL>';
    }
  } else {
    t = urlOrTarget;
  }
  return `${t.user}@${hostPort(t)}/${t.database}`;
}

/** `host:port` (IPv6 hosts bracketed). */
export function hostPort(t: Pick<PgTarget, 'host' | 'port'>): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** The same URL pointing at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  parsed.searchParams.delete('dbname');
  return parsed.toString();
}

/** node-postgres client settings for a target. */
export function clientConfig(t: PgTarget, opts: { applicationName: string; connectTimeoutMs: number; database?: string }): ClientConfig {
  let ssl: ClientConfig['ssl'];
  switch (t.sslMode) {
    case undefined:
    case 'disable':
    case 'allow':
    case 'prefer':
      ssl = false;
      break;
    case 'require':
    case 'no-verify':
      ssl = { rejectUnauthorized: false };
      break;
    case 'verify-ca':
    case 'verify-full':
      ssl = true;
      break;
  }
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: opts.database ?? t.database,
    ssl,
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * Environment for pg_dump / pg_restore: connection settings as PG* variables (the password
 * in PGPASSWORD, never argv), any inherited PG* variable removed so nothing else steers the
 * tool, messages in English so they can be recognised.
 */
export function toolEnv(t: PgTarget, base: NodeJS.ProcessEnv, connectTimeoutMs: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('PG')) env[k] = v;
  env.PGHOST = t.host;
  env.PGPORT = String(t.port);
  env.PGUSER = t.user;
  if (t.password !== undefined) env.PGPASSWORD = t.password;
  if (t.sslMode !== undefined) env.PGSSLMODE = t.sslMode === 'no-verify' ? 'require' : t.sslMode;
  env.PGCONNECT_TIMEOUT = String(Math.max(2, Math.ceil(connectTimeoutMs / 1000)));
  env.PGAPPNAME = 'bk-postgres';
  env.LC_MESSAGES = 'C';
  env.LANGUAGE = 'C';
  return env;
}

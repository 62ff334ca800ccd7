/**
 * The TDengine REST **test** server: an in-memory stand-in for TDengine 3.x + taosAdapter
 * speaking `POST /rest/sql`, for tests and benchmarks only. Not a database.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAdmin } from './admin.ts';
import { Engine } from './engine/engine.ts';
import { TimeZone } from './engine/time.ts';
import { FaultSwitches } from './faults.ts';
import { TokenStore } from './protocol/auth.ts';
import { handleRest, type RestConfig, type RestDeps } from './protocol/http.ts';
import { StatsCollector, type TdengineTestServerStats } from './stats.ts';

export interface TdengineTestServerOptions {
  /** 0 or absent: an ephemeral port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default root. */
  readonly user?: string;
  /** Default taosdata. */
  readonly password?: string;
  /** taosAdapter's restfulRowLimit, applied to every query; default -1 (none). */
  readonly restfulRowLimit?: number;
  /** taosAdapter's httpCodeServerError; default false (TDengine errors come with HTTP 200). */
  readonly httpCodeServerError?: boolean;
  /** `"timing"` in error bodies, as taosAdapter >= 3.3.3.0 does; default true. */
  readonly errorTiming?: boolean;
  /** TSDB_MAX_ALLOWED_SQL_LEN; default 1 MiB. */
  readonly maxSqlBytes?: number;
  /** Reported by SELECT SERVER_VERSION(); default 3.3.6.0. */
  readonly serverVersion?: string;
  /** Appended to SHOW CREATE STABLE, e.g. "SECURITY_LEVEL 0 SECURE_DELETE 0"; default none. */
  readonly stableDdlSuffix?: string;
  /** Error descriptions to use instead of the defaults, by code. */
  readonly errorDesc?: Readonly<Record<number, string>>;
  /** The server's time zone, for timestamp literals without an offset; default UTC. */
  readonly timeZone?: string;
  /** Receives log lines (already prefixed); default: no logging. */
  readonly log?: (line: string) => void;
}

export interface TdengineTestServer {
  /** `http://user:password@host:port`, credentials URL-encoded. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly faults: FaultSwitches;
  stats(): TdengineTestServerStats;
  /** Drops all databases, fault rules and counters. */
  reset(): void;
  close(): Promise<void>;
}

const LOG_PREFIX = '[tdengine-test-server]';

export async function startTdengineTestServer(opts: TdengineTestServerOptions = {}): Promise<TdengineTestServer> {
  const host = opts.host ?? '127.0.0.1';
  const user = opts.user ?? 'root';
  const password = opts.password ?? 'taosdata';
  const serverTimeZone = TimeZone.lookup(opts.timeZone ?? 'UTC');
  if (!serverTimeZone) throw new Error(`TDengine test server: unknown time zone ${opts.timeZone}`);
  const sink = opts.log;
  const log = (line: string): void => sink?.(`${LOG_PREFIX} ${line}`);

  const config: RestConfig = {
    user,
    password,
    restfulRowLimit: opts.restfulRowLimit ?? -1,
    httpCodeServerError: opts.httpCodeServerError ?? false,
    errorTiming: opts.errorTiming ?? true,
    maxSqlBytes: opts.maxSqlBytes ?? 1024 * 1024,
    errorDesc: opts.errorDesc ?? {},
    serverTimeZone,
  };
  const engine = new Engine({ serverVersion: opts.serverVersion ?? '3.3.6.0', stableDdlSuffix: opts.stableDdlSuffix ?? '' });
  const faults = new FaultSwitches();
  const stats = new StatsCollector();
  const deps: RestDeps = { engine, faults, stats, tokens: new TokenStore(), config, log };

  const snapshot = (): TdengineTestServerStats => stats.snapshot(engine.stats(), faults.firedCounts());
  const reset = (): void => {
    engine.reset();
    faults.clear();
    faults.resetCounters();
    stats.reset();
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://test-server');
    const work = url.pathname.startsWith('/_test/')
      ? handleAdmin(req, res, url, { faults, stats: snapshot, reset })
      : handleRest(req, res, url, deps);
    work.catch((err: unknown) => {
      log(`unhandled error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error');
      } else res.socket?.destroy();
    });
  };

  const server: Server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 10_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${urlHost}:${port}`;
  log(`TDengine REST TEST server (in-memory, not a database) listening on http://${urlHost}:${port}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    faults,
    stats: snapshot,
    reset,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }).then(() => log('TDengine REST TEST server stopped'));
      return closing;
    },
  };
}

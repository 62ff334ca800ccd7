/**
 * taosAdapter's REST routes as the TDengine REST test server serves them:
 * `POST /rest/sql`, `POST /rest/sql/{db}`, `GET /rest/login/{user}/{password}`,
 * gin's 307/301 trailing-slash redirects and its plain-text 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import type { Engine } from '../engine/engine.ts';
import { TimeZone } from '../engine/time.ts';
import type { FaultSwitches } from '../faults.ts';
import { parseSql } from '../sql/parser.ts';
import type { StatsCollector } from '../stats.ts';
import { authenticate, type TokenStore } from './auth.ts';
import { AdapterCode, AdapterError, errorBody, TaosCode, TaosError } from './errors.ts';
import { acceptsGzip, affectedRowsBody, BodySink, type StreamFaults, streamRows } from './response.ts';

const gunzipAsync = promisify(gunzip);

export interface RestConfig {
  readonly user: string;
  readonly password: string;
  /** taosAdapter's restfulRowLimit; -1 = no limit */
  readonly restfulRowLimit: number;
  /** taosAdapter's httpCodeServerError: map TDengine errors to 400/401/502/500 instead of 200 */
  readonly httpCodeServerError: boolean;
  /** `"timing"` in error bodies (taosAdapter >= 3.3.3.0) */
  readonly errorTiming: boolean;
  /** TSDB_MAX_ALLOWED_SQL_LEN */
  readonly maxSqlBytes: number;
  /** Overrides of error descriptions by code (they vary across TDengine versions). */
  readonly errorDesc: Readonly<Record<number, string>>;
  /** Connection time zone when the request gives no `conn_tz` (TDengine server's zone). */
  readonly serverTimeZone: TimeZone;
}

export interface RestDeps {
  readonly engine: Engine;
  readonly faults: FaultSwitches;
  readonly stats: StatsCollector;
  readonly tokens: TokenStore;
  readonly config: RestConfig;
  readonly log: (line: string) => void;
}

/** Requests bodies beyond this are not buffered (they are rejected as too long anyway). */
const MAX_BUFFERED_BODY = 64 * 1024 * 1024;

const PARSE_ERROR_CODES = new Set([0x0216, 0x021b, 0x2600, 0x060b, 0x0224, 0x263b]);

/** HTTP status of a TDengine error (config/const.go ErrorStatusMap when httpCodeServerError). */
function taosErrorStatus(code: number, cfg: RestConfig): number {
  if (!cfg.httpCodeServerError) return 200;
  if (PARSE_ERROR_CODES.has(code)) return 400;
  if (code >= 0x0350 && code <= 0x0357) return 401;
  if (code === 0x000b) return 502;
  return 500;
}

function sendError(res: ServerResponse, gzip: boolean, status: number, code: number, desc: string, startNs: bigint, cfg: RestConfig): void {
  const body = errorBody(code, cfg.errorDesc[code] ?? desc, { timing: cfg.errorTiming, elapsedNs: process.hrtime.bigint() - startNs });
  res.writeHead(status, BodySink.headers(gzip, false));
  res.end(gzip ? gzipSync(body) : body);
}

async function readBody(req: IncomingMessage): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BUFFERED_BODY) tooLarge = true;
    else chunks.push(b);
  }
  let body = Buffer.concat(chunks);
  if (!tooLarge && String(req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
    try {
      body = await gunzipAsync(body);
    } catch (err) {
      throw badParam(`invalid gzip request body: ${(err as Error).message}`);
    }
  }
  return { body, tooLarge };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

/** strings.TrimSpace on bytes. */
function trim(b: Buffer): Buffer {
  let s = 0;
  let e = b.length;
  while (s < e && isSpace(b[s]!)) s++;
  while (e > s && isSpace(b[e - 1]!)) e--;
  return b.subarray(s, e);
}

/** Go strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

function badParam(desc: string): AdapterError {
  return new AdapterError(400, TaosCode.ADAPTER, desc);
}

function checkReqId(v: string | null): void {
  if (v === null || v === '') return;
  if (!/^[+-]?\d+$/.test(v))
    throw badParam(`illegal param, req_id must be numeric strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n > 9223372036854775807n || n < -9223372036854775808n) {
    throw badParam(`illegal param, req_id must be numeric strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  }
}

function zone(name: string | null): TimeZone | undefined {
  if (name === null || name === '') return undefined;
  const tz = TimeZone.lookup(name);
  if (!tz) throw badParam(`unknown time zone ${name}`);
  return tz;
}

/** POST /rest/sql[/{db}] */
export async function handleSql(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  db: string | undefined,
  deps: RestDeps,
): Promise<void> {
  const startNs = process.hrtime.bigint();
  const { config: cfg, stats, faults, engine } = deps;
  const gzip = acceptsGzip(req);
  const q = url.searchParams;
  let sql = '';
  try {
    checkReqId(q.get('req_id'));
    const creds = authenticate(req.headers.authorization, q.get('token'), deps.tokens);
    const { body: raw, tooLarge } = await readBody(req);
    if (raw.length === 0) throw new AdapterError(400, AdapterCode.REQUEST_EMPTY, 'request is empty');
    const body = trim(raw);
    if (body.length === 0) throw new AdapterError(400, AdapterCode.NO_SQL_INPUT, 'no sql input');
    const connTz = zone(q.get('conn_tz'));
    const tz = zone(q.get('tz'));
    const rwm = q.get('row_with_meta');
    let rowWithMeta = false;
    if (rwm !== null && rwm !== '') {
      const b = parseGoBool(rwm);
      if (b === undefined)
        throw badParam(`illegal param, row_with_meta must be boolean strconv.ParseBool: parsing ${JSON.stringify(rwm)}: invalid syntax`);
      rowWithMeta = b;
    }
    const timing = parseGoBool(q.get('timing') ?? '') === true;
    if (creds.user !== cfg.user || creds.password !== cfg.password) throw new TaosError(TaosCode.MND_AUTH_FAILURE);

    stats.recordSql(body);
    // the text is only needed to match fault rules (decoding 1 MiB is not free)
    sql = tooLarge || faults.isEmpty() ? '' : body.toString('utf8');

    const latency = faults.take('latency', sql);
    if (latency && latency.ms > 0) await new Promise((r) => setTimeout(r, latency.ms));
    const http503 = faults.take('http503', sql);
    if (http503) {
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(http503.body);
      stats.errors++;
      return;
    }
    if (faults.peek('dropConnection', sql)?.beforeExecute) {
      faults.take('dropConnection', sql);
      res.socket?.destroy();
      return;
    }
    if (tooLarge || body.length > cfg.maxSqlBytes || faults.take('sqlTooLong', sql)) {
      throw new TaosError(TaosCode.TSC_EXCEED_SQL_LIMIT);
    }
    const injected = faults.take('taosError', sql);
    if (injected) throw new TaosError(injected.code, injected.desc);

    const stmt = parseSql(body);
    const result = engine.execute(stmt, { defaultDb: db, tz: connTz ?? cfg.serverTimeZone });
    const fmtTz = connTz ?? tz ?? TimeZone.UTC;

    if (result.kind === 'affected') {
      if (stmt.kind === 'insert') {
        stats.inserts++;
        stats.rowsInserted += result.rows;
      }
      if (faults.take('dropConnection', sql)) {
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, BodySink.headers(gzip, true));
      const sink = new BodySink(res, gzip);
      sink.end(affectedRowsBody(result.rows, { rowWithMeta, timing, startNs }));
      return;
    }

    stats.queries++;
    const rowLimitFault = faults.take('rowLimit', sql);
    const limits = [cfg.restfulRowLimit >= 0 ? cfg.restfulRowLimit : undefined, rowLimitFault?.limit].filter(
      (x): x is number => x !== undefined,
    );
    const streamFaults: StreamFaults = {
      rowLimit: limits.length > 0 ? Math.min(...limits) : undefined,
      fetchErrorAfter: faults.take('fetchError', sql)?.afterRows,
      dropAfter: faults.take('dropConnection', sql)?.afterRows,
      perChunkMs: latency?.perChunkMs ?? 0,
    };
    res.writeHead(200, BodySink.headers(gzip, true));
    const sink = new BodySink(res, gzip);
    stats.activeResponses++;
    try {
      const { rows, outcome } = await streamRows(sink, result, { rowWithMeta, timing, startNs, tz: fmtTz }, streamFaults);
      stats.rowsReturned += rows;
      if (outcome !== 'complete') deps.log(`response ${outcome} after ${rows} rows: ${sql.slice(0, 120)}`);
    } finally {
      stats.activeResponses--;
    }
  } catch (err) {
    stats.errors++;
    if (res.headersSent) {
      // the stream already started: nothing sensible can follow, like a dead taosAdapter
      deps.log(`error after headers were sent: ${(err as Error).message}`);
      res.socket?.destroy();
      return;
    }
    if (err instanceof AdapterError) {
      sendError(res, gzip, err.httpStatus, err.code, err.message, startNs, cfg);
      return;
    }
    if (err instanceof TaosError) {
      sendError(res, gzip, taosErrorStatus(err.code, cfg), err.code, err.message, startNs, cfg);
      return;
    }
    deps.log(`internal error: ${(err as Error).stack ?? String(err)} (sql: ${sql.slice(0, 200)})`);
    sendError(res, gzip, 500, TaosCode.ADAPTER, 'internal error', startNs, cfg);
  }
}

/** GET /rest/login/{user}/{password} → `{"code":0,"desc":"<token>"}` */
export function handleLogin(res: ServerResponse, user: string, password: string, gzip: boolean, deps: RestDeps): void {
  const startNs = process.hrtime.bigint();
  const cfg = deps.config;
  if (user !== cfg.user || password !== cfg.password) {
    sendError(
      res,
      gzip,
      taosErrorStatus(TaosCode.MND_AUTH_FAILURE, cfg),
      TaosCode.MND_AUTH_FAILURE,
      'Authentication failure',
      startNs,
      cfg,
    );
    return;
  }
  const body = `{"code":0,"desc":${JSON.stringify(deps.tokens.issue({ user, password }))}}`;
  res.writeHead(200, BodySink.headers(gzip, false));
  res.end(gzip ? gzipSync(body) : body);
}

type Route =
  { readonly kind: 'sql'; readonly db: string | undefined } | { readonly kind: 'login'; readonly user: string; readonly password: string };

function matchRoute(method: string, path: string): Route | undefined {
  if (method === 'POST') {
    if (path === '/rest/sql') return { kind: 'sql', db: undefined };
    const m = /^\/rest\/sql\/([^/]+)$/.exec(path);
    if (m) return { kind: 'sql', db: decodeURIComponent(m[1]!) };
  }
  if (method === 'GET') {
    const m = /^\/rest\/login\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) return { kind: 'login', user: decodeURIComponent(m[1]!), password: decodeURIComponent(m[2]!) };
  }
  return undefined;
}

/** Routes a /rest/* request; anything unknown gets gin's 404. */
export async function handleRest(req: IncomingMessage, res: ServerResponse, url: URL, deps: RestDeps): Promise<void> {
  const method = req.method ?? 'GET';
  const route = matchRoute(method, url.pathname);
  if (route?.kind === 'sql') return handleSql(req, res, url, route.db, deps);
  if (route?.kind === 'login') return handleLogin(res, route.user, route.password, acceptsGzip(req), deps);
  if (url.pathname.length > 1 && url.pathname.endsWith('/') && matchRoute(method, url.pathname.slice(0, -1))) {
    // gin RedirectTrailingSlash: 307 for non-GET (the client resends body and headers), 301 for GET
    res.writeHead(method === 'GET' ? 301 : 307, { Location: url.pathname.slice(0, -1) + url.search });
    res.end();
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404 page not found');
}

/**
 * `TdClient`: our own streaming, lossless client of taosAdapter's `POST /rest/sql`
 * (README.md says why not `@tdengine/rest`).
 *
 * - Responses are parsed as bytes arrive ({@link ResponseParser}); rows are handed out in
 *   batches while the rest is still on the wire, with back-pressure (the socket is read only
 *   as fast as rows are consumed).
 * - 64-bit integers and timestamps stay text ({@link RawValue}).
 * - Keep-alive connections (one `http.Agent` per client), `Accept-Encoding: gzip`, request
 *   bodies gzipped from `gzipRequestMinBytes`, URL-encoded parameters, Basic auth from the URL.
 * - Every call has a deadline (`timeoutMs`, reading all rows included) and takes an AbortSignal.
 * - Errors: {@link TdError} (HTTP 200 with code != 0, or 4xx/5xx), {@link TdUnreachableError},
 *   {@link TdConnectionLostError} (dropped before or during the response),
 *   {@link TdProtocolError} (truncated or malformed body), {@link TdTimeoutError}. A body
 *   that ends early is never a short success.
 */

import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { constants as zlibConstants, createGunzip, gzip } from 'node:zlib';
import { TdConnectionLostError, TdError, TdProtocolError, TdTimeoutError, TdUnreachableError, abortReason } from './errors.ts';
import { ResponseFormatError, ResponseParser, type RawRowBatch } from './response-parser.ts';
import { parseTdUrl, type TdTarget } from './target.ts';
import type { ColumnMeta, RawValue } from './types.ts';

const gzipAsync = promisify(gzip);

export interface TdClientOptions {
  /** `http[s]://user:password@host[:port]`; the port defaults to 6041. */
  readonly url: string;
  /** Default deadline of a call, reading every row included; default 120 000 ms. */
  readonly timeoutMs?: number;
  /** Ask for gzip responses (`Accept-Encoding: gzip`); default true. */
  readonly compression?: boolean;
  /** Gzip request bodies (INSERTs) of at least this many bytes; default 64 KiB; Infinity: never. */
  readonly gzipRequestMinBytes?: number;
  /** Connections kept per client; default 8. */
  readonly maxSockets?: number;
  /** taosAdapter's `app` parameter (the application name shown by the server). */
  readonly app?: string;
}

export interface QueryOptions {
  /** `/rest/sql/{db}`: the database for unqualified names. The connector always qualifies names. */
  readonly db?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** This call's deadline, overriding the client's. */
  readonly timeoutMs?: number | undefined;
  /** taosAdapter's `req_id` (trace id); absent: the server picks one. */
  readonly reqId?: bigint | undefined;
}

/** A result whose rows come as token positions ({@link RawRowBatch}); see {@link TdClient.queryRaw}. */
export interface RawQueryResult {
  readonly columns: readonly ColumnMeta[];
  /** Consume once; each batch is valid until the next one is requested. */
  batches(): AsyncIterable<RawRowBatch>;
  cancel(): void;
}

export interface QueryResult {
  readonly columns: readonly ColumnMeta[];
  /**
   * The rows, one by one. Consume either `rows` or `batches()`, and only once. Leaving the
   * loop early cancels the response. Rejects with a typed error if the response breaks.
   */
  readonly rows: AsyncIterable<RawValue[]>;
  /** The rows as they arrive, in batches (cheaper than `rows` for large results). */
  batches(): AsyncIterable<RawValue[][]>;
  /** Abandons the response (its connection is closed, not reused). */
  cancel(): void;
}

/** The parts of a client that calls use. */
interface ClientCore {
  readonly target: TdTarget;
  readonly agent: http.Agent;
  readonly auth: string;
  readonly timeoutMs: number;
  readonly compression: boolean;
  readonly gzipRequestMinBytes: number;
  readonly app: string | undefined;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
const MAX_ERROR_BODY = 64 * 1024;
/** Statements that change nothing (safe to send twice). */
const READ_ONLY = /^\s*(?:SELECT|SHOW|DESCRIBE|DESC)\b/i;

export class TdClient {
  private readonly core: ClientCore;
  private closed = false;

  constructor(opts: TdClientOptions) {
    const target = parseTdUrl(opts.url);
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 8, maxFreeSockets: opts.maxSockets ?? 8 };
    this.core = {
      target,
      agent: target.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts),
      auth: `Basic ${Buffer.from(`${target.user}:${target.password}`, 'utf8').toString('base64')}`,
      timeoutMs: opts.timeoutMs ?? 120_000,
      compression: opts.compression ?? true,
      gzipRequestMinBytes: opts.gzipRequestMinBytes ?? 64 * 1024,
      app: opts.app,
    };
  }

  /** `user@host:port`, for messages and logs. */
  get server(): string {
    return this.core.target.describe;
  }

  /**
   * Runs one statement and resolves once the response's column list has arrived; rows follow
   * through the result. An error response rejects with {@link TdError}.
   */
  async query(sql: string | Buffer, opts: QueryOptions = {}): Promise<QueryResult> {
    if (this.closed) throw new Error('TdClient is closed');
    const call = new Call(this.core, sql, opts, false);
    const it = await call.start();
    return call.result(it);
  }

  /**
   * Like {@link query}, but rows come as positions of their JSON tokens in the response text,
   * with no value allocated: for exports, which copy most tokens as they are.
   */
  async queryRaw(sql: string | Buffer, opts: QueryOptions = {}): Promise<RawQueryResult> {
    if (this.closed) throw new Error('TdClient is closed');
    const call = new Call(this.core, sql, opts, true);
    const it = await call.start();
    return call.rawResult(it);
  }

  /** Runs a statement and collects all rows: for small results (metadata). */
  async queryAll(sql: string | Buffer, opts: QueryOptions = {}): Promise<{ columns: readonly ColumnMeta[]; rows: RawValue[][] }> {
    const res = await this.query(sql, opts);
    const rows: RawValue[][] = [];
    for await (const batch of res.batches()) for (const r of batch) rows.push(r);
    return { columns: res.columns, rows };
  }

  /**
   * Runs INSERT / DDL / DELETE and returns `affected_rows`. A statement answering with rows
   * (a SELECT) returns the number of rows. `sql` may be its UTF-8 bytes (imports build
   * statements as bytes: no string to flatten and encode again).
   */
  async exec(sql: string | Buffer, opts: QueryOptions = {}): Promise<number> {
    const { columns, rows } = await this.queryAll(sql, opts);
    if (columns.length === 1 && columns[0]!.name === 'affected_rows' && rows.length === 1) {
      const v = rows[0]![0];
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new TdProtocolError(`affected_rows is not an integer`);
      return Number(v);
    }
    return rows.length;
  }

  /** Closes the kept-alive connections. Calls still running are not waited for. */
  close(): void {
    this.closed = true;
    this.core.agent.destroy();
  }
}

/** One request: its deadline, abort wiring, response parsing and error mapping. */
class Call {
  private req: ClientRequest | undefined;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private detachAbort: (() => void) | undefined;
  private settled = false;
  private readonly parser: ResponseParser;
  private ended = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly server: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly core: ClientCore,
    private readonly sql: string | Buffer,
    private readonly opts: QueryOptions,
    raw: boolean,
  ) {
    this.parser = new ResponseParser({ raw });
    this.server = core.target.describe;
    this.timeoutMs = opts.timeoutMs ?? core.timeoutMs;
  }

  /** Sends the statement and reads up to the column list; returns the body iterator. */
  async start(): Promise<AsyncIterator<Buffer>> {
    const { signal } = this.opts;
    if (signal?.aborted) throw abortReason(signal);
    this.timer = setTimeout(() => this.fail(new TdTimeoutError(this.server, this.timeoutMs)), this.timeoutMs);
    if (signal) {
      const onAbort = (): void => this.fail(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      this.detachAbort = () => signal.removeEventListener('abort', onAbort);
    }
    try {
      let body = typeof this.sql === 'string' ? Buffer.from(this.sql, 'utf8') : this.sql;
      let gzipped = false;
      if (body.length >= this.core.gzipRequestMinBytes) {
        body = await gzipAsync(body, { level: zlibConstants.Z_BEST_SPEED });
        gzipped = true;
      }
      this.throwIfFailed();
      const res = await this.send(body, gzipped);
      if (res.statusCode !== 200) throw await this.errorResponse(res);
      return await this.readHeader(res);
    } catch (err) {
      this.finish();
      throw this.mapError(err);
    }
  }

  /** Stops the call: the request is destroyed with `err` (timeout or abort). */
  private fail(err: Error): void {
    if (this.settled || this.failure) return;
    this.failure = err;
    this.req?.destroy(err);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.detachAbort?.();
  }

  private path(): string {
    const { target, app } = this.core;
    const params = new URLSearchParams();
    if (app !== undefined) params.set('app', app);
    if (this.opts.reqId !== undefined) params.set('req_id', this.opts.reqId.toString());
    const q = params.toString();
    const db = this.opts.db === undefined ? '' : `/${encodeURIComponent(this.opts.db)}`;
    return `${target.basePath}/rest/sql${db}${q ? `?${q}` : ''}`;
  }

  /**
   * Sends the request. A read-only statement is sent once more when a kept-alive connection
   * breaks before any response (the server may have closed it as idle just as it was reused).
   * Anything else is not: the server may have executed it before the connection broke.
   */
  private async send(body: Buffer, gzipped: boolean): Promise<IncomingMessage> {
    try {
      return await this.sendOnce(body, gzipped);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean };
      if (
        !this.failure &&
        e.reusedSocket === true &&
        (e.code === 'ECONNRESET' || e.code === 'EPIPE') &&
        typeof this.sql === 'string' &&
        READ_ONLY.test(this.sql)
      ) {
        return this.sendOnce(body, gzipped);
      }
      throw err;
    }
  }

  private sendOnce(body: Buffer, gzipped: boolean): Promise<IncomingMessage> {
    const { target, agent, auth, compression } = this.core;
    const headers: Record<string, string | number> = {
      Authorization: auth,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': body.length,
      'Accept-Encoding': compression ? 'gzip' : 'identity',
    };
    if (gzipped) headers['Content-Encoding'] = 'gzip';
    const mod = target.protocol === 'https:' ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = mod.request({
        agent,
        protocol: target.protocol,
        host: target.host.startsWith('[') ? target.host.slice(1, -1) : target.host,
        port: target.port,
        method: 'POST',
        path: this.path(),
        headers,
      });
      this.req = req;
      req.once('response', resolve);
      // errors after the response also land here (and on the response): only the first counts
      req.on('error', (err: Error) => {
        (err as { reusedSocket?: boolean }).reusedSocket = req.reusedSocket;
        reject(err);
      });
      req.end(body);
    });
  }

  /** Reads a non-200 response into a TdError: `{code, desc}`, a JSON string, or text. */
  private async errorResponse(res: IncomingMessage): Promise<Error> {
    const status = res.statusCode ?? 0;
    let text = '';
    try {
      text = (await readLimited(this.bodyStream(res), MAX_ERROR_BODY)).trim();
    } catch (err) {
      return new TdError(null, `HTTP ${status} ${res.statusMessage ?? ''} (body unreadable)`.trim(), status, this.server, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { code?: unknown }).code === 'number') {
      const p = parsed as { code: number; desc?: unknown };
      return new TdError(p.code, typeof p.desc === 'string' ? p.desc : '', status, this.server);
    }
    if (typeof parsed === 'string') return new TdError(null, parsed, status, this.server);
    const desc = text.length > 0 ? text.slice(0, 500) : (res.statusMessage ?? `HTTP ${status}`);
    return new TdError(null, desc, status, this.server);
  }

  /** The response body, gunzipped when the server compressed it. */
  private bodyStream(res: IncomingMessage): Readable {
    const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
    if (enc === '' || enc === 'identity') return res;
    if (enc !== 'gzip') throw new TdProtocolError(`unsupported Content-Encoding ${enc}`);
    return pipeline(res, createGunzip({ chunkSize: 64 * 1024 }), () => undefined);
  }

  /** Reads until the columns are known (or an error body is complete); rows follow lazily. */
  private async readHeader(res: IncomingMessage): Promise<AsyncIterator<Buffer>> {
    const body = this.bodyStream(res);
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const parser = this.parser;
    while (!parser.inData && !parser.done) {
      const r = await it.next();
      if (r.done) {
        this.ended = true;
        this.endText();
        break;
      }
      parser.write(this.decoder.decode(r.value, { stream: true }));
    }
    if (parser.code === undefined) throw new TdProtocolError('the response has no "code"');
    if (parser.code !== 0) {
      // an error body is small: read it to its end for the description
      while (!this.ended) {
        const r = await it.next();
        if (r.done) {
          this.ended = true;
          this.endText();
        } else parser.write(this.decoder.decode(r.value, { stream: true }));
      }
      throw new TdError(parser.code, parser.desc ?? '', 200, this.server);
    }
    if (!parser.inData && parser.columns === undefined) {
      throw new TdProtocolError('the response has neither "column_meta" nor "data"');
    }
    return it;
  }

  /** Ends the text: flushes the decoder and checks the JSON is complete. */
  private endText(): void {
    const rest = this.decoder.decode();
    if (rest) this.parser.write(rest);
    this.parser.end();
  }

  result(it: AsyncIterator<Buffer>): QueryResult {
    let consumed = false;
    const batches = (): AsyncGenerator<RawValue[][]> => {
      if (consumed) throw new Error('the rows of a TDengine query result can be read only once');
      consumed = true;
      return this.batches(it, () => (this.parser.bufferedRows > 0 ? this.parser.takeRows() : undefined));
    };
    return {
      columns: this.parser.columns ?? [],
      rows: {
        [Symbol.asyncIterator]: async function* () {
          for await (const batch of batches()) for (const row of batch) yield row;
        },
      },
      batches,
      cancel: () => this.cancel(),
    };
  }

  rawResult(it: AsyncIterator<Buffer>): RawQueryResult {
    let consumed = false;
    return {
      columns: this.parser.columns ?? [],
      batches: () => {
        if (consumed) throw new Error('the rows of a TDengine query result can be read only once');
        consumed = true;
        return this.batches(it, () => (this.parser.bufferedRows > 0 ? this.parser.takeRaw() : undefined));
      },
      cancel: () => this.cancel(),
    };
  }

  private cancel(): void {
    this.finish();
    this.req?.destroy();
  }

  /** Reads the rest of the body, yielding what `take` gives after each piece. */
  private async *batches<T>(it: AsyncIterator<Buffer>, take: () => T | undefined): AsyncGenerator<T> {
    const parser = this.parser;
    let complete = false;
    try {
      const first = take();
      if (first !== undefined) yield first;
      while (!this.ended) {
        const r = await it.next();
        if (r.done) {
          this.ended = true;
          this.endText();
        } else parser.write(this.decoder.decode(r.value, { stream: true }));
        const rows = take();
        if (rows !== undefined) yield rows;
      }
      complete = true;
    } catch (err) {
      throw this.mapError(err);
    } finally {
      if (!complete) {
        this.req?.destroy();
        it.return?.().catch(() => undefined);
      }
      this.finish();
    }
  }

  /** Any failure as the connector's typed error; the timeout or abort reason wins. */
  private mapError(err: unknown): Error {
    if (this.failure) return this.failure;
    if (err instanceof TdError || err instanceof TdProtocolError || err instanceof TdConnectionLostError) return err;
    if (err instanceof ResponseFormatError) return new TdProtocolError(`TDengine at ${this.server}: ${err.message}`, { cause: err });
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
      return new TdProtocolError(
        `TDengine at ${this.server} sent text that is not valid UTF-8 (a VARCHAR holding non-UTF-8 bytes cannot be read over REST)`,
        { cause: err },
      );
    }
    if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
      return new TdProtocolError(`TDengine at ${this.server} sent a truncated or corrupt gzip body after ${this.parser.rowCount} rows`, {
        cause: err,
      });
    }
    if (e?.code !== undefined && UNREACHABLE_CODES.has(e.code)) {
      const reason = e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' ? `host name not found (${e.code})` : e.code;
      return new TdUnreachableError(this.server, reason, { cause: err });
    }
    if (e?.code === 'ETIMEDOUT' && this.parser.rowCount === 0 && this.parser.code === undefined) {
      return new TdUnreachableError(this.server, 'connection timed out', { cause: err });
    }
    // socket errors (ECONNRESET, EPIPE, "aborted", "socket hang up", premature close)
    if (err instanceof Error && (typeof e.code === 'string' || /aborted|hang up|premature/i.test(err.message))) {
      const started = this.parser.code !== undefined;
      const reason = `${e.code ?? err.message}${started ? ' (response cut off)' : ' (no response)'}`;
      return new TdConnectionLostError(this.server, this.parser.rowCount, reason, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Reads a stream to its end as UTF-8 text, keeping at most `limit` bytes. */
async function readLimited(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    if (size < limit) chunks.push(b.subarray(0, limit - size));
    size += b.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

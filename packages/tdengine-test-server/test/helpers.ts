/** Test helpers: a tiny raw HTTP client for the TDengine REST test server (bodies as text). */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { startTdengineTestServer, type TdengineTestServer, type TdengineTestServerOptions } from '../src/index.ts';

export const ROOT_AUTH = `Basic ${Buffer.from('root:taosdata').toString('base64')}`;

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly raw: Buffer;
  /** number of 'data' events the client saw */
  readonly chunks: number;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  /** Authorization header; null = none */
  readonly auth?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export class Client {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  constructor(readonly server: TdengineTestServer) {}

  request(body: string | Buffer | undefined, o: RequestOptions = {}): Promise<Reply> {
    const auth = o.auth === undefined ? ROOT_AUTH : o.auth;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.server.port,
          path: o.path ?? '/rest/sql',
          method: o.method ?? 'POST',
          agent: this.agent,
          headers: { ...(auth !== null ? { Authorization: auth } : {}), ...o.headers },
        },
        (res) => {
          const parts: Buffer[] = [];
          let chunks = 0;
          res.on('data', (c: Buffer) => {
            parts.push(c);
            chunks++;
          });
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(parts);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw, chunks });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POST SQL to /rest/sql (or `path`), body of the reply as text. */
  async sql(sql: string, o: RequestOptions = {}): Promise<string> {
    return (await this.request(sql, o)).body;
  }

  /** POST SQL and require code 0. */
  async ok(sql: string, o: RequestOptions = {}): Promise<string> {
    const r = await this.request(sql, o);
    if (r.status !== 200 || !r.body.startsWith('{"code":0,'))
      throw new Error(`${sql.slice(0, 200)} -> ${r.status} ${r.body.slice(0, 500)}`);
    return r.body;
  }

  /** The `data` array of a query, parsed with JSON.parse (tests use it for small ints/strings only). */
  async rows(sql: string, o: RequestOptions = {}): Promise<unknown[][]> {
    const body = await this.ok(sql, o);
    return (JSON.parse(body) as { data: unknown[][] }).data;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Starts a server (port 0) for the test file and a client; both are closed after the file. */
export function useServer(opts: TdengineTestServerOptions = {}): { readonly server: TdengineTestServer; readonly client: Client } {
  const ctx = {} as { server: TdengineTestServer; client: Client };
  beforeAll(async () => {
    ctx.server = await startTdengineTestServer({ port: 0, ...opts });
    ctx.client = new Client(ctx.server);
  });
  afterAll(async () => {
    ctx.client?.close();
    await ctx.server?.close();
  });
  return {
    get server() {
      return ctx.server;
    },
    get client() {
      return ctx.client;
    },
  };
}

/** The `"timing":<ns>` suffix cannot be pinned: replace its value. */
export function maskTiming(body: string): string {
  return body.replace(/"timing":\d+/, '"timing":T');
}

/** Helpers for the connector's integration tests against the TDengine REST test server. */

import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startTdengineTestServer, type TdengineTestServer, type TdengineTestServerOptions } from '@bk/tdengine-test-server';
import { TdClient, type TdClientOptions } from '../src/index.ts';

export interface TestTd {
  readonly server: TdengineTestServer;
  readonly client: TdClient;
  /** Another client with its own options (closed by `close`). */
  newClient(opts?: Omit<TdClientOptions, 'url'> & { url?: string }): TdClient;
  close(): Promise<void>;
}

export async function startTestTd(
  serverOpts: TdengineTestServerOptions = {},
  clientOpts: Omit<TdClientOptions, 'url'> = {},
): Promise<TestTd> {
  const server = await startTdengineTestServer({ port: 0, ...serverOpts });
  const clients: TdClient[] = [];
  const newClient = (opts: Omit<TdClientOptions, 'url'> & { url?: string } = {}): TdClient => {
    const c = new TdClient({ url: server.url, ...opts });
    clients.push(c);
    return c;
  };
  const client = newClient(clientOpts);
  return {
    server,
    client,
    newClient,
    async close() {
      for (const c of clients) c.close();
      await server.close();
    },
  };
}

/** Collects a byte stream as text, with `done` settled too. */
export async function collect(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(parts).toString('utf8');
}

/** A Readable of text cut into small pieces (to exercise chunk boundaries). */
export function textSource(text: string, pieceBytes = 7): Readable {
  const b = Buffer.from(text, 'utf8');
  const pieces: Buffer[] = [];
  for (let i = 0; i < b.length; i += pieceBytes) pieces.push(b.subarray(i, i + pieceBytes));
  return Readable.from(pieces);
}

export interface RecordedExchange {
  readonly path: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly status: number;
  readonly responseHeaders: IncomingHttpHeaders;
}

export interface RecordingProxy {
  readonly port: number;
  readonly exchanges: RecordedExchange[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A transparent HTTP proxy in front of `targetPort` that records headers (bodies pass untouched). */
export async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const exchanges: RecordedExchange[] = [];
  const agent = new Agent({ keepAlive: true });
  let connections = 0;
  const server = createServer((req, res) => {
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      exchanges.push({ path: req.url ?? '', requestHeaders: req.headers, status: upRes.statusCode ?? 0, responseHeaders: upRes.headers });
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    exchanges,
    connections: () => connections,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTP server answering every request with `reply` (for protocol cases the test server cannot produce). */
export async function startScriptedServer(
  reply: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => reply(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://root:S3cr3t-pw@127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { type Server, type Socket, connect, createServer } from 'node:net';

export interface CuttingProxy {
  endpoint: string;
  /** Cut every connection that sends more than `afterBytes` upstream, `times` times in all. */
  cutAfter(afterBytes: number, times: number): void;
  cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real server that can drop a connection mid-request: a network
 * fault between a worker and S3, without mocking S3.
 */
export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let armedAfter: number | undefined;
  let remaining = 0;
  const state = { cuts: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (armedAfter !== undefined && remaining > 0 && sent > armedAfter) {
        remaining--;
        state.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy did not bind');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cutAfter(n, times) {
      armedAfter = n;
      remaining = times;
    },
    get cuts() {
      return state.cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { freePort } from './ports.ts';
import { createTempDir, removeTempDir, requireExecutable, startDaemon, type Daemon } from './processes.ts';

export interface RedisService {
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
  /** Stops and starts the server on the same port; without `dir` the data is lost. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Resolves true once the server answers PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('PING timed out')));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        socket.destroy();
        // "-LOADING ..." and friends mean "not yet".
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('connection closed before a reply')));
  });
}

/** A private redis-server on a free port, without persistence, in a temporary directory. */
export interface StartRedisOptions {
  /** Keep the data in this directory across runs (append-only file on); stop() leaves it. */
  dir?: string;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisService> {
  const binary = requireExecutable('redis-server', 'redis-server');
  const port = await freePort();
  const persistent = opts.dir !== undefined;
  const dir = persistent ? (opts.dir as string) : await createTempDir('bk-redis-');
  if (persistent) await mkdir(dir, { recursive: true });
  const cleanup = () => (persistent ? Promise.resolve() : removeTempDir(dir));
  const launch = (): Promise<Daemon> =>
    startDaemon({
      name: 'redis',
      command: binary,
      args: [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--save',
        '',
        '--appendonly',
        persistent ? 'yes' : 'no',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
      ],
      dir,
      ready: () => ping(port),
      readyTimeoutMs: 15_000,
    });

  let daemon: Daemon;
  try {
    daemon = await launch();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    async stop() {
      await daemon.stop();
      await cleanup();
    },
    async restart() {
      await daemon.stop();
      daemon = await launch();
    },
  };
}

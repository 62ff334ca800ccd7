import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePorts } from './ports.ts';
import { createTempDir, removeTempDir, requireExecutable, runCommand, startDaemon, type Daemon } from './processes.ts';

/** A private OpenStack Swift with the S3 API (s3api + tempauth), for S3 integration tests. */
export interface SwiftService {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const REGION = 'us-east-1';
/** tempauth's `user_test_tester = testing .admin`, as S3 credentials. */
const ACCESS_KEY_ID = 'test:tester';
const SECRET_ACCESS_KEY = 'testing';
/** Debian's Swift is a module of the system Python; a python3 earlier in PATH may lack it. */
const PYTHON = '/usr/bin/python3';
const INSTALL_HINT = 'swift swift-proxy swift-object swift-container swift-account memcached';
const READY_TIMEOUT_MS = 30_000;
/** A small environment: nothing from the test process (PYTHONPATH, proxies) leaks in. */
const DAEMON_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8' };

const SERVERS = ['account', 'container', 'object'] as const;
type Server = (typeof SERVERS)[number];

/**
 * Builds the three one-device rings in one Python process (about 0.5 s; three
 * swift-ring-builder runs per ring take about 3 s). Rings hold the servers' ports, which
 * are fresh for every instance, so they are built per start rather than cached.
 */
const RING_SCRIPT = `
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    builder = RingBuilder(2, 1, 1)
    builder.add_dev({'region': 1, 'zone': 1, 'ip': '${HOST}', 'port': int(port),
                     'replication_ip': '${HOST}', 'replication_port': int(port),
                     'device': 'd1', 'weight': 1.0, 'meta': ''})
    builder.rebalance()
    builder.get_ring().save('%s/%s.ring.gz' % (swift_dir, name))
`;

function serverConfig(server: Server, port: number, dir: string, user: string): string {
  return `[DEFAULT]
bind_ip = ${HOST}
bind_port = ${port}
devices = ${join(dir, 'srv')}
mount_check = false
swift_dir = ${dir}
workers = 0
user = ${user}
log_level = WARNING

[pipeline:main]
pipeline = healthcheck ${server}-server

[app:${server}-server]
use = egg:swift#${server}

[filter:healthcheck]
use = egg:swift#healthcheck
`;
}

function proxyConfig(port: number, memcachedPort: number, dir: string, user: string): string {
  return `[DEFAULT]
bind_ip = ${HOST}
bind_port = ${port}
swift_dir = ${dir}
workers = 0
user = ${user}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = ${HOST}:${memcachedPort}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:s3api]
use = egg:swift#s3api
location = ${REGION}

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = ${SECRET_ACCESS_KEY} .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
`;
}

const SWIFT_CONF = `[swift-hash]
swift_hash_path_prefix = bk-test
swift_hash_path_suffix = bk-test

[storage-policy:0]
name = Policy-0
default = yes
`;

/** Resolves true when GET `path` answers 200. */
function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method: 'GET', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true once memcached answers `version`. */
function memcachedAnswers(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('memcached did not answer in time')));
    socket.on('connect', () => socket.write('version\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('VERSION'));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('connection closed before a reply')));
  });
}

function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    forcePathStyle: true,
  });
}

/**
 * Starts a single-node Swift (account, container, object and proxy servers with s3api and
 * tempauth, plus memcached) on free ports in a temporary directory. Every process is
 * stopped by `stop()` and, failing that, when this process exits.
 */
export async function startSwift(): Promise<SwiftService> {
  const scripts = {
    account: requireExecutable('swift-account-server', 'swift-account'),
    container: requireExecutable('swift-container-server', 'swift-container'),
    object: requireExecutable('swift-object-server', 'swift-object'),
    proxy: requireExecutable('swift-proxy-server', 'swift-proxy'),
  };
  const memcachedBinary = requireExecutable('memcached', 'memcached');
  const user = userInfo().username;
  const isRoot = process.getuid?.() === 0;

  const [proxyPort, memcachedPort, ...serverPorts] = (await freePorts(2 + SERVERS.length)) as [number, number, ...number[]];
  const portOf = (server: Server): number => serverPorts[SERVERS.indexOf(server)]!;
  const dir = await createTempDir('bk-swift-');
  const daemons: Daemon[] = [];
  const stopAll = async (): Promise<void> => {
    // The proxy first, so no request is half-way through the storage servers.
    await Promise.all(daemons.filter((d) => d.name === 'swift-proxy').map((d) => d.stop()));
    await Promise.all(daemons.map((d) => d.stop()));
  };

  try {
    await mkdir(join(dir, 'srv', 'd1'), { recursive: true });
    await Promise.all([
      writeFile(join(dir, 'swift.conf'), SWIFT_CONF),
      writeFile(join(dir, 'proxy-server.conf'), proxyConfig(proxyPort, memcachedPort, dir, user)),
      ...SERVERS.map((server) => writeFile(join(dir, `${server}-server.conf`), serverConfig(server, portOf(server), dir, user))),
    ]);
    try {
      await runCommand(PYTHON, ['-c', RING_SCRIPT, dir, ...SERVERS.map((s) => String(portOf(s)))], {
        env: DAEMON_ENV,
        timeoutMs: 30_000,
      });
    } catch (error) {
      throw new Error(
        `building the Swift rings failed (is python3-swift installed? apt-get install -y --no-install-recommends ${INSTALL_HINT}): ${(error as Error).message}`,
      );
    }

    const started = await Promise.allSettled([
      startDaemon({
        name: 'swift-memcached',
        command: memcachedBinary,
        args: ['-l', HOST, '-p', String(memcachedPort), '-U', '0', '-m', '64', '-t', '1', ...(isRoot ? ['-u', 'root'] : [])],
        dir,
        env: DAEMON_ENV,
        ready: () => memcachedAnswers(memcachedPort),
        readyTimeoutMs: READY_TIMEOUT_MS,
      }),
      ...SERVERS.map((server) =>
        startDaemon({
          name: `swift-${server}`,
          command: PYTHON,
          args: [scripts[server], join(dir, `${server}-server.conf`), '--verbose'],
          dir,
          env: DAEMON_ENV,
          ready: () => httpOk(portOf(server), '/healthcheck'),
          readyTimeoutMs: READY_TIMEOUT_MS,
        }),
      ),
      startDaemon({
        name: 'swift-proxy',
        command: PYTHON,
        args: [scripts.proxy, join(dir, 'proxy-server.conf'), '--verbose'],
        dir,
        env: DAEMON_ENV,
        ready: () => httpOk(proxyPort, '/healthcheck'),
        readyTimeoutMs: READY_TIMEOUT_MS,
      }),
    ]);
    for (const result of started) if (result.status === 'fulfilled') daemons.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } catch (error) {
    await stopAll();
    await removeTempDir(dir);
    throw error;
  }

  const endpoint = `http://${HOST}:${proxyPort}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    region: REGION,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    async createBucket(name: string): Promise<void> {
      const client = s3Client(endpoint);
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await stopAll();
        await removeTempDir(dir);
      })();
      return stopped;
    },
  };
}

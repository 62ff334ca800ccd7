import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, inject } from 'vitest';

/**
 * Fails the test file if it leaves a connection, server or child process open: those keep
 * services busy, hide missing close() calls in the code under test, and make later files
 * flaky. Runs as the last afterAll of the file (setup files register first, hooks run in
 * "stack" order), so the file's own afterAll hooks have already closed what they close.
 *
 * The decision uses process.getActiveResourcesInfo(), counted per type against a baseline
 * taken before the test file is even imported. Found by experiment: in the forks pool a
 * fresh worker holds two PipeWrap (its IPC channel and stderr), a Timeout, and gets a third
 * PipeWrap when something first touches process.stdout; the baseline absorbs them, and
 * timers are not checked at all.
 */

// A worker whose Vitest main process is gone (an interrupted run) has nobody to report to,
// yet a hung test would keep it alive, holding connections: leave with the parent.
const orphanGuard = Symbol.for('bk.test.orphanGuard');
const state = globalThis as { [orphanGuard]?: true };
if (state[orphanGuard] === undefined) {
  state[orphanGuard] = true;
  // Not process.exit(): Vitest replaces it in workers with a report to the (gone) parent.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

/** Resource types that stand for sockets, servers or child processes. */
const WATCHED = /^(TCP|Pipe|Process|UDP)|ConnectWrap$/;
const GRACE_MS = 2000;

function watchedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.test(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

// process.stdout is created on first use (by a library that logs, say): create it now, so its
// pipe is part of the baseline rather than a "leak".
void process.stdout;
void process.stderr;
// Likewise stdin: node-pg-migrate touches it when imported.
void process.stdin;
const baseline = watchedCounts();

function leaks(): string[] {
  const found: string[] = [];
  for (const [type, count] of watchedCounts()) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > 0) found.push(`${extra} x ${type}`);
  }
  return found;
}

// Best effort, for the message only: Node's undocumented handle list names the peers.
const baselineHandles = new Set(activeHandles());

function activeHandles(): unknown[] {
  const getter = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  return typeof getter === 'function' ? getter.call(process) : [];
}

/** Harness service by port, so a leaked socket says what it was connected to. */
function servicePorts(): Map<number, string> {
  const { redis, postgres, s3 } = inject('services');
  return new Map([
    [Number(new URL(redis.url).port), 'redis'],
    [postgres.port, 'postgres'],
    [Number(new URL(s3.endpoint).port), 's3'],
  ]);
}

function describeHandle(handle: unknown, services: Map<number, string>): string | undefined {
  if (handle instanceof ChildProcess) {
    return `child process ${String(handle.pid)} (${handle.spawnargs.join(' ')})`;
  }
  if (handle instanceof Server) {
    return `server listening on ${JSON.stringify(handle.address())}`;
  }
  if (handle instanceof Socket) {
    if (handle.remotePort !== undefined) {
      const service = services.get(handle.remotePort);
      const peer = `${handle.remoteAddress}:${handle.remotePort}${service === undefined ? '' : ` (${service})`}`;
      return `TCP socket ${handle.localAddress}:${handle.localPort} -> ${peer}`;
    }
    const path = (handle as unknown as { _pipeName?: string })._pipeName;
    return path === undefined ? 'pipe or socket (child process stdio, unix socket)' : `unix socket ${path}`;
  }
  return undefined;
}

afterAll(async () => {
  const deadline = Date.now() + GRACE_MS;
  let found = leaks();
  while (found.length > 0 && Date.now() < deadline) {
    await sleep(50);
    found = leaks();
  }
  if (found.length === 0) return;
  const services = servicePorts();
  const details = activeHandles()
    .filter((handle) => !baselineHandles.has(handle))
    .map((handle) => describeHandle(handle, services))
    .filter((text) => text !== undefined);
  throw new Error(
    [`test file left resources open (${found.join(', ')}); close them in afterAll:`, ...details.map((text) => `  - ${text}`)].join('\n'),
  );
});

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from './stack.ts';
import { workerSpawnOptions } from '../../apps/worker/src/node-flags.ts';

export interface WorkerProcess {
  pid: number;
  /** The BullMQ worker name it records on jobs (`job.processedBy`). */
  nameSuffix: string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  log(): Promise<string>;
}

/**
 * Starts `npm run start:worker`'s entry point as a real child process joined to the stack
 * (same config, Redis prefix, catalog and storage), consuming the given queues.
 */
export async function spawnWorker(stack: Stack, queues: string[]): Promise<WorkerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'bk-worker-'));
  const configPath = join(dir, 'backup.config.yaml');
  await writeFile(configPath, stack.yaml);
  const logPath = join(dir, 'worker.log');
  const out = createWriteStream(logPath);
  const { args, env } = workerSpawnOptions({ ...process.env, ...stack.env, BACKUP_CONFIG: configPath, WORKER_QUEUES: queues.join(','), LOG_LEVEL: 'info' });
  const child: ChildProcess = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const log = () => readFile(logPath, 'utf8').catch(() => '');
  // Ready once it logged that its workers started.
  const until = Date.now() + 30_000;
  while (!(await log()).includes('workers started')) {
    if (child.exitCode !== null) throw new Error(`worker exited early: ${await log()}`);
    if (Date.now() > until) throw new Error(`worker did not start: ${await log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid as number,
    nameSuffix: `-${child.pid}`,
    exited,
    kill: (signal) => child.kill(signal),
    log,
  };
}

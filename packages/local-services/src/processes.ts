import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, rmSync } from 'node:fs';
import { chown, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Daemons for integration tests: each runs with its output in a log file, is polled until
 * ready, and is registered so nothing outlives the test run. Every daemon is started through
 * `setpriv --pdeathsig SIGKILL`, so the kernel kills it even if this process dies without
 * running any handler; the 'exit' handler below covers the ordinary paths and removes the
 * temporary directories.
 */

export interface DaemonSpec {
  /** Short name for messages; the log is `<dir>/<name>.log`. */
  name: string;
  command: string;
  args: readonly string[];
  /** The daemon's temporary directory: holds the log, and is the working directory. */
  dir: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this OS user (the caller must be root). */
  user?: string;
  /** Polled until it resolves true; a rejection counts as "not ready yet". */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Signal that asks for a clean shutdown (PostgreSQL: SIGINT, a fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** How long to wait after `stopSignal` before SIGKILL. */
  stopTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** The last lines of the log, for error messages. */
  logTail(lines?: number): Promise<string>;
  /** `stopSignal`, then SIGKILL after `stopTimeoutMs`; resolves once the process is gone. */
  stop(): Promise<void>;
}

const running = new Set<Daemon>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Prepended: Vitest's own 'exit' listener (which answers SIGINT/SIGTERM) calls
  // process.exit() again, and listeners after it never run.
  process.prependListener('exit', () => {
    for (const daemon of running) {
      if (!daemon.isRunning()) continue;
      try {
        process.kill(daemon.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) {
      try {
        // A SIGKILLed server's children may still be writing for a moment.
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      } catch {
        // leave it; nothing else can be done during exit
      }
    }
  });
}

/** Full path of `name` found in PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Full path of `name`, or an error that says which Debian package provides it. */
export function requireExecutable(name: string, debianPackage: string): string {
  const found = findExecutable(name);
  if (found === undefined) {
    throw new Error(
      `${name} not found in PATH: install the Debian package ${debianPackage} ` +
        `(apt-get install -y --no-install-recommends ${debianPackage})`,
    );
  }
  return found;
}

let setprivPath: string | null | undefined;

/** The command line that runs `command` as `user` (if any), killed when this process dies. */
function wrap(command: string, args: readonly string[], user: string | undefined): [string, string[]] {
  setprivPath ??= findExecutable('setpriv') ?? null;
  if (setprivPath === null) {
    if (user !== undefined) {
      throw new Error(`running ${command} as ${user} needs setpriv: install the Debian package util-linux`);
    }
    return [command, [...args]];
  }
  const identity = user === undefined ? [] : [`--reuid=${user}`, `--regid=${user}`, '--init-groups'];
  return [setprivPath, [...identity, '--pdeathsig', 'SIGKILL', '--', command, ...args]];
}

/** A fresh directory under the OS temp dir, removed at process exit if nobody removed it. */
export async function createTempDir(prefix: string, owner?: { uid: number; gid: number }): Promise<string> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Numeric ids of an OS user, for chown. */
export async function osUserIds(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    runCommand('id', ['-u', user]).then(({ stdout }) => Number(stdout.trim())),
    runCommand('id', ['-g', user]).then(({ stdout }) => Number(stdout.trim())),
  ]);
  return { uid, gid };
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this OS user (the caller must be root). */
  user?: string;
  timeoutMs?: number;
}

/** Runs a short-lived command to completion; the error carries its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = options.user === undefined ? [command, [...args]] : wrap(command, args, options.user);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`.trimEnd()));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

async function readTail(file: string, lines: number): Promise<string> {
  const maxBytes = 16 * 1024;
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '(no log)';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8').trimEnd();
    return text === '' ? '(log is empty)' : text.split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

function describeExit({ code, signal }: ExitInfo): string {
  return signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
}

/**
 * Spawns a daemon and resolves once `spec.ready()` says so. If it exits or is not ready in
 * time, it is killed and the error quotes the tail of its log.
 */
export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  installExitHook();
  const logFile = join(spec.dir, `${spec.name}.log`);
  const [file, argv] = wrap(spec.command, spec.args, spec.user);
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { cwd: spec.dir, env: spec.env, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  // The registry and the exit hook decide the child's lifetime, not the event loop.
  child.unref();

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned !== undefined) {
    throw new Error(`${spec.name}: cannot start ${spec.command}: ${spawned.message}`);
  }
  const pid = child.pid!;

  const stopSignal = spec.stopSignal ?? 'SIGTERM';
  const stopTimeoutMs = spec.stopTimeoutMs ?? 10_000;
  const daemon: Daemon = {
    name: spec.name,
    pid,
    logFile,
    exited,
    isRunning: () => exitInfo === undefined,
    logTail: (lines = 30) => readTail(logFile, lines),
    async stop() {
      if (exitInfo === undefined) {
        child.kill(stopSignal);
        const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(daemon);
    },
  };
  running.add(daemon);

  const timeoutMs = spec.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (exitInfo !== undefined) {
      running.delete(daemon);
      throw new Error(`${spec.name} exited during start-up (${describeExit(exitInfo)}); log ${logFile}:\n${await daemon.logTail()}`);
    }
    try {
      if (await spec.ready()) return daemon;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      await daemon.stop();
      const cause = lastError instanceof Error ? ` (last check: ${lastError.message})` : '';
      throw new Error(`${spec.name} not ready after ${timeoutMs} ms${cause}; log ${logFile}:\n${await daemon.logTail()}`);
    }
    await sleep(100);
  }
}

/** Stops every daemon still registered (a global teardown's safety net). */
export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...running].map((daemon) => daemon.stop()));
}

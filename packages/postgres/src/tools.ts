/**
 * Finding and running pg_dump / pg_restore. The password reaches a tool only through
 * PGPASSWORD in its environment; anything the tool prints is scrubbed before it is shown.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import {
  abortReason,
  SnapshotGoneError,
  SourceAuthError,
  SourceUnreachableError,
  ToolFailedError,
  ToolMissingError,
  DatabaseMissingError,
} from './errors.ts';
import { hostPort, type PgTarget } from './target.ts';

export type PgTool = 'pg_dump' | 'pg_restore' | 'pg_basebackup';

export interface ToolSearchOptions {
  /** A directory searched first (e.g. a configured or test server's bin directory). */
  readonly binDir?: string | undefined;
  /** More directories searched first, after `binDir`. */
  readonly binDirs?: readonly string[] | undefined;
  /** Environment whose PATH is searched last; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface FoundTool {
  readonly path: string;
  readonly major: number;
  readonly version: string;
}

const versionCache = new Map<string, Promise<FoundTool | null>>();

function toolVersion(path: string): Promise<FoundTool | null> {
  let cached = versionCache.get(path);
  if (!cached) {
    cached = new Promise((resolve) => {
      execFile(path, ['--version'], { timeout: 10_000, env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' } }, (err, stdout) => {
        if (err) return resolve(null);
        const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
        if (!m?.[1]) return resolve(null);
        resolve({ path, major: Number(m[1]), version: stdout.trim() });
      });
    });
    versionCache.set(path, cached);
  }
  return cached;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Candidate paths in search order: binDirs, /usr/lib/postgresql/<major>/bin (newest first), PATH. */
async function candidates(tool: PgTool, opts: ToolSearchOptions): Promise<string[]> {
  const dirs: string[] = [...(opts.binDir ? [opts.binDir] : []), ...(opts.binDirs ?? [])];
  try {
    const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not a Debian-style layout
  }
  const pathVar = (opts.env ?? process.env).PATH ?? '';
  dirs.push(...pathVar.split(delimiter).filter(Boolean));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const d of dirs) {
    const p = join(d, tool);
    if (seen.has(p)) continue;
    seen.add(p);
    if (await isExecutable(p)) out.push(p);
  }
  return out;
}

/**
 * Finds `tool` whose major version is >= `minMajor`. `prefer: 'closest'` takes the lowest
 * such major (pg_dump: the one matching the server), `'newest'` the highest (pg_restore: it
 * reads every older archive). Throws {@link ToolMissingError} naming the version needed.
 */
export async function findPgTool(
  tool: PgTool,
  minMajor: number,
  opts: ToolSearchOptions & { prefer?: 'closest' | 'newest' } = {},
): Promise<FoundTool> {
  const found = (await Promise.all((await candidates(tool, opts)).map(toolVersion))).filter((f): f is FoundTool => f !== null);
  const usable = found.filter((f) => f.major >= minMajor);
  if (usable.length === 0) throw new ToolMissingError(tool, minMajor, found);
  const best = usable.reduce((a, b) => {
    if (opts.prefer === 'newest') return b.major > a.major ? b : a;
    return b.major < a.major ? b : a;
  });
  return best;
}

/** Removes the password (raw and percent-encoded) and any URL userinfo from tool output. */
export function scrubSecrets(text: string, password: string | undefined): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*):[^@/\s]*@/gi, '$1:***@');
  out = out.replace(/password=\S+/gi, 'password=***');
  if (password) {
    out = out.split(password).join('***');
    const enc = encodeURIComponent(password);
    if (enc !== password) out = out.split(enc).join('***');
  }
  return out;
}

/** Maps a tool's stderr to the typed error it describes, else {@link ToolFailedError}. */
export function toolFailure(tool: PgTool, exit: string, stderr: string, target: PgTarget, snapshotId?: string): Error {
  const hp = hostPort(target);
  if (/password authentication failed|authentication failed for user|no pg_hba\.conf entry|role "[^"]*" does not exist/.test(stderr)) {
    return new SourceAuthError(target.user, hp, lastLine(stderr));
  }
  if (/invalid snapshot identifier|could not import the requested snapshot/.test(stderr) && snapshotId !== undefined) {
    return new SnapshotGoneError(snapshotId, lastLine(stderr));
  }
  if (
    /Connection refused|could not translate host name|timeout expired|No such file or directory\s*\n?\s*Is the server running|Network is unreachable/.test(
      stderr,
    )
  ) {
    return new SourceUnreachableError(hp, lastLine(stderr));
  }
  const missingDb = /database "([^"]*)" does not exist/.exec(stderr);
  if (missingDb?.[1] !== undefined && /connection to server/.test(stderr)) return new DatabaseMissingError(missingDb[1], hp);
  return new ToolFailedError(tool, exit, stderr);
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean);
  return (lines.at(-1) ?? s).replace(/^pg_\w+: (error: )?/, '').trim();
}

const STDERR_LIMIT = 64 * 1024;

interface Spawned {
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its stdio closed: code 0 -> undefined, else the error. */
  readonly finished: Promise<Error | undefined>;
}

export interface SpawnToolOptions {
  readonly tool: PgTool;
  readonly path: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly target: PgTarget;
  readonly snapshotId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Sees the tool's stderr as it comes (pg_basebackup -v reports its WAL positions there). */
  readonly onStderr?: ((text: string) => void) | undefined;
}

/**
 * Spawns a tool. An abort sends SIGTERM, then SIGKILL after 5 s. stderr is kept (last 64 KB)
 * for the error; the failure is mapped with {@link toolFailure}.
 */
function spawnTool(opts: SpawnToolOptions, stdin: 'pipe' | 'ignore'): Spawned {
  const child = spawn(opts.path, [...opts.args], { env: opts.env, stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_LIMIT);
    opts.onStderr?.(d);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    killTimer.unref();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const finished = new Promise<Error | undefined>((resolve) => {
    child.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(new ToolFailedError(opts.tool, 'could not start', err.message));
    });
    child.once('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (opts.signal?.aborted) return resolve(abortReason(opts.signal));
      if (code === 0) return resolve(undefined);
      const exit = code !== null ? `exit code ${code}` : `signal ${sig ?? '?'}`;
      resolve(toolFailure(opts.tool, exit, scrubSecrets(stderr, opts.target.password), opts.target, opts.snapshotId));
    });
  });
  return { child, finished };
}

/**
 * Runs a tool whose stdout is the product. The returned stream ends only after the process
 * exited with status 0; any failure destroys it with the mapped error, so a consumer never
 * mistakes a truncated output for a complete one.
 */
export function toolOutputStream(opts: SpawnToolOptions): Readable {
  const out = new PassThrough();
  const { child, finished } = spawnTool(opts, 'ignore');
  const stdout = child.stdout;
  if (stdout) {
    stdout.pipe(out, { end: false });
  }
  out.on('close', () => {
    // The consumer went away early: stop the tool.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  void finished.then((err) => {
    if (err) out.destroy(err);
    else out.end();
  });
  return out;
}

/** How a write to a child's stdin fails when the child stopped reading (exited or closed it). */
function isBrokenPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
}

/**
 * Runs a tool to completion, feeding `stdin` (if given) and collecting stdout (if asked).
 * When the input stream fails on its own, that error wins (it is the cause) and the tool is
 * stopped. When the tool stops reading its stdin (it exited early), the resulting broken
 * pipe is only a consequence: the tool's own failure (its exit status and stderr) is
 * reported, and a tool that exited 0 succeeded.
 */
export async function runTool(opts: SpawnToolOptions & { stdin?: Readable | undefined; collectStdout?: boolean }): Promise<string> {
  const { child, finished } = spawnTool(opts, opts.stdin ? 'pipe' : 'ignore');
  let stdout = '';
  if (opts.collectStdout) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      stdout += d;
    });
  } else {
    child.stdout?.resume();
  }
  let inputError: Error | undefined;
  if (opts.stdin && child.stdin) {
    const input = opts.stdin;
    const childStdin = child.stdin;
    // Set when the child's end of the pipe broke first (EPIPE...): pipeline() then destroys
    // `input` with that same error, which must not pass for a failure of the input.
    let stdinBroken = false;
    childStdin.once('error', () => {
      stdinBroken = true;
    });
    childStdin.once('close', () => {
      if (!input.readableEnded) stdinBroken = true;
    });
    input.once('error', (err) => {
      if (stdinBroken && isBrokenPipe(err)) return;
      inputError ??= err;
      child.kill('SIGTERM');
    });
    pipeline(input, childStdin, (err) => {
      // EPIPE / premature close: the tool stopped reading; its exit status tells why.
      if (err && !(opts.signal?.aborted ?? false) && !isBrokenPipe(err)) {
        inputError ??= err;
        child.kill('SIGTERM');
      }
    });
  }
  const err = await finished;
  if (opts.signal?.aborted) throw abortReason(opts.signal);
  if (inputError) throw inputError;
  if (err) throw err;
  return stdout;
}

/**
 * pg_dump / pg_restore of the harness's PostgreSQL bin dir, run through `bash -c '...;
 * times'` so their own CPU seconds (parallel workers included: pg_dump reaps them) are
 * known after they exit.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ToolRun {
  seconds: number;
  /** User + system CPU seconds of the tool and its children. */
  cpu: number;
  stderr: string;
}

function parseTimes(line: string): number {
  // "1m2.345s 0m0.678s"
  let total = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60 + Number(m[2]);
  return total;
}

export function runTool(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', '"$@"; rc=$?; echo "@@times" >&2; times >&2; exit $rc', 'bash', binary, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const [out, times = ''] = stderr.split('@@times\n');
      const lines = times.trim().split('\n');
      const cpu = parseTimes(lines[1] ?? '');
      if (code !== 0) reject(new Error(`${binary} ${args.join(' ')} exited with ${code}: ${out?.trim()}`));
      else resolve({ seconds, cpu, stderr: out?.trim() ?? '' });
    });
  });
}

/** Total size of the files under `dir`. */
export async function dirBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += (await stat(join(e.parentPath, e.name))).size;
    files++;
  }
  return { bytes, files };
}

export interface PgTools {
  pgDump: string;
  pgRestore: string;
  version: string;
}

export async function pgTools(binDir: string): Promise<PgTools> {
  const pgDump = join(binDir, 'pg_dump');
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn(pgDump, ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(s.trim()));
  });
  return { pgDump, pgRestore: join(binDir, 'pg_restore'), version: out };
}

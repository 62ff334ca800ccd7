import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

const run = promisify(execFile);

/** backupctl against a running API (real HTTP), with its exit codes. */
describe('backupctl', () => {
  let stack: Stack;
  let base: string;
  let dir: string;
  const cli = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
        env: { ...process.env, BK_API_URL: base, BK_API_KEY: stack.apiKey },
        timeout: 120_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  beforeAll(async () => {
    const url = await testServices().createDatabase('cli_src');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, $$item $$ || g FROM generate_series(1, 300) g');
    await c.end();
    stack = await startStack({ label: 'cli', storage: 'file', sources: { 'pg-main': { kind: 'postgres', url } } });
    base = await stack.app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'bk-cli-'));
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up, lists, shows, verifies, downloads and restores', async () => {
    const backup = await cli('backup', 'pg-main', '--type', 'database', '--wait');
    expect(backup.code, backup.stderr).toBe(0);
    const id = /^(bk_[0-9a-f]{22}) succeeded/m.exec(backup.stdout)?.[1] as string;
    expect(id).toBeDefined();
    expect(backup.stdout).toMatch(/public\.items\s+succeeded\s+300/);

    const list = await cli('--json', 'list', '--source', 'pg-main');
    expect(JSON.parse(list.stdout).items[0].id).toBe(id);
    expect((await cli('show', id)).stdout).toMatch(/status\s+succeeded/);
    const verify = await cli('verify', id, '--wait');
    expect(verify.stdout).toContain(`${id} verified`);
    const zip = join(dir, 'b.zip');
    const dl = await cli('download', id, '-o', zip);
    expect(dl.code, dl.stderr).toBe(0);
    expect((await run('unzip', ['-l', zip])).stdout).toContain('manifest.json');

    const dry = await cli('restore', id, '--dry-run', '--wait');
    expect(dry.code).toBe(0);
    const restore = await cli('restore', id, '--target-database', 'cli_restored', '--wait');
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/rs_[0-9a-f]{22} succeeded/);
    // Again into the same database: refused, and the CLI says so with a non-zero exit.
    const again = await cli('restore', id, '--target-database', 'cli_restored', '--wait');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/failed: .*already has rows/);
  });

  it('never prints the API key in its help, and takes tables under either spelling, as lists', async () => {
    for (const args of [['--help'], ['backup', '--help'], ['restore', '--help']]) {
      const help = await cli(...args);
      expect(help.code).toBe(0);
      expect(help.stdout).not.toContain(stack.apiKey);
      expect(help.stdout.length).toBeGreaterThan(100);
    }
    expect((await cli('--help')).stdout).toContain('env BK_API_KEY, set');
    for (const flags of [['--tables', 'public.items'], ['--table', 'public.items'], ['--table', 'public.items,public.items']]) {
      const b = await cli('backup', 'pg-main', '--type', 'table', ...flags, '--wait');
      expect(b.code, `${flags.join(' ')}: ${b.stderr}${b.stdout}`).toBe(0);
      expect(b.stdout).toMatch(/public\.items\s+succeeded\s+300/);
    }
    // A typo is the API's 400 with the nearest name, before anything is recorded.
    const typo = await cli('backup', 'pg-main', '--type', 'table', '--tables', 'public.itmes');
    expect(typo.code).toBe(2);
    expect(`${typo.stderr}${typo.stdout}`).toContain('did you mean public.items');
  });

  it('manages schedules, cleanup and keys', async () => {
    const created = await cli('--json', 'schedules', 'create', '--name', 'nightly', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--source', 'pg-main', '--type', 'database', '--keep-last', '7');
    expect(created.code, created.stderr).toBe(0);
    const sid = JSON.parse(created.stdout).id as string;
    expect((await cli('schedules')).stdout).toMatch(/nightly\s+pg-main\s+database\s+0 3 \* \* \*\s+Europe\/Berlin\s+true/);
    expect((await cli('schedules', 'disable', sid)).stdout).toContain('disabled');
    expect((await cli('cleanup', '--dry-run')).stdout).toMatch(/ACTION/);
    const key = await cli('--json', 'keys', 'create', '--name', 'ci', '--scope', 'read');
    expect(JSON.parse(key.stdout).key).toMatch(/^bk_/);
    expect((await cli('keys')).stdout).toContain('ci');
    expect((await cli('schedules', 'delete', sid)).code).toBe(0);
  });

  it('exits non-zero with the API error on bad input and without a key', async () => {
    const bad = await cli('backup', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown source "nope".*\(unknown_source\)/);
    const noKey = await run(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'list'], { env: { ...process.env, BK_API_URL: base, BK_API_KEY: '' } }).catch((e) => e as { code: number; stderr: string });
    expect((noKey as { code: number }).code).toBe(2);
  });
});

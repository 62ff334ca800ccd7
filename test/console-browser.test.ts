import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CONSOLE_CSP, CONSOLE_DIST, consoleRoutes } from '@bk/console';
import { compareDatabases } from '@bk/postgres';
import { testServices } from '@bk/test-utils';
import Fastify from 'fastify';
import pg from 'pg';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ROOT = join(import.meta.dirname, '..');
const CONSOLE = join(ROOT, 'apps/console');
const SCREENSHOT = '/tmp/console-overview.png';

const SEED = `
CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL, joined date NOT NULL);
INSERT INTO public.customers SELECT g, 'customer ' || g, date '2026-01-01' + g FROM generate_series(1, 300) g;
CREATE TABLE public.orders (id bigint PRIMARY KEY, customer int REFERENCES public.customers(id), amount numeric(10,2), note text);
INSERT INTO public.orders SELECT g, 1 + g % 300, (g % 997) / 3.0, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 2000) g;
`;

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

function newestMtime(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

/**
 * The console as `npm run build:console` builds it, rebuilt when missing or older than its
 * sources (so this test never checks a stale bundle). In a child process: Vite's esbuild
 * service must not outlive the build in this test process.
 */
async function ensureConsoleBuilt(): Promise<void> {
  const index = join(CONSOLE_DIST, 'index.html');
  const sources = Math.max(...['web', 'index.html', 'vite.config.mjs'].map((f) => newestMtime(join(CONSOLE, f))));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', CONSOLE, '--logLevel', 'warn'], {
    cwd: ROOT,
  });
}

/** The PostgreSQL console end to end in Debian's Chromium: sign-in, overview, backups, a restore through the wizard. */
describe('web console in headless Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let base: string;
  let sourceUrl: string;
  let backupId: string;
  let readKey: string;

  beforeAll(async () => {
    const svc = testServices();
    const [, url] = await Promise.all([ensureConsoleBuilt(), svc.createDatabase('console_src')]);
    sourceUrl = url;
    await sql(sourceUrl, SEED);
    stack = await startStack({
      label: 'console',
      storage: 'file',
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl, rpoTargetMinutes: 60, rtoTargetMinutes: 30 } },
    });
    base = await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const started = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      payload: { source: 'pg-main', type: 'database' },
    });
    expect(started.statusCode, started.body).toBe(202);
    backupId = started.json().id;
    const key = await stack.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: stack.auth,
      payload: { name: 'console read', scopes: ['read'] },
    });
    expect(key.statusCode, key.body).toBe(201);
    readKey = key.json().key;
    const schedule = await stack.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: stack.auth,
      payload: { name: 'nightly', source: 'pg-main', type: 'database', cron: '0 3 * * *', timezone: 'UTC' },
    });
    expect(schedule.statusCode, schedule.body).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const b = await waitFor<{ status: string; error?: string }>(stack, `/v1/backups/${backupId}`, isFinal, 30_000);
    expect(b.status, b.error).toBe('succeeded');
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** A fresh browser context (its own sessionStorage) recording every URL the page asks for and every console error. */
  async function open(): Promise<{ context: BrowserContext; page: Page; urls: string[]; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const urls: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    return { context, page, urls, errors };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Only this server, and never the key in a URL. 401/403 answers log console errors by design (the scope probes); CSP violations must not. */
  function expectContained(urls: string[], errors: string[], key: string): void {
    const origin = new URL(base).origin;
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) {
      expect(new URL(u).origin, u).toBe(origin);
      expect(u).not.toContain(key);
    }
    expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  }

  it('serves the page with a strict CSP and no inline script; without a build, a 503 that says how to build', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toMatch(/^default-src 'self';/);
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(res.body)?.[1] as string;
    const js = await stack.app.inject({ method: 'GET', url: asset });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toContain('immutable');
    // The routes around it are unchanged: /v1, the docs and the board still need a key; unknown paths are JSON 404s.
    for (const url of ['/v1/backups', '/docs/json', '/admin/queues']) {
      expect((await stack.app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    }
    const missing = await stack.app.inject({ method: 'GET', url: '/nope.txt' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');

    const empty = await mkdtemp(join(tmpdir(), 'bk-console-'));
    const bare = Fastify();
    try {
      await bare.register(consoleRoutes({ root: empty }));
      const res503 = await bare.inject({ method: 'GET', url: '/' });
      expect(res503.statusCode).toBe(503);
      expect(res503.body).toContain('npm run build:console');
      expect(res503.headers['content-security-policy']).toBe(CONSOLE_CSP);
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('refuses a wrong key on the sign-in form', async () => {
    const { context, page, urls, errors } = await open();
    try {
      await signIn(page, 'bk_not-a-real-key-000000000000');
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/refused/i);
      expect(await page.getByRole('link', { name: 'Backups', exact: true }).count()).toBe(0);
      expect(await page.evaluate<number>('sessionStorage.length + localStorage.length')).toBe(0);
      expectContained(urls, errors, 'bk_not-a-real-key-000000000000');
    } finally {
      await context.close();
    }
  });

  it('signs in, shows the overview and the backup with its tables, and restores through the wizard into another database', async () => {
    const { context, page, urls, errors } = await open();
    const target = `${new URL(sourceUrl).pathname.slice(1)}_restored`;
    try {
      await signIn(page, stack.apiKey);
      const row = page.locator('tr[data-source="pg-main"]');
      await row.waitFor();
      // Every cell filled in: the newest backup's age, the schedule, and the point-in-time
      // column (none for this source) once the source's discovery answered.
      await expect.poll(() => row.textContent(), { timeout: 20_000 }).toMatch(/ago.*on schedule.*–$/);
      // Against the targets: the backup is minutes old (green), no restore was measured yet (amber).
      expect(await row.locator('.rag-green').allTextContents()).toContain('on schedule');
      expect((await row.locator('.rag-green').allTextContents()).some((t) => /^\d+ s behind$/.test(t))).toBe(true);
      expect(await row.locator('.rag-amber').allTextContents()).toEqual(['no restore measured']);
      expect(await row.textContent()).toMatch(/target 1 h.*target 30 min/);
      await page.getByText('in 1 backups').waitFor();
      expect(await page.evaluate<number>('localStorage.length')).toBe(0);
      expect(await page.evaluate<string[]>('Object.values(sessionStorage)')).toEqual([stack.apiKey]);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.getByRole('link', { name: 'Schedules', exact: true }).click();
      const nightly = page.locator('tr[data-schedule="nightly"]');
      await nightly.waitFor();
      expect(await nightly.textContent()).toMatch(/0 3 \* \* \*.*03:00:00/);
      for (const name of ['Disable', 'Run now']) expect(await nightly.getByRole('button', { name }).count(), name).toBe(1);

      await page.getByRole('link', { name: 'Backups', exact: true }).click();
      await page.locator(`tr[data-backup="${backupId}"]`).getByRole('link', { name: backupId }).click();
      for (const [table, rows] of [
        ['public.customers', '300'],
        ['public.orders', '2,000'],
      ] as const) {
        const tr = page.locator(`tr[data-table="${table}"]`);
        await tr.waitFor();
        expect(await tr.textContent()).toContain(rows);
        expect(await tr.textContent()).toContain('succeeded');
      }

      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Download zip' }).click();
      expect((await download).suggestedFilename()).toBe(`${backupId}.zip`);

      await page.getByRole('link', { name: 'Restore…' }).click();
      await page.locator(`input[name="backup"][value="${backupId}"]`).waitFor();
      expect(await page.locator(`input[name="backup"][value="${backupId}"]`).isChecked()).toBe(true);
      await page.getByText('public.orders', { exact: true }).waitFor();
      await page.locator('input[name="target-database"]').fill(target);
      const restoreButton = page.getByRole('button', { name: 'Restore', exact: true });
      expect(await restoreButton.isDisabled()).toBe(true);

      await page.getByRole('button', { name: 'Dry run' }).click();
      const dry = page.locator('.restore').nth(0);
      await dry.waitFor();
      await expect.poll(() => dry.getAttribute('data-status'), { timeout: 30_000 }).toMatch(/succeeded|failed|cancelled/);
      expect(await dry.getAttribute('data-status'), (await dry.textContent()) ?? '').toBe('succeeded');
      expect(await dry.textContent()).toContain(target);
      expect(await dry.textContent()).toMatch(/stored objects read back and checked/);

      await restoreButton.click();
      const real = page.locator('.restore').nth(1);
      await real.waitFor();
      await expect.poll(() => real.getAttribute('data-status'), { timeout: 30_000 }).toMatch(/succeeded|failed|cancelled/);
      expect(await real.getAttribute('data-status'), (await real.textContent()) ?? '').toBe('succeeded');
      expect(await real.textContent()).toContain('2 of 2 loaded');

      const targetUrl = new URL(sourceUrl);
      targetUrl.pathname = `/${target}`;
      expect(await compareDatabases(sourceUrl, targetUrl.toString())).toEqual([]);
      for (const table of ['public.customers', 'public.orders']) {
        const q = `SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h, count(*)::int AS n FROM ${table} t`;
        expect((await sql(targetUrl.toString(), q)).rows).toEqual((await sql(sourceUrl, q)).rows);
      }
      expectContained(urls, errors, stack.apiKey);
    } finally {
      await context.close();
    }
  });

  it('shows a read-only key what it may see, and no action', async () => {
    const { context, page, urls, errors } = await open();
    try {
      await signIn(page, readKey);
      await page.locator('tr[data-source="pg-main"]').waitFor();
      expect(await page.locator('.who').textContent()).toBe('key scopes: read');
      expect(await page.getByRole('link', { name: 'Restore', exact: true }).count()).toBe(0);
      expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);

      await page.getByRole('link', { name: 'Backups', exact: true }).click();
      await page.locator(`tr[data-backup="${backupId}"]`).waitFor();
      expect(await page.getByRole('button', { name: /Start a backup/ }).count()).toBe(0);
      await page.getByRole('link', { name: backupId }).click();
      await page.locator('tr[data-table="public.orders"]').waitFor();
      for (const name of [/Verify/, /Pin/, /Download/, /Cancel/, /Delete/]) {
        expect(await page.getByRole('button', { name }).count(), String(name)).toBe(0);
      }
      expect(await page.getByRole('link', { name: /Restore…/ }).count()).toBe(0);

      await page.getByRole('link', { name: 'Restores', exact: true }).click();
      await page.getByRole('heading', { name: 'Recent restores' }).waitFor();
      expect(await page.getByRole('link', { name: /Restore…/ }).count()).toBe(0);

      await page.getByRole('link', { name: 'Schedules', exact: true }).click();
      await page.locator('tr[data-schedule="nightly"]').waitFor();
      expect(await page.getByRole('button').allTextContents()).toEqual(['Sign out']);
      expectContained(urls, errors, readKey);
    } finally {
      await context.close();
    }
  });
});

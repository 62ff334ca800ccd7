import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

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

/** Bull Board in a real browser (Debian's Chromium, no browser download). */
describe('Bull Board in headless Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    stack = await startStack({ label: 'board', storage: 'file', workers: false });
    base = await stack.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows every queue after signing in with an API key', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: stack.apiKey } });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${base}/admin/queues`);
      expect(res?.status()).toBe(200);
      for (const q of ['coordinate', 'export', 'restore', 'finalize', 'maintenance']) {
        await page.getByText(q, { exact: true }).first().waitFor({ timeout: 30_000 });
      }
    } finally {
      await context.close();
    }
  });

  /**
   * Refused means: no 2xx page, and the queues never show. Chromium either renders the
   * 401 or gives up on the credentials (ERR_INVALID_AUTH_CREDENTIALS); both are refusals.
   */
  async function expectRefused(httpCredentials?: { username: string; password: string }) {
    const context = await browser.newContext(httpCredentials ? { httpCredentials } : {});
    try {
      const page = await context.newPage();
      let body = '';
      try {
        const res = await page.goto(`${base}/admin/queues`);
        expect(res?.status()).toBe(401);
        body = (await res?.text()) ?? '';
      } catch (e) {
        // A failed expectation above does not match this pattern, so it still fails the test.
        expect((e as Error).message).toMatch(/ERR_INVALID_AUTH_CREDENTIALS/);
      }
      expect(body).not.toContain('coordinate');
    } finally {
      await context.close();
    }
  }

  it('is refused without credentials', async () => {
    await expectRefused();
  });

  it('is refused with a wrong key', async () => {
    await expectRefused({ username: 'ops', password: 'not-the-key-0000' });
  });
});

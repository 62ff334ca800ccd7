import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookAddressError, deliverWebhook, isInternalAddress } from '../apps/worker/src/webhooks/deliver.ts';

/** Webhook targets cannot reach internal addresses unless allowed, and redirects are not followed. */
describe('webhook delivery guard', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/secret' });
        res.end();
        return;
      }
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const opts = (allowedHosts: string[] = []) => ({ allowedHosts, signal: new AbortController().signal, timeoutMs: 5000 });

  it('knows the internal ranges, IPv4-mapped IPv6 included', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
    ])
      expect(isInternalAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isInternalAddress(a), a).toBe(false);
  });

  it('refuses loopback by address and by a name that resolves to it, before connecting', async () => {
    const before = hits.length;
    await expect(deliverWebhook(`${base}/hook`, '{}', {}, opts())).rejects.toBeInstanceOf(WebhookAddressError);
    const port = new URL(base).port;
    await expect(deliverWebhook(`http://localhost:${port}/hook`, '{}', {}, opts())).rejects.toThrow(/internal address/);
    await expect(deliverWebhook('http://169.254.169.254/latest/meta-data/', '{}', {}, opts())).rejects.toBeInstanceOf(WebhookAddressError);
    expect(hits.length).toBe(before);
  });

  it('delivers to an allowed host, and answers a redirect with its status instead of following it', async () => {
    expect(await deliverWebhook(`${base}/hook`, '{"a":1}', { 'content-type': 'application/json' }, opts(['127.0.0.1']))).toBe(200);
    expect(await deliverWebhook(`${base}/redirect`, '{}', {}, opts(['127.0.0.1']))).toBe(302);
    expect(hits).toEqual(['/hook', '/redirect']);
  });
});

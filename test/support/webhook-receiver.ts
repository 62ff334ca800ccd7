import { createHmac, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  event: { type: string; id: string; at: string; data: Record<string, unknown> };
  /** Whether x-bk-signature is the HMAC-SHA256 of `${timestamp}.${body}` under the secret. */
  signatureValid: boolean;
}

/** A real HTTP server that receives webhooks and checks their signatures independently. */
export async function startWebhookReceiver(secret: string, opts: { failFirst?: number } = {}) {
  const received: ReceivedHook[] = [];
  let failures = opts.failFirst ?? 0;
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (failures > 0) {
        failures--;
        res.writeHead(500).end('try again');
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-bk-timestamp'] ?? '');
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-bk-signature'] ?? ''));
      received.push({
        headers: req.headers,
        body,
        event: JSON.parse(body) as ReceivedHook['event'],
        signatureValid: got.length === expected.length && timingSafeEqual(got, expected),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('receiver did not bind');
  return {
    url: `http://127.0.0.1:${addr.port}/hooks`,
    received,
    attempts: () => attempts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook may not reach unless its host is listed in
 * `notifications.allowedHosts`: loopback, private, shared (CGNAT), link-local (where cloud
 * metadata services live), multicast, reserved and unspecified ranges, in IPv4 and IPv6
 * (IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry).
 */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv6');

export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return INTERNAL.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: refuse
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class WebhookAddressError extends Error {
  override readonly name = 'WebhookAddressError';
  /** The target will resolve the same way next time; a config change is needed. */
  readonly permanent = true;
}

export interface DeliverOptions {
  /** Host names (or addresses) allowed to resolve to internal addresses. */
  allowedHosts: readonly string[];
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * POSTs a webhook body and resolves with the HTTP status. The address is checked when the
 * connection is made (the socket connects to the address the check saw, so DNS cannot swap
 * an internal one in afterwards), and redirects are not followed (a 3xx is an answer like
 * any other non-2xx).
 */
export function deliverWebhook(url: string, body: string, headers: Record<string, string>, opts: DeliverOptions): Promise<number> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const allowed = opts.allowedHosts.includes(host);
  if (!allowed && isIP(host) && isInternalAddress(host))
    return Promise.reject(
      new WebhookAddressError(`webhook ${u.origin}: ${host} is an internal address; list it in notifications.allowedHosts to allow it`),
    );
  const lookup = (
    hostname: string,
    options: object,
    cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, []);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => isInternalAddress(a.address));
      if (!allowed && bad)
        return cb(
          new WebhookAddressError(
            `webhook ${u.origin}: ${hostname} resolves to the internal address ${bad.address}; list the host in notifications.allowedHosts to allow it`,
          ),
          [],
        );
      const all = (options as { all?: boolean }).all;
      if (all) return cb(null, list);
      const first = list[0];
      if (!first) return cb(new Error(`webhook ${u.origin}: ${hostname} has no address`), []);
      cb(null, first.address, first.family);
    });
  };
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        lookup,
        signal: opts.signal,
        timeout: opts.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`webhook ${u.origin}: no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

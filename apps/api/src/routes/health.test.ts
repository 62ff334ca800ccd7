import { describe, expect, it } from 'vitest';
import { publicReason } from './health.ts';

describe('/readyz reasons', () => {
  it('say what kind of failure, never the addresses, users or buckets in the message', () => {
    const cases: [Error & { code?: string }, string][] = [
      [Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:6379'), { code: 'ECONNREFUSED' }), 'connection refused'],
      [new Error('password authentication failed for user "bk_catalog"'), 'access denied'],
      [Object.assign(new Error('getaddrinfo ENOTFOUND redis.internal.example'), { code: 'ENOTFOUND' }), 'host not found'],
      [new Error('timed out after 3s'), 'timed out'],
      [new Error('The specified bucket does not exist: secret-bucket'), 'unavailable'],
    ];
    for (const [e, reason] of cases) {
      expect(publicReason(e)).toBe(reason);
      expect(reason).not.toMatch(/10\.1|bk_catalog|internal|secret/);
    }
  });
});

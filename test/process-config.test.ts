import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The processes validate their configuration once at start-up and stop naming the bad key. */
describe('process start-up with bad configuration', () => {
  const run = (entry: string, env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', entry], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', BACKUP_CONFIG: '/dev/null', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it.each([
    ['apps/api/src/main.ts', { PORT: 'eighty' }, /PORT: must be an integer/],
    ['apps/worker/src/main.ts', { COMPRESSION: 'lz4' }, /COMPRESSION: must be zstd, gzip or none/],
    ['apps/api/src/main.ts', { API_KEYS: 'short' }, /auth\.apiKeys\.0: API keys must be at least 16 characters/],
    ['apps/worker/src/main.ts', { REDIS_URL: 'http://not-redis' }, /redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/],
  ])('%s with %o exits 2 and names the key', (entry, env, message) => {
    const r = run(entry, env);
    expect(r.status).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(message);
  });
});

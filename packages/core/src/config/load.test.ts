import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.ts';

describe('loadConfig', () => {
  it('applies defaults, interpolates ${VAR} and freezes the result', () => {
    const cfg = loadConfig({
      yamlText: 'sources:\n  pg-main: { kind: postgres, url: "postgres://u:${PG_PASSWORD}@db:5432/app" }\n',
      env: { PG_PASSWORD: 's3cret' },
      cwd: '/srv',
    });
    expect(cfg.sources['pg-main']?.url).toBe('postgres://u:s3cret@db:5432/app');
    expect(cfg.compression.codec).toBe('zstd');
    expect(cfg.storage.url).toBe('file:///srv/data/backups');
    expect(Object.isFrozen(cfg.sources)).toBe(true);
  });

  it('lets the environment override the essentials', () => {
    const cfg = loadConfig({
      yamlText: 'compression: { codec: gzip, level: 9 }\n',
      env: {
        PORT: '9999',
        REDIS_URL: 'redis://r:6379',
        CATALOG_DATABASE_URL: 'postgres://c/cat',
        STORAGE_URL: 's3://bucket/pre',
        S3_ENDPOINT: 'http://s3:9000',
        S3_FORCE_PATH_STYLE: 'true',
        API_KEYS: 'aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb',
        WORKER_CONCURRENCY: '7',
        COMPRESSION: 'zstd',
        COMPRESSION_LEVEL: '5',
      },
    });
    expect(cfg.server.port).toBe(9999);
    expect(cfg.redis.url).toBe('redis://r:6379');
    expect(cfg.storage.s3.forcePathStyle).toBe(true);
    expect(cfg.auth.apiKeys).toHaveLength(2);
    expect(cfg.workers.concurrency.export).toBe(7);
    expect(cfg.compression).toEqual({ codec: 'zstd', level: 5 });
  });

  it('names the key of every problem', () => {
    expect(() => loadConfig({ yamlText: 'server: { port: "x" }\n', env: {} })).toThrow(/server\.port/);
    expect(() => loadConfig({ yamlText: 'bogus: 1\n', env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ yamlText: 'sources: { a: { kind: postgres, url: "postgres://${NOPE}@h/d" } }\n', env: {} })).toThrow(/NOPE/);
    expect(() => loadConfig({ yamlText: '', env: { COMPRESSION: 'lz4' } })).toThrow(/COMPRESSION/);
    expect(() => loadConfig({ yamlText: 'compression: { codec: gzip, level: 12 }\n', env: {} })).toThrow(/compression\.level/);
    expect(() => loadConfig({ env: { BACKUP_CONFIG: '/nonexistent.yaml' } })).toThrow(/BACKUP_CONFIG/);
    expect(() => loadConfig({ yamlText: '', env: { PORT: 'eighty' } })).toThrow(/PORT/);
  });
});

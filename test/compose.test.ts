import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadConfig } from '@bk/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * No Docker engine runs on our machines, so docker-compose.yml is checked offline: Debian's
 * docker-compose parses and interpolates it, and the environment it gives the API and the
 * workers must load with our config schema (the file stays in step with the schema).
 */
describe('docker-compose.yml', () => {
  const rendered = () =>
    parse(
      execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
        env: { ...process.env, API_KEYS: 'compose-test-key-0123456789' },
        encoding: 'utf8',
      }),
    ) as {
      services: Record<string, { environment?: Record<string, string>; depends_on?: Record<string, unknown>; healthcheck?: unknown }>;
    };

  it('parses, and has every service with its health check and dependencies', () => {
    const { services } = rendered();
    expect(Object.keys(services).sort()).toEqual([
      'api',
      'catalog',
      'minio',
      'minio-bucket',
      'redis',
      'source-postgres',
      'tdengine',
      'worker',
    ]);
    for (const s of ['redis', 'catalog', 'tdengine', 'minio', 'api']) expect(services[s]?.healthcheck, s).toBeTruthy();
    expect(Object.keys(services.worker?.depends_on ?? {})).toContain('api');
  });

  it('refuses to start without API keys', () => {
    const env = { ...process.env };
    delete env.API_KEYS;
    expect(() => execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env, stdio: 'pipe' })).toThrow(/API_KEYS/);
  });

  it('gives the API and the workers an environment our config schema accepts', () => {
    const { services } = rendered();
    for (const name of ['api', 'worker']) {
      const env = services[name]?.environment ?? {};
      const yamlText = readFileSync(String(env.BACKUP_CONFIG).replace('/app/', ''), 'utf8');
      const cfg = loadConfig({ yamlText, env });
      expect(cfg.storage.url).toBe('s3://backups/bk');
      expect(cfg.storage.s3.forcePathStyle).toBe(true);
      expect(Object.keys(cfg.sources).sort()).toEqual(['pg-main', 'td-main']);
      expect(cfg.sources['pg-main']?.url).toContain('source-postgres:5432');
    }
  });
});

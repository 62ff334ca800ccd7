import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildApp } from '@bk/api';
import { ConfigError, createLogger, loadConfig, redactUrl } from '@bk/core';
import { type PostgresService, findExecutable, startPostgres, startRedis } from '@bk/local-services';
import { createPlatform, startScheduleSync } from '@bk/platform';
import { startWorkers } from '@bk/worker';
import closeWithGrace from 'close-with-grace';
import { parse, stringify } from 'yaml';
import { ensureDemoDatabase, startTdDemo } from './demo.ts';

/**
 * `npm start`: the API and the workers in one process on local defaults. Without
 * REDIS_URL / CATALOG_DATABASE_URL it starts private Redis and PostgreSQL servers with
 * their data under ./data/local (kept across runs); backups go to ./data/backups; an API
 * key is made once and kept in ./data/local/api-key. With no sources configured it adds
 * `demo`, a sample database on the private PostgreSQL, and `td-demo`, the project's TDengine
 * REST test server (in memory) with a small meters database.
 */
async function main(): Promise<void> {
  const log = createLogger({ name: 'bk' });
  const env: NodeJS.ProcessEnv = { ...process.env };
  const local = resolve('data/local');
  mkdirSync(local, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  const stopServices = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };

  try {
    if (!env.REDIS_URL) {
      if (!findExecutable('redis-server'))
        throw new ConfigError('REDIS_URL is not set and redis-server is not installed (apt-get install redis-server)');
      const redis = await startRedis({ dir: resolve(local, 'redis') });
      started.push(redis);
      env.REDIS_URL = redis.url;
      log.info({ redis: redis.url }, 'started a private Redis (data in ./data/local/redis)');
    }
    let pgService: PostgresService | undefined;
    if (!env.CATALOG_DATABASE_URL) {
      pgService = await startPostgres({ dir: resolve(local, 'postgres') }).catch((e: unknown) => {
        throw new ConfigError(`CATALOG_DATABASE_URL is not set and a private PostgreSQL could not start: ${(e as Error).message}`);
      });
      started.push(pgService);
      env.CATALOG_DATABASE_URL = await ensureDatabase(pgService, 'bk_catalog');
      log.info({ catalog: env.CATALOG_DATABASE_URL }, 'started a private PostgreSQL for the catalog (data in ./data/local/postgres)');
    }
    const keyFile = resolve(local, 'api-key');
    let printedKey: string | undefined;
    if (!env.API_KEYS) {
      if (!existsSync(keyFile)) writeFileSync(keyFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
      printedKey = readFileSync(keyFile, 'utf8').trim();
      env.API_KEYS = printedKey;
    }

    const configPath = resolve(env.BACKUP_CONFIG ?? 'backup.config.yaml');
    const fileDoc = existsSync(configPath) ? ((parse(readFileSync(configPath, 'utf8')) ?? {}) as Record<string, unknown>) : {};
    const sources = (fileDoc.sources ?? {}) as Record<string, unknown>;
    if (Object.keys(sources).length === 0 && pgService) {
      const demoUrl = await ensureDemoDatabase(pgService);
      const td = await startTdDemo();
      started.push(td);
      fileDoc.sources = { demo: { kind: 'postgres', url: demoUrl }, 'td-demo': { kind: 'tdengine', url: td.url } };
      log.info(
        'no sources configured: added "demo", a sample database on the private PostgreSQL, and "td-demo", a TDengine REST test server (in memory, reseeded at each start)',
      );
    }
    const config = loadConfig({ env, yamlText: stringify(fileDoc) });
    const platform = await createPlatform(config, log);
    const runtime = startWorkers(platform);
    const app = await buildApp({ platform });
    const sync = await startScheduleSync(platform);
    closeWithGrace({ delay: (config.workers.shutdownGraceSeconds + 10) * 1000 }, async ({ signal, err }) => {
      if (err) log.error({ err }, 'stopping after error');
      else log.info({ signal }, 'stopping');
      sync.stop();
      await app.close();
      await runtime.close();
      await platform.close();
      await stopServices();
    });
    const address = await app.listen({ host: config.server.host, port: config.server.port });
    const lines = [
      '',
      `  API        ${address}/v1   (Authorization: Bearer <key>)`,
      `  docs       ${address}/docs`,
      `  dashboard  ${address}/admin/queues   (any user name, the key as password)`,
      `  storage    ${redactUrl(config.storage.url)}`,
      `  sources    ${Object.keys(config.sources).join(', ') || '(none: add them to backup.config.yaml)'}`,
      printedKey ? `  API key    ${printedKey}   (kept in ./data/local/api-key)` : '  API key    from API_KEYS',
      '',
      `  try:  export BK_API_KEY=${printedKey ?? '<your key>'} BK_API_URL=${address}`,
      '        npx backupctl backup demo --type database --wait',
      '        npx backupctl backup td-demo --type full --wait',
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (e) {
    await stopServices();
    if (e instanceof ConfigError) {
      log.fatal(e.message);
      process.exit(2);
    }
    throw e;
  }
}

async function ensureDatabase(pgService: PostgresService, name: string): Promise<string> {
  const url = pgService.urlFor(name);
  try {
    return await pgService.createDatabase(name);
  } catch (e) {
    if (/already exists/.test((e as Error).message)) return url;
    throw e;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bk: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

import type { Db } from '@bk/catalog';
import { createDb, migrate } from '@bk/catalog';
import { type Config, type Keyring, type Logger, type QueueSet, createKeyring, createQueueSet, createRedis } from '@bk/core';
import { type ObjectStore, type StorageConfig, createObjectStore } from '@bk/storage';
import type { Redis } from 'ioredis';
import { type SourceRegistry, createSourceRegistry } from './sources.ts';

export interface Platform {
  config: Readonly<Config>;
  db: Db;
  store: ObjectStore;
  /** Producer-side Redis connection (fails fast). */
  redis: Redis;
  queues: QueueSet;
  sources: SourceRegistry;
  keyring: Keyring;
  log: Logger;
  close(): Promise<void>;
}

export function storageConfigOf(cfg: Pick<Config, 'storage'>): StorageConfig {
  const url = cfg.storage.url;
  if (url.startsWith('file://')) return { kind: 'file', root: decodeURIComponent(new URL(url).pathname) };
  if (url.startsWith('s3://')) {
    const u = new URL(url);
    const s3 = cfg.storage.s3;
    return {
      kind: 's3',
      bucket: u.hostname,
      prefix: decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, '')),
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      region: s3.region,
      ...(s3.accessKeyId ? { accessKeyId: s3.accessKeyId } : {}),
      ...(s3.secretAccessKey ? { secretAccessKey: s3.secretAccessKey } : {}),
      forcePathStyle: s3.forcePathStyle,
      partSize: s3.partSizeMiB * 1024 * 1024,
      queueSize: s3.queueSize,
    };
  }
  throw new Error(`storage.url: must be s3://bucket/prefix or file:///absolute/path`);
}

/**
 * Connects the shared services. Requires the Redis and catalog URLs to be resolved (the
 * quick start fills them in by starting private instances before calling this). Runs the
 * catalog migrations (idempotent, under an advisory lock).
 */
export async function createPlatform(config: Readonly<Config>, log: Logger): Promise<Platform> {
  if (!config.redis.url) throw new Error('redis.url (REDIS_URL) is required');
  if (!config.catalog.url) throw new Error('catalog.url (CATALOG_DATABASE_URL) is required');
  const keyring = createKeyring(config.encryption);
  await migrate(config.catalog.url);
  const db = createDb(config.catalog.url);
  const store = createObjectStore(storageConfigOf(config));
  const redis = createRedis(config.redis.url, 'producer');
  const queues = createQueueSet(redis, config.redis.prefix);
  return {
    config,
    db,
    store,
    redis,
    queues,
    sources: createSourceRegistry(config),
    keyring,
    log,
    async close() {
      await queues.close();
      redis.disconnect();
      await store.close();
      await db.end();
    },
  };
}

import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketName, testNamespace, testServices } from '@bk/test-utils';

// Proves the integration harness: private services are reachable, namespaces are fresh,
// and the file closes what it opens (the leak check in test/setup-leak-check.ts runs after).
describe('integration harness', () => {
  const services = testServices();
  const closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
  });

  it('runs a private Redis', async () => {
    const redis = new Redis(services.redis.url, { protocol: 2, maxRetriesPerRequest: 1 });
    closers.push(() => redis.quit());
    expect(await redis.ping()).toBe('PONG');
    expect(services.redis.url).not.toMatch(/:6379$/);
  });

  it('creates a fresh database on a private PostgreSQL', async () => {
    const url = await services.createDatabase('harness');
    expect(new URL(url).port).not.toBe('5432');
    const client = new pg.Client({ connectionString: url });
    closers.push(() => client.end());
    await client.connect();
    const { rows } = await client.query<{ one: number; db: string }>('SELECT 1 AS one, current_database() AS db');
    expect(rows).toEqual([{ one: 1, db: expect.stringMatching(/^t_harness_[a-z0-9]{6}$/) }]);
  });

  it('creates a fresh bucket on a private S3 (Swift)', async () => {
    const bucket = await services.createBucket('harness');
    expect(bucket).toMatch(/^t-harness-[a-z0-9]{6}$/);
    const { s3 } = services;
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      forcePathStyle: true,
    });
    closers.push(async () => client.destroy());
    const head = await client.send(new HeadBucketCommand({ Bucket: bucket }));
    expect(head.$metadata.httpStatusCode).toBe(200);
  });

  it('makes namespaces that suit a queue prefix, a database and a bucket', () => {
    const ns = testNamespace('Backup Flow: PG/15');
    expect(ns).toMatch(/^t_backup_flow_pg_15_[a-z0-9]{6}$/);
    expect(bucketName(ns)).toMatch(/^t-backup-flow-pg-15-[a-z0-9]{6}$/);
    expect(testNamespace('x'.repeat(100)).length).toBeLessThanOrEqual(63);
    expect(services.redisPrefix('q')).not.toBe(services.redisPrefix('q'));
  });
});

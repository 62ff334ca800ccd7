import { randomInt } from 'node:crypto';
import { inject } from 'vitest';
import { createDatabaseAt } from './postgres.ts';

/** What the integration global setup (`test/global-setup.ts`) provides under `services`. */
export interface ProvidedServices {
  redis: { url: string };
  postgres: { host: string; port: number; user: string; url: string; binDir: string };
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: ProvidedServices;
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function random6(): string {
  let out = '';
  for (let i = 0; i < 6; i++) out += ALPHABET.charAt(randomInt(ALPHABET.length));
  return out;
}

/**
 * A unique id `t_<label>_<random6>` made of `[a-z0-9_]`, at most 49 characters: usable as a
 * BullMQ prefix (no `:`), a PostgreSQL database or schema name without quoting, and, through
 * `bucketName`, an S3 bucket name.
 */
export function testNamespace(label: string): string {
  const safe =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .slice(0, 40)
      .replace(/^_+|_+$/g, '') || 'x';
  return `t_${safe}_${random6()}`;
}

/** The S3 bucket name for a namespace: lowercase letters, digits and hyphens, 3-63 characters. */
export function bucketName(namespace: string): string {
  const name = namespace
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name)) {
    throw new Error(`cannot make a bucket name from namespace ${JSON.stringify(namespace)}`);
  }
  return name;
}

export interface TestServices extends ProvidedServices {
  /** Creates a fresh database on the harness PostgreSQL and returns its superuser URL. */
  createDatabase(label: string): Promise<string>;
  /** Creates a fresh bucket on the harness S3 (Swift) and returns its name. */
  createBucket(label: string): Promise<string>;
  /** A fresh BullMQ prefix. */
  redisPrefix(label: string): string;
}

async function createBucketAt(s3: ProvidedServices['s3'], name: string): Promise<void> {
  // Loaded on demand: most test files never create a bucket.
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** The harness services of an integration test file, with helpers for fresh namespaces. */
export function testServices(): TestServices {
  const services = inject('services');
  return {
    ...services,
    createDatabase: (label) => createDatabaseAt(services.postgres.url, testNamespace(label)),
    async createBucket(label) {
      const name = bucketName(testNamespace(label));
      await createBucketAt(services.s3, name);
      return name;
    },
    redisPrefix: (label) => testNamespace(label),
  };
}

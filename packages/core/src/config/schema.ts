import { z } from 'zod';

/**
 * The one configuration schema. Every key the processes read is here; nothing else reads
 * `process.env`. Secrets (URLs with passwords, API keys, S3 secrets, encryption keys) have
 * no defaults.
 */

const sourceName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'source names are lowercase letters, digits, "-" and "_" (max 63)');

/** Retention policy: shared by schedules and sources (for backups taken by hand). */
export const retentionSchema = z
  .object({
    keepLast: z.number().int().min(1).optional(),
    maxAgeDays: z.number().int().min(1).optional(),
    maxCount: z.number().int().min(1).optional(),
    hourly: z.number().int().min(1).optional(),
    daily: z.number().int().min(1).optional(),
    weekly: z.number().int().min(1).optional(),
    monthly: z.number().int().min(1).optional(),
    yearly: z.number().int().min(1).optional(),
  })
  .strict();
export type Retention = z.infer<typeof retentionSchema>;

const postgresSource = z
  .object({
    kind: z.literal('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    /** RPO target in minutes (how old the newest good backup may be). */
    rpoTargetMinutes: z.number().int().positive().optional(),
    /** RTO target in minutes (how long a restore may take). */
    rtoTargetMinutes: z.number().int().positive().optional(),
    /** At most this many export jobs of this source run at once across all workers. */
    maxConcurrentExports: z.number().int().positive().optional(),
    /** Bytes per second read from this source, shared by all workers (protects production). */
    maxBytesPerSecond: z.number().int().min(65536).optional(),
    /** Retention of this source's backups taken by hand (scheduled ones follow their schedule). */
    retention: retentionSchema.optional(),
    /**
     * Point-in-time recovery: WAL streamed continuously into storage by the worker fleet
     * (one streamer per source, through a physical replication slot), physical base backups
     * (`type: base`), restores to any second of the recovery window. Needs wal_level=replica
     * (or logical), max_wal_senders and max_replication_slots >= 1, and a role with
     * REPLICATION in `url`.
     */
    pitr: z
      .object({
        enabled: z.boolean().default(false),
        /** The physical replication slot (default `bk_<source>`, "-" as "_"). The server keeps WAL until it is stored. */
        slot: z
          .string()
          .regex(/^[a-z0-9_]{1,63}$/, 'slot names are lowercase letters, digits and "_" (max 63)')
          .optional(),
        /** The WAL segment being written is stored this often (and the recovery point moves) when it has new bytes. */
        partialUploadSeconds: z.number().int().min(1).max(300).default(15),
        /**
         * The recovery window kept by cleanup: base backups older than this are deleted once a
         * newer one covers the window, and WAL older than the oldest kept base backup with them.
         */
        windowDays: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The replication slot of a PITR source (`pitr.slot`, default `bk_<source>`). */
export function pitrSlotOf(name: string, source: { pitr?: { slot?: string | undefined } | undefined }): string {
  return source.pitr?.slot ?? `bk_${name.replace(/-/g, '_')}`.slice(0, 63);
}

const tdengineSource = z
  .object({
    kind: z.literal('tdengine'),
    url: z.string().regex(/^https?:\/\//, 'must be an http(s):// URL of the REST endpoint (taosAdapter)'),
    rpoTargetMinutes: z.number().int().positive().optional(),
    rtoTargetMinutes: z.number().int().positive().optional(),
    maxConcurrentExports: z.number().int().positive().optional(),
    maxBytesPerSecond: z.number().int().min(65536).optional(),
    retention: retentionSchema.optional(),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion('kind', [postgresSource, tdengineSource]);

export const codecSchema = z.enum(['zstd', 'gzip', 'none']);
export type Codec = z.infer<typeof codecSchema>;

const compression = z
  .object({ codec: codecSchema.default('zstd'), level: z.number().int().optional() })
  .strict()
  .superRefine((c, ctx) => {
    if (c.level === undefined) return;
    const [min, max] = LEVEL_RANGES[c.codec];
    if (c.level < min || c.level > max)
      ctx.addIssue({ code: 'custom', path: ['level'], message: `${c.codec} level must be ${min}..${max}` });
  });

export const LEVEL_RANGES: Record<Codec, readonly [number, number]> = {
  zstd: [1, 19],
  gzip: [1, 9],
  none: [0, 0],
};
export const DEFAULT_LEVEL: Record<Codec, number> = { zstd: 3, gzip: 6, none: 0 };

const concurrency = z
  .object({
    coordinate: z.number().int().positive().default(4),
    export: z.number().int().positive().default(2),
    finalize: z.number().int().positive().default(2),
    restore: z.number().int().positive().default(2),
    maintenance: z.number().int().positive().default(1),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Public base URL printed at start-up (defaults to http://host:port). */
        publicUrl: z.string().url().optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .optional(),
        /** BullMQ key prefix; hash-tagged so every queue lives in one Redis Cluster slot. */
        prefix: z
          .string()
          .regex(/^[^:\s]+$/, 'must not contain ":" or spaces')
          .default('{bk}'),
      })
      .strict()
      .default({ prefix: '{bk}' }),
    catalog: z
      .object({
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .optional(),
      })
      .strict()
      .default({}),
    storage: z
      .object({
        url: z.string().default('file://./data/backups'),
        s3: z
          .object({
            endpoint: z.string().url().optional(),
            region: z.string().default('us-east-1'),
            accessKeyId: z.string().optional(),
            secretAccessKey: z.string().optional(),
            forcePathStyle: z.boolean().default(false),
            partSizeMiB: z.number().int().min(5).max(512).default(8),
            queueSize: z.number().int().min(1).max(16).default(2),
          })
          .strict()
          .default({ region: 'us-east-1', forcePathStyle: false, partSizeMiB: 8, queueSize: 2 }),
      })
      .strict()
      .default({
        url: 'file://./data/backups',
        s3: { region: 'us-east-1', forcePathStyle: false, partSizeMiB: 8, queueSize: 2 },
      }),
    auth: z
      .object({
        /** Bootstrap API keys with every scope. */
        apiKeys: z.array(z.string().min(16, 'API keys must be at least 16 characters')).default([]),
      })
      .strict()
      .default({ apiKeys: [] }),
    workers: z
      .object({
        concurrency: concurrency.default({ coordinate: 4, export: 2, finalize: 2, restore: 2, maintenance: 1 }),
        /** BullMQ lock duration; a killed worker's job is retried after about this long. */
        lockDurationMs: z.number().int().min(1000).default(30000),
        stalledIntervalMs: z.number().int().min(500).default(15000),
        attempts: z.number().int().min(1).max(20).default(5),
        backoffMs: z.number().int().min(100).default(2000),
        /**
         * Queues this worker process consumes (default: all). Lets a deployment dedicate
         * processes, e.g. coordinators (which hold PostgreSQL snapshots) apart from exports.
         */
        queues: z
          .array(z.enum(['coordinate', 'export', 'restore', 'finalize', 'maintenance']))
          .min(1)
          .optional(),
        /** Seconds a SIGTERM-ed worker waits for jobs to hand back before exiting. */
        shutdownGraceSeconds: z.number().int().min(1).default(20),
      })
      .strict()
      .default({
        concurrency: { coordinate: 4, export: 2, finalize: 2, restore: 2, maintenance: 1 },
        lockDurationMs: 30000,
        stalledIntervalMs: 15000,
        attempts: 5,
        backoffMs: 2000,
        shutdownGraceSeconds: 20,
      }),
    compression: compression.default({ codec: 'zstd' }),
    postgres: z
      .object({
        /** Tables larger than this are exported by several jobs (ctid block ranges). */
        chunkMiB: z.number().int().min(1).default(256),
        /** Directory holding pg_dump/pg_restore; default: newest /usr/lib/postgresql/N/bin, then PATH. */
        binDir: z.string().optional(),
        /**
         * Restores build the post-data section (indexes, constraints, foreign keys) with
         * `pg_restore --jobs` this many at once; 1: in one transaction, one at a time.
         */
        postDataJobs: z.number().int().min(1).max(32).default(2),
        /**
         * Restores: a plain table loaded whole by one job gets its indexes and primary/unique
         * keys built by a job that follows its load and runs only when no load is waiting,
         * so they overlap the last loads (as pg_restore -j does); the rest of post-data
         * follows all loads. false: all of post-data after the loads.
         */
        earlyIndexes: z.boolean().default(true),
        /**
         * Early index builds only for tables of at least this many MiB of COPY text: each
         * such job reads the post-data archive and runs pg_restore, which for a small table
         * costs more than its indexes; the finalize step builds those, in parallel.
         */
        earlyIndexMiB: z.number().min(0).default(16),
        /**
         * COPY format of the data objects. `auto`: PostgreSQL's binary format for tables whose
         * every column has a built-in type that it carries exactly (their restores cost the
         * server about half the CPU), text for the others; `text`: text for every table, as
         * pg_dump writes it (readable with zstd -d, loadable into altered column types).
         */
        copyFormat: z.enum(['auto', 'text']).default('auto'),
        /**
         * Point-in-time recovery: a worker holds a source's WAL streamer under a Redis lock of
         * this many seconds, renewed every third of it; when the worker dies another takes
         * the stream over within about this long (the replication slot keeps the WAL meanwhile).
         */
        walLockSeconds: z.number().int().min(2).max(600).default(15),
        /** Where point-in-time restores build their temporary recovery cluster (default: the OS temp directory). */
        recoveryDir: z.string().optional(),
      })
      .strict()
      .default({ chunkMiB: 256, postDataJobs: 2, earlyIndexes: true, earlyIndexMiB: 16, copyFormat: 'auto', walLockSeconds: 15 }),
    tdengine: z
      .object({
        /** Child tables of one super table exported (and restored) by one job, in one object. */
        childTablesPerJob: z.number().int().min(1).max(100000).default(100),
        /** Rows per REST page (keyset paging; each page asks for one more row): keep it below the server's restfulRowLimit. */
        pageSize: z.number().int().min(1).max(1000000).default(10000),
        /** Incremental windows start this far before the previous cut, to catch late rows. */
        lookbackMinutes: z.number().int().min(0).default(60),
        /** Upper bound of one INSERT statement (TDengine refuses SQL over 1 MiB). */
        maxStatementKiB: z.number().int().min(1).max(1000).default(900),
        /** INSERT statements in flight per restore job. */
        importConcurrency: z.number().int().min(1).max(16).default(2),
        /** Deadline of one REST request. */
        requestTimeoutSeconds: z.number().int().min(1).default(120),
        /**
         * A backup is cut this long before it starts, so rows delivered a little late by live
         * ingestion are already in when their table is read (a row landing inside the window
         * during the export fails its COUNT(*) check, and the batch is read again).
         */
        cutDelaySeconds: z.number().int().min(0).default(10),
      })
      .strict()
      .default({
        childTablesPerJob: 100,
        pageSize: 10000,
        lookbackMinutes: 60,
        maxStatementKiB: 900,
        importConcurrency: 2,
        requestTimeoutSeconds: 120,
        cutDelaySeconds: 10,
      }),
    encryption: z
      .object({
        /**
         * Master keys by id, each 32 bytes in base64 (use `${ENV}` interpolation). Backups are
         * encrypted by default when a key is configured; new backups use `activeKeyId`
         * (default: the last key listed), older backups stay readable while their key is here.
         */
        keys: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'key ids are letters, digits, ".", "_", "-"'), z.string()).default({}),
        activeKeyId: z.string().optional(),
        /** A JSON file `{ "<id>": "<base64 key>" }` merged with `keys`. */
        keyFile: z.string().optional(),
      })
      .strict()
      .default({ keys: {} }),
    notifications: z
      .object({
        /** Webhooks told about every backup, restore and missed schedule; signed when a secret is set. */
        webhooks: z.array(z.object({ url: z.string().url(), secret: z.string().min(16).optional() }).strict()).default([]),
        /**
         * Hosts (names or addresses) webhooks may reach although they are, or resolve to,
         * loopback, private, link-local or other internal addresses; every other such
         * target is refused.
         */
        allowedHosts: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ webhooks: [], allowedHosts: [] }),
    throttle: z
      .object({
        /** Bytes per second read from all sources together, shared by all workers. */
        totalBytesPerSecond: z.number().int().min(65536).optional(),
      })
      .strict()
      .default({}),
    cleanup: z
      .object({
        /** Failed and cancelled backups (and their leftover objects) are removed after this many days. */
        failedBackupRetentionDays: z.number().int().min(0).default(7),
        /** Multipart uploads started longer ago than this and never completed are aborted. */
        abandonedUploadHours: z.number().int().min(1).default(24),
      })
      .strict()
      .default({ failedBackupRetentionDays: 7, abandonedUploadHours: 24 }),
    sources: z.record(sourceName, sourceSchema).default({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type SourceKind = SourceConfig['kind'];

import { z } from 'zod';
import { codecSchema } from './config/schema.ts';

/**
 * The one job catalog: queues, job names, payload schemas, job ids and default options,
 * shared by the producers (API, coordinators) and the consumers (workers). Payloads carry
 * ids and names only, never credentials: a worker resolves a source name to its URL from
 * its own configuration. Workers re-validate every payload they take from Redis.
 */
export const QUEUES = ['coordinate', 'export', 'restore', 'finalize', 'maintenance'] as const;
export type QueueName = (typeof QUEUES)[number];

const id = z.string().regex(/^[a-z]{2}_[0-9a-f]{22}$/);
const compression = z.object({ codec: codecSchema, level: z.number().int() }).strict();
const epoch = z.string().regex(/^-?\d{1,20}$/);
const tdColumn = z.object({ name: z.string(), type: z.string() }).strict();
const pgTable = z.object({ schema: z.string(), name: z.string(), columns: z.array(z.string()) }).strict();

export const jobPayloads = {
  /** Opens the snapshot, writes the schema, fans out exports, holds the snapshot until done. */
  'backup.coordinate': z.object({ backupId: id }).strict(),
  /** One table, or one ctid block range of a big table, of a PostgreSQL backup. */
  'export.pg-table': z
    .object({
      backupId: id,
      source: z.string(),
      database: z.string(),
      snapshotId: z.string(),
      objectKey: z.string(),
      table: pgTable,
      chunk: z
        .object({ index: z.number().int(), count: z.number().int(), fromBlock: z.number().int(), toBlock: z.number().int().nullable() })
        .strict()
        .optional(),
      compression,
      /** COPY format of the object (its catalog format); absent: text (jobs of older versions). */
      copyFormat: z.enum(['text', 'binary']).optional(),
    })
    .strict(),
  /**
   * TDengine: the rows of a batch of child tables of one super table (or of normal tables)
   * in the backup's window, as one td-batch object. The window is epochs in the database
   * precision, as decimal strings (64-bit).
   */
  'export.td-batch': z
    .object({
      backupId: id,
      source: z.string(),
      database: z.string(),
      objectKey: z.string(),
      stable: z.string().nullable(),
      /** The data columns of a super table's children (shared); normal tables carry their own. */
      columns: z.array(tdColumn).optional(),
      /** `whole`: a table the parent backup did not hold, read from its first row. */
      tables: z
        .array(z.object({ name: z.string(), columns: z.array(tdColumn).optional(), whole: z.literal(true).optional() }).strict())
        .min(1),
      precision: z.enum(['ms', 'us', 'ns']),
      window: z.object({ from: epoch.nullable(), to: epoch, newFrom: epoch.nullable() }).strict(),
      compression,
    })
    .strict(),
  /** Runs when every export of the backup succeeded: writes the manifest, marks success. */
  'backup.finalize': z.object({ backupId: id }).strict(),
  /** Plans a restore, checks targets, applies pre-data DDL and fans out the data loads. */
  'restore.coordinate': z.object({ restoreId: id }).strict(),
  /**
   * Loads one data object; with `objectKeys`, every chunk of one table (objectKey is the
   * first), in order, in one transaction.
   */
  'restore.pg-table': z.object({ restoreId: id, objectKey: z.string(), objectKeys: z.array(z.string()).min(2).optional() }).strict(),
  /**
   * Builds the indexes and primary/unique keys of the table one load job filled (the table
   * of `objectKey`), once that load is done and no other load is waiting (its child in the
   * flow, and a lower priority than loads).
   */
  'restore.pg-indexes': z.object({ restoreId: id, objectKey: z.string() }).strict(),
  /** TDengine: loads one td-batch object (of any backup of the restore's chain). */
  'restore.td-batch': z.object({ restoreId: id, backupId: id, objectKey: z.string() }).strict(),
  /** TDengine chains: runs when every load of one backup of the chain is done (a barrier). */
  'restore.stage': z.object({ restoreId: id, stage: z.number().int().min(0) }).strict(),
  /** Post-data DDL, sequences, row-count checks, record the outcome. */
  'restore.finalize': z.object({ restoreId: id }).strict(),
  /** Re-reads every object of a backup and records `verified` or `corrupted`. */
  'backup.verify': z.object({ backupId: id, requestedBy: z.string().optional() }).strict(),
  /** Produced by a job scheduler: starts one scheduled run (a backup or a cleanup). */
  'schedule.run': z.object({ scheduleId: id }).strict(),
  /** Periodic: finds schedules that missed a run and notifies once per miss. */
  'schedule.check': z.object({}).strict(),
  /** Applies retention and removes leftovers; `source` limits it to one source. */
  'cleanup.run': z.object({ source: z.string().optional(), requestedBy: z.string().optional() }).strict(),
  /** Delivers one event to one webhook (retried with backoff; never fails a backup). */
  'notify.webhook': z
    .object({
      target: z.union([
        z.object({ kind: z.literal('config'), index: z.number().int().min(0) }).strict(),
        z.object({ kind: z.literal('schedule'), scheduleId: id, index: z.number().int().min(0) }).strict(),
      ]),
      event: z.object({ type: z.string(), id: z.string(), at: z.string(), data: z.record(z.string(), z.unknown()) }).strict(),
    })
    .strict(),
} as const;

export type JobName = keyof typeof jobPayloads;
export type JobPayload<N extends JobName> = z.infer<(typeof jobPayloads)[N]>;

export const JOB_QUEUE = {
  'backup.coordinate': 'coordinate',
  'export.pg-table': 'export',
  'export.td-batch': 'export',
  'backup.finalize': 'finalize',
  'restore.coordinate': 'coordinate',
  'restore.pg-table': 'restore',
  'restore.pg-indexes': 'restore',
  'restore.td-batch': 'restore',
  'restore.stage': 'finalize',
  'restore.finalize': 'finalize',
  'backup.verify': 'maintenance',
  'schedule.run': 'maintenance',
  'schedule.check': 'maintenance',
  'cleanup.run': 'maintenance',
  'notify.webhook': 'maintenance',
} as const satisfies Record<JobName, QueueName>;

/**
 * Deterministic job ids from the business key: re-adding an existing id is a no-op in
 * BullMQ, which makes enqueueing idempotent. (No ":" allowed in custom ids.)
 */
export const jobIds = {
  backupCoordinate: (backupId: string) => `coord-${backupId}`,
  backupExport: (backupId: string, n: number) => `exp-${backupId}-${n}`,
  backupFinalize: (backupId: string) => `fin-${backupId}`,
  restoreCoordinate: (restoreId: string) => `coord-${restoreId}`,
  restoreTable: (restoreId: string, n: number) => `load-${restoreId}-${n}`,
  /** The early index build of the table that load job `n` fills. */
  restoreIndexes: (restoreId: string, n: number) => `idx-${restoreId}-${n}`,
  restoreFinalize: (restoreId: string) => `fin-${restoreId}`,
  /** A chain restore's barrier after the loads of its backup number `stage`. */
  restoreStage: (restoreId: string, stage: number) => `stage-${restoreId}-${stage}`,
  /** BullMQ job scheduler ids (one per schedule, plus the periodic missed-run check). */
  scheduler: (scheduleId: string) => `schedule-${scheduleId}`,
  schedulerCheck: 'schedule-check',
  /** One cleanup at a time: a second request while one is queued joins it. */
  cleanup: (source: string | undefined) => `cleanup-${source ?? 'all'}`,
  webhook: (eventId: string, target: string) => `hook-${eventId}-${target}`,
  verify: (backupId: string) => `verify-${backupId}-${Date.now()}`,
} as const;

/** Coordinators must not be retried blindly: a second snapshot would mix states. */
export const NO_RETRY_JOBS: ReadonlySet<JobName> = new Set(['backup.coordinate', 'restore.coordinate', 'schedule.check']);

/** Webhook deliveries retry longer than other jobs: a receiver may be down for a while. */
export const WEBHOOK_ATTEMPTS = 8;

export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  return jobPayloads[name].parse(data) as JobPayload<N>;
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobPayloads, name);
}

import { ID_PATTERN, backupTypeSchema, codecSchema } from '@bk/core';
import { z } from 'zod';

/** Request and response schemas of the HTTP API (one type provider: zod). */

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

const name = z.string().min(1).max(255);
export const idParam = z.object({ id: z.string().regex(ID_PATTERN, 'not a valid id') });

export { backupTypeSchema };
export const backupStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

export const createBackupBody = z
  .object({
    source: name,
    type: backupTypeSchema,
    databases: z.array(name).min(1).max(1000).optional(),
    tables: z.array(z.string().min(1).max(400)).min(1).max(10000).optional(),
    compression: z.object({ codec: codecSchema, level: z.number().int().optional() }).strict().optional(),
    /** Default: encrypt when an encryption key is configured. */
    encrypt: z.boolean().optional(),
    /** type "incremental" with nothing to build on: take a full (or database/table) backup instead of answering 400. */
    fullIfMissing: z.boolean().optional(),
    /** TDengine: the cut (default: when the backup starts); rows at or after it are counted and reported, not backed up. */
    asOf: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const acceptedSchema = z.object({ id: z.string(), status: z.string() });

const tableSummary = z.object({
  name: z.string(),
  database: z.string(),
  status: z.enum(['pending', 'running', 'succeeded', 'failed']),
  rows: z.number().nullable(),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().optional(),
  objects: z.array(
    z.object({
      key: z.string(),
      status: z.string(),
      rows: z.number().nullable(),
      bytes: z.number().nullable(),
      sha256: z.string().nullable(),
    }),
  ),
});

export const backupSchema = z.object({
  id: z.string(),
  status: backupStatusSchema,
  source: z.string(),
  type: backupTypeSchema,
  scope: z.object({ databases: z.array(z.string()).optional(), tables: z.array(z.string()).optional() }),
  compression: z.object({ codec: codecSchema, level: z.number() }),
  encryption: z.object({ keyId: z.string() }).nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  rows: z.number(),
  bytes: z.number(),
  rawBytes: z.number(),
  error: z.string().optional(),
  manifestKey: z.string().nullable(),
  pinned: z.boolean(),
  tables: z.array(tableSummary),
  verification: z.record(z.string(), z.unknown()).optional(),
});

export const backupListItem = backupSchema.omit({ tables: true });
export const backupListSchema = z.object({ items: z.array(backupListItem), nextCursor: z.string().nullable() });
export const deletedSchema = z.object({ id: z.string(), deleted: z.boolean(), objects: z.number() });

export const listBackupsQuery = z
  .object({
    source: name.optional(),
    type: backupTypeSchema.optional(),
    status: backupStatusSchema.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(ID_PATTERN, 'invalid cursor').optional(),
  })
  .strict();

export const createRestoreBody = z
  .object({
    backupId: z.string().regex(ID_PATTERN, 'not a valid backup id').optional(),
    source: name.optional(),
    targetTime: z.iso.datetime({ offset: true }).optional(),
    databases: z.array(name).min(1).max(1000).optional(),
    tables: z.array(z.string().min(1).max(400)).min(1).max(10000).optional(),
    targetDatabase: z
      .string()
      .min(1)
      .refine((s) => Buffer.byteLength(s) <= 63 && !s.includes('\0'), 'database names are at most 63 bytes, without NUL')
      .optional(),
    dryRun: z.boolean().default(false),
    mode: z.enum(['fail-if-exists', 'replace']).default('fail-if-exists'),
    confirm: z.boolean().default(false),
    force: z.boolean().default(false),
  })
  .strict();

export const restoreSchema = z.object({
  id: z.string(),
  backupId: z.string(),
  source: z.string(),
  status: backupStatusSchema,
  dryRun: z.boolean(),
  mode: z.enum(['fail-if-exists', 'replace']),
  targetDatabase: z.string().nullable(),
  requestedBy: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  rows: z.number(),
  error: z.string().optional(),
  plan: z.record(z.string(), z.unknown()).nullable(),
  replaced: z.record(z.string(), z.unknown()).nullable(),
  tables: z.array(
    z.object({
      name: z.string(),
      database: z.string(),
      objectKey: z.string(),
      status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
      rows: z.number().nullable(),
      expectedRows: z.number(),
      error: z.string().optional(),
    }),
  ),
});

export const listRestoresQuery = z
  .object({
    backupId: z.string().regex(ID_PATTERN).optional(),
    status: backupStatusSchema.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(ID_PATTERN, 'invalid cursor').optional(),
  })
  .strict();

export const sourceNameParam = z.object({ name });

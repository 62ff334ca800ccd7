import { z } from 'zod';
import { backupTypeSchema } from './backup-types.ts';
import { codecSchema } from './config/schema.ts';

/**
 * The manifest: written last, beside the objects, it makes a backup self-describing
 * (restore, verification and catalog rebuild need nothing else). Versioned: readers accept
 * every format version they know and refuse newer ones by name.
 */
export const MANIFEST_FORMAT = 'bk-backup-manifest';
/**
 * The newest format version this software reads and writes. 2 added data objects in
 * PostgreSQL's binary COPY format (`pg-copy-binary`); a manifest without any is still
 * written as version 1, so older readers keep reading the backups they can restore and
 * refuse, by version, the ones they cannot. 3 added physical base backups (type `base`, one
 * object of format `pg-basebackup-tar`, `consistency.physical`).
 */
export const MANIFEST_VERSION = 3;

/** Payload formats of PostgreSQL data objects (ManifestObject.format). */
export const PG_COPY_TEXT = 'pg-copy-text';
export const PG_COPY_BINARY = 'pg-copy-binary';
/** The payload of a base backup's one object: the cluster as pg_basebackup's tar (WAL of the backup in pg_wal/). */
export const PG_BASEBACKUP_TAR = 'pg-basebackup-tar';

/** The format version a manifest with these objects needs (see MANIFEST_VERSION). */
export function manifestVersionFor(objects: readonly { format: string }[]): number {
  if (objects.some((o) => o.format === PG_BASEBACKUP_TAR)) return 3;
  return objects.some((o) => o.format === PG_COPY_BINARY) ? 2 : 1;
}

// memberBytes (gzip written by libdeflate): every gzip member holds at most that many bytes,
// which lets a reader decompress member by member; readers that ignore it read plain gzip.
// Capped at 1 GiB, as the binding that reads it is: a larger value is a bad manifest, not corrupt data.
const compressionSchema = z.object({
  codec: codecSchema,
  level: z.number().int(),
  memberBytes: z
    .number()
    .int()
    .positive()
    .max(2 ** 30)
    .optional(),
});

export const manifestObjectSchema = z.object({
  /** Storage key, relative to the store root. */
  key: z.string(),
  /** `data`: table rows; `schema-pre`/`schema-post`: DDL sections; `ddl`: TDengine DDL. */
  kind: z.enum(['data', 'schema-pre', 'schema-post', 'ddl', 'base']),
  database: z.string(),
  /** PostgreSQL: `schema.table` display name; TDengine: table or super table. */
  table: z.string().optional(),
  /** Exact identifiers, so nothing has to be parsed back out of display names. */
  schemaName: z.string().optional(),
  tableName: z.string().optional(),
  columns: z.array(z.string()).optional(),
  chunk: z
    .object({ index: z.number().int(), count: z.number().int(), fromBlock: z.number().int(), toBlock: z.number().int().nullable() })
    .optional(),
  /**
   * The tables inside a multi-table object (TDengine td-batch: child tables of `table`, the
   * super table, or normal tables), with their rows each; `rows` is their sum. `newRows`:
   * the rows stamped from the parent backup's cut on (all rows in a base backup, or in a
   * table the parent did not hold), which no other backup of the chain holds.
   */
  members: z.array(z.object({ table: z.string(), rows: z.number().int(), newRows: z.number().int().optional() })).optional(),
  /**
   * Format of the raw payload: `pg-copy-text` (COPY text format), `pg-copy-binary` (COPY
   * binary format), `pg-dump-custom`, `td-batch-jsonl`, `td-ddl-jsonl`.
   */
  format: z.string(),
  rows: z.number().int(),
  rawBytes: z.number().int(),
  bytes: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  compression: compressionSchema,
  encrypted: z.boolean(),
});
export type ManifestObject = z.infer<typeof manifestObjectSchema>;

export const sequenceStateSchema = z.object({
  schema: z.string(),
  name: z.string(),
  lastValue: z.string(),
  isCalled: z.boolean(),
});
export type SequenceState = z.infer<typeof sequenceStateSchema>;

export const physicalConsistencySchema = z.object({
  startLsn: z.string(),
  stopLsn: z.string(),
  timeline: z.number().int(),
  consistentAt: z.string(),
  systemIdentifier: z.string(),
  walSegmentSize: z.number().int(),
});
export type PhysicalConsistency = z.infer<typeof physicalConsistencySchema>;

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.number().int(),
  backupId: z.string(),
  source: z.object({ name: z.string(), kind: z.enum(['postgres', 'tdengine']), serverVersion: z.string() }),
  type: backupTypeSchema,
  scope: z.object({ databases: z.array(z.string()).optional(), tables: z.array(z.string()).optional() }),
  startedAt: z.string(),
  completedAt: z.string(),
  /** PostgreSQL: the exported snapshot per database. TDengine: the "as of" cut. */
  consistency: z.object({
    snapshots: z.record(z.string(), z.string()).optional(),
    asOf: z.string().optional(),
    /**
     * A base backup: where it starts and ends in the WAL, on which timeline, and the server
     * time once it was complete (the earliest moment it can be recovered to).
     */
    physical: physicalConsistencySchema.optional(),
  }),
  chain: z.object({ baseBackupId: z.string(), parentBackupId: z.string(), windowStart: z.string(), windowEnd: z.string() }).optional(),
  encryption: z.object({ algorithm: z.literal('aes-256-gcm-segmented-v1'), keyId: z.string(), wrappedDataKey: z.string() }).optional(),
  databases: z.array(
    z.object({
      name: z.string(),
      sequences: z.array(sequenceStateSchema).optional(),
      options: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  objects: z.array(manifestObjectSchema),
  totals: z.object({ objects: z.number().int(), rows: z.number().int(), rawBytes: z.number().int(), bytes: z.number().int() }),
});
export type Manifest = z.infer<typeof manifestSchema>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function parseManifest(text: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${where}: manifest is not valid JSON: ${(e as Error).message}`);
  }
  const head = z.object({ format: z.string(), formatVersion: z.number() }).safeParse(json);
  if (!head.success || head.data.format !== MANIFEST_FORMAT) throw new ManifestError(`${where}: not a ${MANIFEST_FORMAT} document`);
  if (head.data.formatVersion > MANIFEST_VERSION)
    throw new ManifestError(
      `${where}: manifest format version ${head.data.formatVersion} is newer than this software reads (${MANIFEST_VERSION}); upgrade`,
    );
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new ManifestError(`${where}: invalid manifest: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  return parsed.data;
}

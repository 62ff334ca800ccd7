import { z } from 'zod';

/**
 * The types of backup, declared once (API schemas, manifest, catalog rows read from here).
 * `full`/`database`/`table`: logical backups of both kinds; `incremental`: TDengine chains;
 * `base`: a physical base backup of a PostgreSQL source with point-in-time recovery.
 */
export const BACKUP_TYPES = ['full', 'database', 'table', 'incremental', 'base'] as const;
export const backupTypeSchema = z.enum(BACKUP_TYPES);
export type BackupType = z.infer<typeof backupTypeSchema>;

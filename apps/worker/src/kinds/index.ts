import type { BackupRecord, RestoreRecord } from '@bk/catalog';
import { type Flavour, flavourOf, restoreFlavourOf } from '@bk/core';
import type { Platform } from '@bk/platform';
import { pgPhysicalKind } from './pg-physical/index.ts';
import { postgresKind } from './postgres/index.ts';
import { tdengineKind } from './tdengine/index.ts';
import type { KindWorker } from './types.ts';

/**
 * One entry per flavour of backup; the type check fails when a flavour has none. A new
 * kind (or flavour of a kind) is a folder beside these and one line here.
 */
export const kinds = {
  postgres: postgresKind,
  tdengine: tdengineKind,
  'pg-physical': pgPhysicalKind,
} satisfies { [F in Flavour]: KindWorker };

/** The flavour of a backup, from its record alone. */
export function flavourOfBackup(backup: Pick<BackupRecord, 'sourceKind' | 'type'>): Flavour {
  return flavourOf(backup.sourceKind, backup.type);
}

/**
 * The flavour of a restore: its source's kind from this worker's configuration (an unknown
 * source cannot be fixed by retrying), and what the request asked for.
 */
export function flavourOfRestore(platform: Pick<Platform, 'sources'>, restore: Pick<RestoreRecord, 'source' | 'request'>): Flavour {
  return restoreFlavourOf(platform.sources.forJob(restore.source).kind, restore.request);
}

export type { KindWorker } from './types.ts';
export { dropDrillDatabase } from './scratch.ts';

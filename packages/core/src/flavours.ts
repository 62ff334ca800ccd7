import type { SourceKind } from './config/schema.ts';

/**
 * The flavours of backup the system knows: each has one module in the worker
 * (`apps/worker/src/kinds/`), looked up from one table that the type check keeps complete.
 * A source kind may have more than one flavour: a PostgreSQL source has logical backups
 * (`postgres`) and, with point-in-time recovery, physical base backups and restores to a
 * moment (`pg-physical`).
 */
export const FLAVOURS = ['postgres', 'tdengine', 'pg-physical'] as const;
export type Flavour = (typeof FLAVOURS)[number];

/** The flavour of a backup of this source kind and type. */
export function flavourOf(kind: SourceKind, backupType: string): Flavour {
  if (kind === 'postgres') return backupType === 'base' ? 'pg-physical' : 'postgres';
  return kind;
}

/** The flavour of a restore: a PostgreSQL restore to a moment goes through a recovered base backup. */
export function restoreFlavourOf(kind: SourceKind, request: { pointInTime?: unknown }): Flavour {
  if (kind === 'postgres') return request.pointInTime ? 'pg-physical' : 'postgres';
  return kind;
}

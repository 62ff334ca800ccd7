import type { SourceKind } from './config/schema.ts';

/**
 * The flavours of backup the system knows: each has one module in the worker
 * (`apps/worker/src/kinds/`), looked up from one table that the type check keeps complete.
 * A source kind may have more than one flavour (a PostgreSQL source: logical backups, and
 * physical base backups with WAL once point-in-time recovery lands).
 */
export type Flavour = SourceKind;

/** The flavour of a backup of this source kind and type (a restore: the type it asks for, if any). */
export function flavourOf(kind: SourceKind, _backupType: string | undefined): Flavour {
  return kind;
}

import type { BackupRecord, RestoreRecord } from '@bk/catalog';
import type { SourceConfig } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { HandlerContext } from '../handlers/types.ts';

/**
 * What a kind of backup does in the worker fleet. The job handlers (`handlers/`) load the
 * record, decide the flavour once (`flavourOfBackup`, `flavourOfRestore` in index.ts) and
 * hand over to these functions; nothing else in the worker branches on the source kind.
 * The per-job work a coordinator fans out (exports, loads) has its own job names and
 * handlers, one file each.
 */
export interface KindWorker {
  /**
   * Runs the backup coordinator for a record that is `queued` or `running` (a run after a
   * lost worker sees `running`: each kind decides whether it can resume). Ends the record
   * itself on failure.
   */
  coordinateBackup(platform: Platform, backup: BackupRecord, source: SourceConfig, ctx: HandlerContext): Promise<unknown>;
  /** Plans and starts a restore whose record is `queued` or `running`; ends the record on failure. */
  coordinateRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown>;
  /** After every load of a `running` restore: schema left to apply, row-count check, a drill's comparison. */
  finalizeRestore(platform: Platform, restore: RestoreRecord, ctx: HandlerContext): Promise<unknown>;
}

/** Drops a drill's scratch database on a source of this kind (it holds production data). */
export type ScratchDropper = (platform: Platform, source: SourceConfig, database: string) => Promise<void>;

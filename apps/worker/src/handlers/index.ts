import type { JobName } from '@bk/core';
import { coordinateBackup } from './backup-coordinate.ts';
import { finalizeBackup } from './backup-finalize.ts';
import { exportPgTable } from './export-pg-table.ts';
import { coordinateRestore } from './restore-coordinate.ts';
import { finalizeRestore } from './restore-finalize.ts';
import { restorePgTable } from './restore-pg-table.ts';
import type { Handler } from './types.ts';

/** Every job name has exactly one handler; the type check fails when one is missing. */
export const handlers = {
  'backup.coordinate': coordinateBackup,
  'export.pg-table': exportPgTable,
  'backup.finalize': finalizeBackup,
  'restore.coordinate': coordinateRestore,
  'restore.pg-table': restorePgTable,
  'restore.finalize': finalizeRestore,
} satisfies { [N in JobName]: Handler<N> };

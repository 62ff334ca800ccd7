import type { KindWorker } from '../types.ts';
import { coordinatePgBackup } from './backup.ts';
import { finalizePgRestore } from './finalize.ts';
import { coordinatePgRestore } from './restore.ts';

/** Logical PostgreSQL backups: one exported snapshot per database, COPY per table. */
export const postgresKind: KindWorker = {
  coordinateBackup: coordinatePgBackup,
  coordinateRestore: coordinatePgRestore,
  finalizeRestore: finalizePgRestore,
};

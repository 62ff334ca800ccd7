import { finalizePgRestore } from '../postgres/finalize.ts';
import type { KindWorker } from '../types.ts';
import { coordinateBaseBackup } from './backup.ts';
import { coordinatePitrRestore } from './restore.ts';

/**
 * Point-in-time recovery of PostgreSQL: physical base backups (type `base`) and restores to
 * a moment, which recover a base backup with archived WAL and then load the moment through
 * the logical path, whose finalize step they share. The WAL archive itself is not a job but
 * a streamer elected among the workers (apps/worker/src/pitr/).
 */
export const pgPhysicalKind: KindWorker = {
  coordinateBackup: coordinateBaseBackup,
  coordinateRestore: coordinatePitrRestore,
  finalizeRestore: finalizePgRestore,
};

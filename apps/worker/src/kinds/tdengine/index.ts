import type { KindWorker } from '../types.ts';
import { coordinateTdBackup } from './backup.ts';
import { finalizeTdRestore } from './finalize.ts';
import { coordinateTdRestore } from './restore.ts';

/** TDengine over REST: backups cut at one "as of" time, incremental chains, td-jsonl objects. */
export const tdengineKind: KindWorker = {
  coordinateBackup: coordinateTdBackup,
  coordinateRestore: coordinateTdRestore,
  finalizeRestore: finalizeTdRestore,
};

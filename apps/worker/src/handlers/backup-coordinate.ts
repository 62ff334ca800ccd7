import { getBackup } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { flavourOfBackup, kinds } from '../kinds/index.ts';
import type { Handler } from './types.ts';

/**
 * The backup coordinator: loads the record and hands it to its flavour's coordinator
 * (kinds/<flavour>/backup.ts), which plans the backup, fans out its exports and watches them.
 */
export const coordinateBackup: Handler<'backup.coordinate'> = async (platform, { backupId }, ctx) => {
  const backup = await getBackup(platform.db, backupId);
  if (!backup) throw new PermanentJobError(`backup ${backupId} not found in the catalog`);
  if (backup.status !== 'queued' && backup.status !== 'running') {
    ctx.log.info({ backupId, status: backup.status }, 'backup already ended; nothing to do');
    return { skipped: backup.status };
  }
  const source = platform.sources.forJob(backup.source);
  return kinds[flavourOfBackup(backup)].coordinateBackup(platform, backup, source, ctx);
};

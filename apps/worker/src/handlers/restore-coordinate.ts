import { getRestore } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { flavourOfRestore, kinds } from '../kinds/index.ts';
import type { Handler } from './types.ts';

/**
 * Plans and starts a restore: loads the record and hands it to its flavour's coordinator
 * (kinds/<flavour>/restore.ts). A record that already ended is left alone.
 */
export const coordinateRestore: Handler<'restore.coordinate'> = async (platform, { restoreId }, ctx) => {
  const restore = await getRestore(platform.db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'queued' && restore.status !== 'running') return { skipped: restore.status };
  return kinds[flavourOfRestore(platform, restore)].coordinateRestore(platform, restore, ctx);
};

import { getRestore } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { dropDrillDatabase, flavourOfRestore, kinds } from '../kinds/index.ts';
import type { Handler } from './types.ts';

/**
 * After every load of a restore: its flavour's last steps (kinds/<flavour>/finalize.ts):
 * schema left to apply, the row-count check of every restored table, a drill's comparison.
 */
export const finalizeRestore: Handler<'restore.finalize'> = async (platform, { restoreId }, ctx) => {
  const restore = await getRestore(platform.db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') {
    // A drill interrupted after its restore succeeded: its scratch database must still go.
    await dropDrillDatabase(platform, restore);
    return { skipped: restore.status };
  }
  return kinds[flavourOfRestore(platform, restore)].finalizeRestore(platform, restore, ctx);
};

import { getRestore, markRestoreStep } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import type { Handler } from './types.ts';

/**
 * The barrier after the loads of one backup of a TDengine chain: it runs when they all
 * succeeded, and the coordinator, which waits for it, then starts the next backup's loads.
 */
export const restoreStage: Handler<'restore.stage'> = async (platform, { restoreId, stage }) => {
  const restore = await getRestore(platform.db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') throw new PermanentJobError(`restore ${restoreId} is ${restore.status}`);
  await markRestoreStep(platform.db, restoreId, `stage:${stage}`);
  return { stage };
};

import { setRestoreTableStatus } from '@bk/catalog';
import { errorMessage } from '@bk/core';
import { type Platform, endRestore } from '@bk/platform';
import type { HandlerContext } from './types.ts';

/**
 * Runs one load of a restore and records it in the restore's table list: `running`, then
 * `succeeded` with the rows loaded. A failure that will be retried puts the entry back to
 * `pending` with the error; the last attempt marks it `failed` and fails the restore, so
 * nothing is ever shown as loaded that was not.
 */
export async function recordLoad<T extends { rows: number }>(
  platform: Platform,
  ids: { restoreId: string; objectKey: string; label: string },
  ctx: HandlerContext,
  load: () => Promise<T>,
): Promise<T> {
  const { db } = platform;
  const { restoreId, objectKey } = ids;
  try {
    await setRestoreTableStatus(db, restoreId, objectKey, 'running');
    const result = await load();
    await setRestoreTableStatus(db, restoreId, objectKey, 'succeeded', { rows: result.rows });
    return result;
  } catch (e) {
    if (ctx.isFinalAttempt(e) && !ctx.signal.aborted) {
      await setRestoreTableStatus(db, restoreId, objectKey, 'failed', { error: errorMessage(e) });
      await endRestore(platform, restoreId, 'failed', `${ids.label}: ${errorMessage(e)}`);
    } else {
      await setRestoreTableStatus(db, restoreId, objectKey, 'pending', { error: errorMessage(e) });
    }
    throw e;
  }
}

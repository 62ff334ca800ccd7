import { setRestoreTableStatus } from '@bk/catalog';
import { errorMessage } from '@bk/core';
import { type Platform, endRestore } from '@bk/platform';
import type { HandlerContext } from './types.ts';

/**
 * Runs one load of a restore and records it in the restore's table list: `running`, then
 * `succeeded` with the rows loaded. A failure that will be retried puts the entry back to
 * `pending` with the error; the last attempt marks it `failed` and fails the restore, so
 * nothing is ever shown as loaded that was not. A load of several objects at once (the
 * chunks of one table, in one transaction) records each of them, with its own rows
 * (`rowsByKey`).
 */
export async function recordLoad<T extends { rows: number; rowsByKey?: Readonly<Record<string, number>> }>(
  platform: Platform,
  ids: { restoreId: string; objectKeys: readonly string[]; label: string },
  ctx: HandlerContext,
  load: () => Promise<T>,
): Promise<T> {
  const { db } = platform;
  const { restoreId, objectKeys } = ids;
  const setAll = async (status: 'running' | 'pending' | 'failed', extra?: { error: string }) => {
    for (const key of objectKeys) await setRestoreTableStatus(db, restoreId, key, status, extra);
  };
  try {
    await setAll('running');
    const result = await load();
    for (const key of objectKeys)
      await setRestoreTableStatus(db, restoreId, key, 'succeeded', { rows: result.rowsByKey?.[key] ?? result.rows });
    return result;
  } catch (e) {
    if (ctx.isFinalAttempt(e) && !ctx.signal.aborted) {
      await setAll('failed', { error: errorMessage(e) });
      await endRestore(platform, restoreId, 'failed', `${ids.label}: ${errorMessage(e)}`);
    } else {
      await setAll('pending', { error: errorMessage(e) });
    }
    throw e;
  }
}

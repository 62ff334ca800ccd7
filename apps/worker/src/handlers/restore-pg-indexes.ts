import { getRestore } from '@bk/catalog';
import { PermanentJobError } from '@bk/core';
import { loadManifest, openObject, pgUrlForDatabase, restoreRequestOf } from '@bk/platform';
import { isPlainTable, restoreSchema } from '@bk/postgres';
import type { Handler } from './types.ts';

/**
 * Early index build: the indexes and primary/unique keys of one table, right after the job
 * that loaded all of it (this job's child in the flow), instead of in the finalize step
 * after every load.
 *
 * Why: a restore's loads end with the biggest table loading alone while the other workers
 * idle, and only then did post-data start. pg_restore -j overlaps that tail with the other
 * tables' index builds; so do these jobs. They have a lower priority than loads (see
 * jobOptions), so a worker takes one only when no load is waiting: they fill the tail
 * instead of slowing the loads.
 *
 * Plain tables only: a partition's entries reach up to its parent's (the parent's primary
 * key comes with each partition), which two of these jobs would then both build. Foreign
 * keys (they need the referenced table's keys), triggers and the rest stay with finalize,
 * which leaves out what exists. A retry builds what is missing (skipExisting).
 */
export const restorePgIndexes: Handler<'restore.pg-indexes'> = async (platform, { restoreId, objectKey }, ctx) => {
  const restore = await getRestore(platform.db, restoreId);
  if (!restore) throw new PermanentJobError(`restore ${restoreId} not found`);
  if (restore.status !== 'running') throw new PermanentJobError(`restore ${restoreId} is ${restore.status}; indexes not built`);
  const { manifest, dataKey } = await loadManifest(platform, restore.backupId);
  const obj = manifest.objects.find((o) => o.key === objectKey && o.kind === 'data');
  if (!obj || obj.schemaName === undefined || obj.tableName === undefined)
    throw new PermanentJobError(`object ${objectKey} is not a data object of backup ${restore.backupId}`);
  const post = manifest.objects.find((o) => o.kind === 'schema-post' && o.database === obj.database);
  const table = { schema: obj.schemaName, name: obj.tableName };
  const url = pgUrlForDatabase(platform.sources.forJob(restore.source).url, restoreRequestOf(restore).targetDatabase ?? obj.database);
  if (!post || !(await isPlainTable(url, table, { signal: ctx.signal }))) return { table: obj.table, built: false };
  await restoreSchema({
    url,
    section: 'post-data',
    archive: async () => (await openObject(platform, post, dataKey, ctx.signal)).stream,
    tables: [table],
    only: ['INDEX', 'CONSTRAINT'],
    skipExisting: true,
    jobs: platform.config.postgres.postDataJobs,
    signal: ctx.signal,
  });
  return { table: obj.table, built: true };
};

import { runCleanup } from '@bk/platform';
import type { Handler } from './types.ts';

/** Retention and leftovers, on demand (`POST /v1/cleanup`) for one source or all. */
export const cleanupRun: Handler<'cleanup.run'> = async (platform, p, ctx) => {
  const r = await runCleanup(platform, { source: p.source, actor: p.requestedBy ?? 'cleanup' });
  ctx.log.info(
    { deleted: r.deleted.length, objects: r.objectsDeleted, abortedUploads: r.abortedUploads, errors: r.errors },
    'cleanup done',
  );
  if (r.errors.length)
    throw new Error(`cleanup could not delete ${r.errors.length} backup(s): ${r.errors.map((e) => `${e.id}: ${e.error}`).join('; ')}`);
  return { deleted: r.deleted, objectsDeleted: r.objectsDeleted, abortedUploads: r.abortedUploads };
};

import { audit, getBackup, setVerification } from '@bk/catalog';
import { PermanentJobError, errorMessage } from '@bk/core';
import { checkObjects, loadManifest } from '@bk/platform';
import type { Handler } from './types.ts';

/**
 * Verification: reads the manifest and every object it lists, whole (size, SHA-256,
 * decryption, decompression, row counts), and records `verified` or `corrupted` with what
 * is wrong and where. A corrupted backup is refused by restores unless they say `force`.
 */
export const verifyBackup: Handler<'backup.verify'> = async (platform, { backupId, requestedBy }, ctx) => {
  const backup = await getBackup(platform.db, backupId);
  if (!backup) throw new PermanentJobError(`backup ${backupId} not found`);
  if (backup.status !== 'succeeded')
    throw new PermanentJobError(`backup ${backupId} is ${backup.status}; only succeeded backups are verified`);
  const startedAt = new Date();
  await setVerification(platform.db, backupId, { status: 'running', startedAt: startedAt.toISOString() });
  let problems: { key: string; problem: string }[];
  let objects = 0;
  try {
    const { manifest, dataKey } = await loadManifest(platform, backupId);
    const checked = await checkObjects(platform, manifest.objects, dataKey, ctx.signal);
    objects = checked.length;
    problems = checked.filter((c) => !c.ok).map((c) => ({ key: c.key, problem: c.problem ?? 'unknown' }));
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    problems = [{ key: backup.manifestKey ?? `${backup.storagePrefix}manifest.json`, problem: `manifest unreadable: ${errorMessage(e)}` }];
  }
  const verification = {
    status: problems.length ? 'corrupted' : 'verified',
    startedAt: startedAt.toISOString(),
    checkedAt: new Date().toISOString(),
    objects,
    ...(problems.length ? { problems } : {}),
  };
  await setVerification(platform.db, backupId, verification);
  await audit(platform.db, {
    actor: requestedBy ?? 'system',
    action: 'backup.verify',
    target: backupId,
    outcome: problems.length ? 'failed' : 'ok',
    details: { status: verification.status, problems: problems.length },
  });
  if (problems.length) ctx.log.warn({ backupId, problems }, 'backup is corrupted');
  return verification;
};

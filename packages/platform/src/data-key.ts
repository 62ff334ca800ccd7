import type { BackupRecord } from '@bk/catalog';
import type { Platform } from './platform.ts';

/**
 * The backup's data key, unwrapped with the master key named in its record; undefined for
 * an unencrypted backup. A missing master key throws MissingKeyError naming the key id.
 */
export function dataKeyOf(platform: Pick<Platform, 'keyring'>, backup: Pick<BackupRecord, 'encryption'>): Buffer | undefined {
  if (!backup.encryption) return undefined;
  return platform.keyring.unwrap(backup.encryption.keyId, backup.encryption.wrappedDataKey);
}

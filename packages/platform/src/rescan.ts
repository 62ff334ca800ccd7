import type { Readable } from 'node:stream';
import { audit, insertBackupFromManifest, succeededBackupManifests } from '@bk/catalog';
import { BACKUPS_ROOT, errorMessage, parseManifest } from '@bk/core';
import type { Platform } from './platform.ts';

export interface RescanResult {
  manifests: number;
  created: string[];
  unchanged: number;
  problems: { key: string; problem: string }[];
  /** Succeeded backups in the catalog whose manifest is not in storage. */
  missingInStorage: string[];
}

async function text(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Rebuilds backup records from the manifests in storage (after the catalog is lost):
 * every `backups/<source>/<id>/manifest.json` becomes a succeeded backup with its objects.
 * Idempotent: records that exist are left alone. Nothing is deleted; records whose
 * manifest is missing are reported.
 */
export async function rescanCatalog(platform: Platform, actor: string): Promise<RescanResult> {
  const result: RescanResult = { manifests: 0, created: [], unchanged: 0, problems: [], missingInStorage: [] };
  const seen = new Set<string>();
  for await (const o of platform.store.list(BACKUPS_ROOT)) {
    if (!o.key.endsWith('/manifest.json')) continue;
    result.manifests++;
    seen.add(o.key);
    try {
      const m = parseManifest(await text(await platform.store.get(o.key)), o.key);
      const prefix = o.key.slice(0, -'manifest.json'.length);
      if (!prefix.endsWith(`/${m.backupId}/`)) throw new Error(`manifest of backup ${m.backupId} stored under another backup's prefix`);
      if (await insertBackupFromManifest(platform.db, m, o.key, prefix)) result.created.push(m.backupId);
      else result.unchanged++;
    } catch (e) {
      result.problems.push({ key: o.key, problem: errorMessage(e) });
    }
  }
  for (const b of await succeededBackupManifests(platform.db))
    if (!b.manifestKey || !seen.has(b.manifestKey)) result.missingInStorage.push(b.id);
  await audit(platform.db, {
    actor,
    action: 'catalog.rescan',
    outcome: result.problems.length ? 'failed' : 'ok',
    details: { manifests: result.manifests, created: result.created.length, problems: result.problems.length },
  });
  return result;
}

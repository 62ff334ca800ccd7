import type { Readable } from 'node:stream';
import { audit, insertBackupFromManifest, markWalCovered, succeededBackupManifests, upsertWalHistory, upsertWalSegment } from '@bk/catalog';
import { BACKUPS_ROOT, WAL_ROOT, decodeKeySegment, errorMessage, parseManifest } from '@bk/core';
import { z } from 'zod';
import type { Platform } from './platform.ts';

export interface RescanResult {
  manifests: number;
  created: string[];
  unchanged: number;
  problems: { key: string; problem: string }[];
  /** Succeeded backups in the catalog whose manifest is not in storage. */
  missingInStorage: string[];
  /** WAL segments of point-in-time sources recorded again from their sidecars. */
  walSegments: number;
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
  const result: RescanResult = { manifests: 0, created: [], unchanged: 0, problems: [], missingInStorage: [], walSegments: 0 };
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
  result.walSegments = await rescanWal(platform, result.problems);
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

/**
 * The WAL archive from storage: every segment sidecar whose object is there becomes a row
 * again (a complete one is never replaced by a partial), with the coverage it recorded;
 * timeline history files likewise. Returns the segments recorded.
 */
async function rescanWal(platform: Pick<Platform, 'db' | 'store'>, problems: RescanResult['problems']): Promise<number> {
  const keys = new Set<string>();
  const sidecars: string[] = [];
  for await (const o of platform.store.list(WAL_ROOT)) {
    keys.add(o.key);
    if (o.key.endsWith('.json')) sidecars.push(o.key);
  }
  let n = 0;
  for (const key of sidecars) {
    try {
      const raw = JSON.parse(await text(await platform.store.get(key))) as Record<string, unknown>;
      if (raw.format !== 'bk-wal-segment') continue;
      const seg = walSidecarSchema.parse(raw);
      if (!keys.has(seg.key)) continue; // a superseded partial's sidecar: its object is gone
      await upsertWalSegment(platform.db, { ...seg, segNo: BigInt(seg.segNo), endLsn: BigInt(seg.endLsn) });
      if (seg.coveredAt) await markWalCovered(platform.db, seg.source, seg.timeline, BigInt(seg.endLsn), new Date(seg.coveredAt));
      n++;
    } catch (e) {
      problems.push({ key, problem: errorMessage(e) });
    }
  }
  for (const key of keys) {
    const m = /^wal\/([^/]+)\/history\/([0-9A-F]{8})\.history$/.exec(key);
    if (!m?.[1] || !m[2]) continue;
    await upsertWalHistory(platform.db, decodeKeySegment(m[1]), parseInt(m[2], 16), key, await text(await platform.store.get(key)));
  }
  return n;
}

const walSidecarSchema = z.object({
  source: z.string(),
  timeline: z.number().int(),
  segNo: z.string(),
  name: z.string(),
  key: z.string(),
  partial: z.boolean(),
  endLsn: z.string(),
  rawBytes: z.number().int(),
  bytes: z.number().int(),
  sha256: z.string(),
  rawSha256: z.string(),
  compression: z.object({ codec: z.enum(['zstd', 'gzip', 'none']), level: z.number().int(), memberBytes: z.number().int().optional() }),
  encryption: z.object({ keyId: z.string(), wrappedDataKey: z.string() }).nullable(),
  coveredAt: z.string().nullable().optional(),
});

import type { Readable } from 'node:stream';
import { type RestoreRecord, getBackup } from '@bk/catalog';
import {
  type Manifest,
  type ManifestObject,
  PG_COPY_BINARY,
  PermanentJobError,
  decodeFromStorage,
  errorMessage,
  parseManifest,
  parsePgTableRef,
} from '@bk/core';
import type { Platform } from './platform.ts';
import { dataKeyOf } from './data-key.ts';

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Reads a backup's manifest from storage: storage, not the catalog, is the truth. */
export async function loadManifest(
  platform: Pick<Platform, 'db' | 'store' | 'keyring'>,
  backupId: string,
): Promise<{ manifest: Manifest; dataKey: Buffer | undefined }> {
  const backup = await getBackup(platform.db, backupId);
  if (!backup) throw new PermanentJobError(`backup ${backupId} not found in the catalog`);
  if (backup.status !== 'succeeded' || !backup.manifestKey)
    throw new PermanentJobError(`backup ${backupId} is ${backup.status}; only succeeded backups can be restored`);
  const text = (await readAll(await platform.store.get(backup.manifestKey))).toString('utf8');
  const manifest = parseManifest(text, backup.manifestKey);
  if (manifest.backupId !== backupId) throw new PermanentJobError(`manifest ${backup.manifestKey} describes backup ${manifest.backupId}`);
  const encryption = manifest.encryption ? { keyId: manifest.encryption.keyId, wrappedDataKey: manifest.encryption.wrappedDataKey } : null;
  return { manifest, dataKey: dataKeyOf(platform, { encryption }) };
}

/** Opens one stored object decoded (verified, decrypted, decompressed). */
export async function openObject(
  platform: Platform,
  obj: ManifestObject,
  dataKey: Buffer | undefined,
  signal?: AbortSignal,
): Promise<{ stream: Readable; rows: () => number }> {
  const stored = await platform.store.get(obj.key, signal ? { signal } : {});
  return decodeFromStorage(stored, {
    codec: obj.compression.codec,
    memberBytes: obj.compression.memberBytes,
    expected: { sha256: obj.sha256, bytes: obj.bytes },
    ...(obj.encrypted && dataKey ? { dataKey } : {}),
    label: obj.key,
    rowFraming: obj.format === PG_COPY_BINARY ? 'pg-copy-binary' : 'lines',
  });
}

export interface RestoreRequest {
  tables?: string[];
  databases?: string[];
  targetDatabase?: string;
  dryRun?: boolean;
  mode?: 'fail-if-exists' | 'replace';
  confirm?: boolean;
  force?: boolean;
  /** A restore drill: checked against the manifest, then its scratch database dropped. */
  drill?: boolean;
  /** TDengine point in time: rows after this time (ISO 8601) are left out. */
  targetTime?: string;
  /** TDengine: the backups applied in order (a full, then incrementals), fixed when the restore was requested. */
  chain?: string[];
}

export interface RestoreSelection {
  /** Source database -> target database. */
  databases: Map<string, string>;
  /** Data objects to load. */
  data: ManifestObject[];
  /** Tables picked explicitly per source database; undefined = whole databases. */
  tableFilter: Map<string, { schema: string; name: string }[]> | undefined;
}

/**
 * Decides what a restore request covers. Shared by the API (which answers a bad request
 * with a 4xx before enqueueing anything) and the worker (which re-checks).
 */
export function selectForRestore(manifest: Manifest, req: RestoreRequest, onError: (msg: string) => never): RestoreSelection {
  let dbNames = manifest.databases.map((d) => d.name);
  if (req.databases?.length) {
    const missing = req.databases.filter((d) => !dbNames.includes(d));
    if (missing.length) onError(`databases not in this backup: ${missing.join(', ')} (it has: ${dbNames.join(', ')})`);
    dbNames = req.databases;
  }
  let tableFilter: RestoreSelection['tableFilter'];
  let data = manifest.objects.filter((o) => o.kind === 'data' && dbNames.includes(o.database));
  if (req.tables?.length) {
    tableFilter = new Map();
    const picked: ManifestObject[] = [];
    const unknown: string[] = [];
    for (const t of req.tables) {
      const ref = parsePgTableRef(t);
      const hits = data.filter(
        (o) => o.schemaName === ref.schema && o.tableName === ref.name && (!ref.database || o.database === ref.database),
      );
      if (!hits.length) unknown.push(t);
      for (const h of hits) {
        if (!picked.includes(h)) picked.push(h);
        const list = tableFilter.get(h.database) ?? [];
        if (!list.some((x) => x.schema === ref.schema && x.name === ref.name)) list.push({ schema: ref.schema, name: ref.name });
        tableFilter.set(h.database, list);
      }
    }
    if (unknown.length) onError(`tables not in this backup: ${unknown.join(', ')}`);
    data = picked;
    dbNames = dbNames.filter((d) => tableFilter?.has(d));
  }
  if (req.targetDatabase && dbNames.length > 1)
    onError(
      `targetDatabase needs exactly one database to restore, but the selection covers ${dbNames.length}: ${dbNames.join(', ')}; pass databases`,
    );
  const databases = new Map(dbNames.map((d) => [d, req.targetDatabase ?? d]));
  return { databases, data, tableFilter };
}

export function restoreRequestOf(r: RestoreRecord): RestoreRequest {
  return r.request as RestoreRequest;
}

export interface ObjectCheck {
  key: string;
  rows: number;
  ok: boolean;
  problem?: string;
}

/**
 * Reads every object whole through the restore path: exists, size and SHA-256 as recorded,
 * decrypts (every segment authenticated), decompresses, and for data objects counts rows
 * against the manifest. Used by dry-run restores and by verification.
 */
export async function checkObjects(
  platform: Platform,
  objects: readonly ManifestObject[],
  dataKey: Buffer | undefined,
  signal?: AbortSignal,
): Promise<ObjectCheck[]> {
  const checked: ObjectCheck[] = [];
  for (const obj of objects) {
    try {
      const { stream, rows } = await openObject(platform, obj, dataKey, signal);
      for await (const _ of stream) {
        // drain: the decode pipeline verifies size, SHA-256 and decryption on the way
      }
      if (obj.kind === 'data' && rows() !== expectedLines(obj))
        throw new Error(`decoded ${rows()} lines, the manifest says ${expectedLines(obj)}`);
      checked.push({ key: obj.key, rows: obj.rows, ok: true });
    } catch (e) {
      if (signal?.aborted) throw e;
      checked.push({ key: obj.key, rows: obj.rows, ok: false, problem: errorMessage(e) });
    }
  }
  return checked;
}

/** Lines of a data object: its rows, plus a header line per table in a TDengine batch. */
export function expectedLines(obj: ManifestObject): number {
  return obj.format === 'td-batch-jsonl' ? obj.rows + (obj.members?.length ?? 0) : obj.rows;
}

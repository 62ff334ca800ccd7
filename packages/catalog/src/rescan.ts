import type { Manifest } from '@bk/core';
import type { Db } from './db.ts';

/**
 * Writes the catalog record of a backup (and its objects) from its manifest, for a
 * catalog rebuilt from storage. Idempotent: an existing record is left as it is.
 * Returns whether a record was created.
 */
export async function insertBackupFromManifest(db: Db, m: Manifest, manifestKey: string, storagePrefix: string): Promise<boolean> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const firstData = m.objects.find((o) => o.kind === 'data') ?? m.objects[0];
    const sequences = Object.fromEntries(m.databases.filter((d) => d.sequences).map((d) => [d.name, d.sequences]));
    const encodings = Object.fromEntries(
      m.databases.filter((d) => typeof d.options?.encoding === 'string').map((d) => [d.name, d.options?.encoding]),
    );
    const inserted = await client.query(
      `INSERT INTO backups (id, source, source_kind, type, status, scope, compression, encryption, storage_prefix, manifest_key,
                            snapshots, as_of, server_version, base_backup_id, parent_backup_id, requested_by, rows, bytes, raw_bytes,
                            metadata, created_at, started_at, finished_at)
       VALUES ($1, $2, $3, $4, 'succeeded', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'catalog-rescan', $15, $16, $17, $18, $19, $19, $20)
       ON CONFLICT (id) DO NOTHING`,
      [
        m.backupId,
        m.source.name,
        m.source.kind,
        m.type,
        JSON.stringify(m.scope),
        JSON.stringify(firstData?.compression ?? { codec: 'none', level: 0 }),
        m.encryption ? JSON.stringify({ keyId: m.encryption.keyId, wrappedDataKey: m.encryption.wrappedDataKey }) : null,
        storagePrefix,
        manifestKey,
        m.consistency.snapshots ? JSON.stringify(m.consistency.snapshots) : null,
        m.consistency.asOf ?? null,
        m.source.serverVersion,
        m.chain?.baseBackupId ?? null,
        m.chain?.parentBackupId ?? null,
        m.totals.rows,
        m.totals.bytes,
        m.totals.rawBytes,
        JSON.stringify({
          sequences,
          encodings,
          ...(m.consistency.physical ? { physical: m.consistency.physical } : {}),
          ...(m.source.kind === 'tdengine'
            ? {
                tdengine: {
                  databases: Object.fromEntries(m.databases.map((d) => [d.name, d.options ?? {}])),
                  ...(m.chain ? { windowStart: m.chain.windowStart } : {}),
                },
              }
            : {}),
        }),
        m.startedAt,
        m.completedAt,
      ],
    );
    if (inserted.rowCount === 1) {
      await client.query(
        `INSERT INTO backup_objects (backup_id, key, seq, kind, database, schema_name, table_name, display_name, columns, chunk, format,
                                     status, rows, raw_bytes, bytes, sha256, compression, encrypted, finished_at, members)
         SELECT $1, o->>'key', (ord - 1)::int, o->>'kind', o->>'database', o->>'schemaName', o->>'tableName', o->>'table', o->'columns', o->'chunk',
                o->>'format', 'succeeded', (o->>'rows')::bigint, (o->>'rawBytes')::bigint, (o->>'bytes')::bigint, o->>'sha256', o->'compression',
                (o->>'encrypted')::boolean, $3, o->'members'
         FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(o, ord)`,
        [m.backupId, JSON.stringify(m.objects), m.completedAt],
      );
    }
    await client.query('COMMIT');
    return inserted.rowCount === 1;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** Every succeeded backup with its manifest key, to find records whose manifest is gone. */
export async function succeededBackupManifests(db: Db): Promise<{ id: string; manifestKey: string | null }[]> {
  const { rows } = await db.query(`SELECT id, manifest_key FROM backups WHERE status = 'succeeded'`);
  return rows.map((r) => ({ id: r.id as string, manifestKey: (r.manifest_key as string | null) ?? null }));
}

import type { Db } from './db.ts';

export type Scope = 'read' | 'backup' | 'restore' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'backup', 'restore', 'admin'];

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  keyPrefix: string;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

type Row = Record<string, unknown>;

function toKey(r: Row): ApiKeyRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    scopes: r.scopes as Scope[],
    keyPrefix: r.key_prefix as string,
    createdBy: r.created_by as string,
    createdAt: r.created_at as Date,
    revokedAt: (r.revoked_at as Date | null) ?? null,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
  };
}

export async function insertApiKey(
  db: Db,
  k: { id: string; name: string; scopes: Scope[]; keyHash: string; keyPrefix: string; createdBy: string },
): Promise<ApiKeyRecord> {
  const { rows } = await db.query(
    'INSERT INTO api_keys (id, name, scopes, key_hash, key_prefix, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [k.id, k.name, k.scopes, k.keyHash, k.keyPrefix, k.createdBy],
  );
  return toKey(rows[0] as Row);
}

/** The active (not revoked) key with this hash; records its use. */
export async function findActiveKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRecord | undefined> {
  const { rows } = await db.query('UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1 AND revoked_at IS NULL RETURNING *', [
    keyHash,
  ]);
  return rows[0] ? toKey(rows[0] as Row) : undefined;
}

export async function listApiKeys(db: Db): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query('SELECT * FROM api_keys ORDER BY created_at DESC');
  return rows.map((r) => toKey(r as Row));
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const r = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return r.rowCount === 1;
}

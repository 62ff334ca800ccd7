import { readFileSync } from 'node:fs';
import { ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { newDataKey, unwrapDataKey, wrapDataKey } from './pipeline/crypto.ts';

/** A missing master key: says which key id a backup needs. */
export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
  /** A retry on this worker finds the key missing again (config changes need a restart). */
  readonly permanent = true;
  constructor(readonly keyId: string) {
    super(`encryption key "${keyId}" is not configured; add it under encryption.keys to read this backup`);
  }
}

export interface Keyring {
  /** The key id new backups are encrypted with, or undefined when no key is configured. */
  readonly activeKeyId: string | undefined;
  has(keyId: string): boolean;
  /** A fresh random data key for a new backup, wrapped by the active master key. */
  newWrappedDataKey(): { keyId: string; wrappedDataKey: string; dataKey: Buffer };
  unwrap(keyId: string, wrappedDataKey: string): Buffer;
}

export function createKeyring(cfg: Config['encryption']): Keyring {
  const entries: [string, string][] = Object.entries(cfg.keys);
  if (cfg.keyFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(cfg.keyFile, 'utf8'));
    } catch (e) {
      throw new ConfigError(`encryption.keyFile: cannot read ${cfg.keyFile}: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object') throw new ConfigError('encryption.keyFile: must hold a JSON object of id -> base64 key');
    for (const [id, v] of Object.entries(parsed)) entries.push([id, String(v)]);
  }
  const keys = new Map<string, Buffer>();
  for (const [id, b64] of entries) {
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new ConfigError(`encryption.keys.${id}: must be 32 bytes in base64 (got ${key.length} bytes)`);
    keys.set(id, key);
  }
  const activeKeyId = cfg.activeKeyId ?? entries[entries.length - 1]?.[0];
  if (activeKeyId !== undefined && !keys.has(activeKeyId))
    throw new ConfigError(`encryption.activeKeyId: no key "${activeKeyId}" is configured`);
  const master = (id: string) => {
    const k = keys.get(id);
    if (!k) throw new MissingKeyError(id);
    return k;
  };
  return {
    activeKeyId,
    has: (id) => keys.has(id),
    newWrappedDataKey() {
      if (activeKeyId === undefined) throw new ConfigError('encryption requested but no encryption key is configured');
      const dataKey = newDataKey();
      return { keyId: activeKeyId, wrappedDataKey: wrapDataKey(dataKey, master(activeKeyId), activeKeyId), dataKey };
    },
    unwrap: (id, wrapped) => unwrapDataKey(wrapped, master(id), id),
  };
}

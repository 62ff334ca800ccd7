import { randomBytes } from 'node:crypto';

/**
 * Time-sortable ids (`bk_` + 12 hex digits of milliseconds + 10 random hex digits), so
 * keyset pagination by id is pagination by creation time. Safe as BullMQ job ids (no ":")
 * and as storage key segments.
 */
export function newId(prefix: 'bk' | 'rs' | 'sc' | 'ak' | 'vf'): string {
  const ms = Date.now().toString(16).padStart(12, '0');
  return `${prefix}_${ms}${randomBytes(5).toString('hex')}`;
}

export const ID_PATTERN = /^(bk|rs|sc|ak|vf)_[0-9a-f]{22}$/;

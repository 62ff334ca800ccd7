/**
 * The storage layout, in one place. Everything of a backup lives under its own prefix,
 * and the manifest is written there last:
 *
 *   backups/<source>/<backupId>/manifest.json
 *   backups/<source>/<backupId>/<db>/schema/pre-data.pgdump.zst
 *   backups/<source>/<backupId>/<db>/data/<schema>/<table>.copy.zst            (one object)
 *   backups/<source>/<backupId>/<db>/data/<schema>/<table>.part-0003.copy.zst  (a chunk)
 *   backups/<source>/<backupId>/<db>/data/<schema>/<table>.pgcopy.zst          (binary COPY format)
 *
 * Identifiers are percent-encoded down to [A-Za-z0-9_-] so that any legal table name
 * (spaces, quotes, dots, "..", unicode) gives a safe, unambiguous key segment.
 */
export function keySegment(name: string): string {
  return Array.from(Buffer.from(name, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export function decodeKeySegment(seg: string): string {
  return decodeURIComponent(seg);
}

export const BACKUPS_ROOT = 'backups/';

export function backupPrefix(source: string, backupId: string): string {
  return `${BACKUPS_ROOT}${keySegment(source)}/${backupId}/`;
}

export function manifestKey(source: string, backupId: string): string {
  return `${backupPrefix(source, backupId)}manifest.json`;
}

export function databasePrefix(source: string, backupId: string, database: string): string {
  return `${backupPrefix(source, backupId)}${keySegment(database)}/`;
}

export function partSuffix(chunkIndex: number | undefined): string {
  return chunkIndex === undefined ? '' : `.part-${String(chunkIndex).padStart(4, '0')}`;
}

/**
 * The key one attempt of an export writes: the planned key for the first attempt, and
 * `<name>.attempt-N.<extensions>` for later ones. Attempts never share a key, so an attempt
 * that lost its lock but still runs cannot overwrite what a later attempt stored and
 * recorded. (Planned keys have no "." before their extensions: segments are percent-encoded.)
 */
export function attemptKey(key: string, attempt: number): string {
  if (attempt <= 1) return key;
  const slash = key.lastIndexOf('/');
  const dot = key.indexOf('.', slash + 1);
  return dot < 0 ? `${key}.attempt-${attempt}` : `${key.slice(0, dot)}.attempt-${attempt}${key.slice(dot)}`;
}

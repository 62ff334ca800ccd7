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
 * Point-in-time sources also have a WAL archive, shared by all their base backups:
 *
 *   backups/<source>/<backupId>/base.tar.zst                      (a base backup)
 *   wal/<source>/<timeline, 8 hex>/<segment>.zst                  (a complete segment)
 *   wal/<source>/<timeline, 8 hex>/<segment>.partial-<bytes>.zst  (the segment being written, so far)
 *   wal/<source>/<timeline, 8 hex>/<segment>[.partial].json       (its sidecar: size, SHA-256, key)
 *   wal/<source>/history/<timeline, 8 hex>.history                 (timeline history files)
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

export const WAL_ROOT = 'wal/';

export function walPrefix(source: string): string {
  return `${WAL_ROOT}${keySegment(source)}/`;
}

/**
 * The object of one WAL segment (`ext`: the codec's extension, e.g. ".zst"). A partial
 * segment is stored under a new key for each length (`partialBytes`, hex), so the object a
 * catalog row names is never rewritten under a reader; the older length is deleted once the
 * row names the newer one.
 */
export function walSegmentKey(source: string, timeline: number, segment: string, partialBytes: number | undefined, ext: string): string {
  const version = partialBytes === undefined ? '' : `.partial-${partialBytes.toString(16).toUpperCase().padStart(8, '0')}`;
  return `${walPrefix(source)}${timeline.toString(16).toUpperCase().padStart(8, '0')}/${segment}${version}${ext}`;
}

/** A segment object's sidecar (JSON: what the catalog records of it). */
export function walSidecarKey(source: string, timeline: number, segment: string, partial: boolean): string {
  return `${walPrefix(source)}${timeline.toString(16).toUpperCase().padStart(8, '0')}/${segment}${partial ? '.partial' : ''}.json`;
}

export function walHistoryKey(source: string, timeline: number): string {
  return `${walPrefix(source)}history/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

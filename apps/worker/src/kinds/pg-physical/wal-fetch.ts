import { createWriteStream } from 'node:fs';
import { chown, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { WalSegmentRecord } from '@bk/catalog';
import { IntegrityError, decodeFromStorage, errorMessage } from '@bk/core';
import type { Platform } from '@bk/platform';

/** A WAL segment that fails its checks: the restore stops and says which one. */
export class WalSegmentCorruptError extends Error {
  override readonly name = 'WalSegmentCorruptError';
  readonly code = 'WAL_CORRUPT';
  readonly permanent = true;
}

/**
 * Fetches the WAL a recovery replays into `dir`, each segment checked on the way (size,
 * SHA-256, decryption, decompression) and written under the name PostgreSQL asks its
 * restore_command for. A partial segment is padded with zeros to the segment size:
 * PostgreSQL refuses archive files of another size, and reads the zeros as the end of WAL.
 * Timeline history files go beside them.
 */
export async function fetchWal(
  platform: Pick<Platform, 'store' | 'keyring'>,
  segments: readonly WalSegmentRecord[],
  histories: readonly { timeline: number; content: string }[],
  dir: string,
  segmentSize: number,
  opts: {
    signal: AbortSignal;
    owner?: { uid: number; gid: number } | undefined;
    onSegment?: (done: number) => void;
    /** The segment's record as the catalog has it now. */
    reload?: (s: WalSegmentRecord) => Promise<WalSegmentRecord | undefined>;
  },
): Promise<void> {
  for (const h of histories) {
    const path = join(dir, `${h.timeline.toString(16).toUpperCase().padStart(8, '0')}.history`);
    await writeFile(path, h.content);
    if (opts.owner) await chown(path, opts.owner.uid, opts.owner.gid);
  }
  let done = 0;
  for (const planned of segments) {
    let s = planned;
    const path = join(dir, s.name);
    // The segment being written is replaced by longer versions of itself while we read: a
    // partial that no longer matches its record (or is gone, the segment having completed)
    // is read again in its newer form, which holds the same WAL and more.
    for (let attempt = 1; ; attempt++) {
      try {
        await fetchOne(platform, s, path, opts.signal);
        break;
      } catch (e) {
        const newer = s.partial && attempt < 5 ? await opts.reload?.(s) : undefined;
        if (newer && (newer.sha256 !== s.sha256 || newer.key !== s.key)) {
          s = newer;
          continue;
        }
        if (e instanceof IntegrityError || (e as { name?: string }).name === 'IntegrityError')
          throw new WalSegmentCorruptError(`WAL segment ${s.name} (timeline ${s.timeline}, ${s.key}) is corrupted: ${errorMessage(e)}`);
        throw new Error(`cannot fetch WAL segment ${s.name} (${s.key}): ${errorMessage(e)}`, { cause: e });
      }
    }
    const fh = await open(path, 'r+');
    try {
      const { size } = await fh.stat();
      if (size > segmentSize)
        throw new WalSegmentCorruptError(`WAL segment ${s.name} holds ${size} bytes, more than a segment (${segmentSize})`);
      if (size < segmentSize) await fh.truncate(segmentSize);
    } finally {
      await fh.close();
    }
    if (opts.owner) await chown(path, opts.owner.uid, opts.owner.gid);
    opts.onSegment?.(++done);
  }
}

async function fetchOne(
  platform: Pick<Platform, 'store' | 'keyring'>,
  s: WalSegmentRecord,
  path: string,
  signal: AbortSignal,
): Promise<void> {
  const stored = await platform.store.get(s.key, { signal });
  const dataKey = s.encryption ? platform.keyring.unwrap(s.encryption.keyId, s.encryption.wrappedDataKey) : undefined;
  const decoded = decodeFromStorage(stored, {
    codec: s.compression.codec,
    memberBytes: s.compression.memberBytes,
    expected: { sha256: s.sha256, bytes: s.bytes },
    ...(dataKey ? { dataKey } : {}),
    label: s.key,
  });
  await pipeline(decoded.stream, createWriteStream(path), { signal });
}

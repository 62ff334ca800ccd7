import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { getWalSegment, markWalCovered, updateWalStream, upsertWalHistory, upsertWalSegment, type NewWalSegment } from '@bk/catalog';
import { type CompressionSpec, codecExtension, encodeForStorage, walHistoryKey, walSegmentKey, walSidecarKey } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { WalCoverage, WalSegmentWrite, WalSink } from '@bk/postgres';

/** A complete segment stored before with other WAL bytes: the archive belongs to another cluster, or storage was tampered with. */
export class WalConflictError extends Error {
  override readonly name = 'WalConflictError';
  readonly code = 'WAL_CONFLICT';
  readonly permanent = true;
}

/**
 * Where the WAL streamer stores what it receives: each write goes through the same pipeline
 * as backups (compression, encryption with a data key of its own, SHA-256) into
 * `wal/<source>/<timeline>/<segment>[.partial]`, with a JSON sidecar, and only then into the
 * catalog. The streamer confirms WAL to the server (and so lets its slot advance) only once
 * put() resolved.
 *
 * - A complete segment is written once: stored again (a streamer restarted mid-segment)
 *   with the same WAL it is left alone; with other WAL it is a WalConflictError, never an
 *   overwrite.
 * - The segment being written is stored under a new key for each length, and the older
 *   object deleted once the catalog names the newer: an object a row names is never
 *   rewritten. A restarted streamer's first, shorter partial never replaces a longer one.
 */
export function createArchiveSink(
  platform: Pick<Platform, 'db' | 'store' | 'keyring' | 'config' | 'log'>,
  source: string,
  slot: string,
  compression: CompressionSpec,
  signal: AbortSignal,
): WalSink {
  const { db, store } = platform;
  const ext = codecExtension(compression.codec);
  return {
    async put(w: WalSegmentWrite): Promise<void> {
      const existing = await getWalSegment(db, source, w.timeline, w.segNo);
      const rawSha256 = createHash('sha256').update(w.data).digest('hex');
      if (existing && !existing.partial) {
        if (existing.rawSha256 === rawSha256 || (!w.complete && existing.endLsn >= w.endLsn)) return;
        throw new WalConflictError(
          `WAL segment ${w.name} (timeline ${w.timeline}) of source ${source} is stored already with other content; ` +
            'nothing was overwritten. Is another cluster streaming under this source name?',
        );
      }
      if (existing?.partial && !w.complete && existing.endLsn >= w.endLsn) return;
      const key = walSegmentKey(source, w.timeline, w.name, w.complete ? undefined : w.data.length, ext);
      const encryption = platform.keyring.activeKeyId !== undefined ? platform.keyring.newWrappedDataKey() : undefined;
      const enc = encodeForStorage(Readable.from([w.data]), {
        compression,
        countRows: false,
        ...(encryption ? { dataKey: encryption.dataKey } : {}),
      });
      await store.put(key, enc.stream, { signal });
      const stats = enc.stats();
      const record: NewWalSegment = {
        source,
        timeline: w.timeline,
        segNo: w.segNo,
        name: w.name,
        key,
        partial: !w.complete,
        endLsn: w.endLsn,
        rawBytes: stats.rawBytes,
        bytes: stats.bytes,
        sha256: stats.sha256,
        rawSha256,
        compression: stats.compression,
        encryption: encryption ? { keyId: encryption.keyId, wrappedDataKey: encryption.wrappedDataKey } : null,
      };
      // The coverage known so far goes with it: a catalog rebuilt from storage keeps the window.
      await putJson(walSidecarKey(source, w.timeline, w.name, !w.complete), {
        ...sidecarOf(record),
        coveredAt: existing?.coveredAt?.toISOString() ?? null,
      });
      await upsertWalSegment(db, record);
      await updateWalStream(db, source, { state: 'streaming', slot, timeline: w.timeline, storedLsn: w.endLsn });
      // The older partial is superseded (the row names the new object now, which holds all of
      // its WAL). A restore that was reading it finds it gone and reads the row again.
      if (existing?.partial && existing.key !== key) await store.deleteMany([existing.key]);
      if (w.complete) await store.deleteMany([walSidecarKey(source, w.timeline, w.name, true)]);
    },

    async putHistory(timeline: number, _name: string, content: Buffer): Promise<void> {
      const key = walHistoryKey(source, timeline);
      await store.put(key, Readable.from([content]), { signal, contentType: 'text/plain' });
      await upsertWalHistory(db, source, timeline, key, content.toString('utf8'));
    },

    async covered(c: WalCoverage): Promise<void> {
      await markWalCovered(db, source, c.timeline, c.lsn, c.serverTime);
      await updateWalStream(db, source, { state: 'streaming', slot, timeline: c.timeline, covered: { lsn: c.lsn, at: c.serverTime } });
    },
  };

  async function putJson(key: string, value: unknown): Promise<void> {
    await store.put(key, Readable.from([Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]), { signal, contentType: 'application/json' });
  }
}

/** What a sidecar says of its segment object: enough to rebuild the catalog row from storage. */
function sidecarOf(r: NewWalSegment): Record<string, unknown> {
  return {
    format: 'bk-wal-segment',
    formatVersion: 1,
    ...r,
    segNo: r.segNo.toString(),
    endLsn: r.endLsn.toString(),
  };
}

import type { Db } from './db.ts';

/** The stored WAL of point-in-time sources: segments, timeline histories, streamer state, events. */

export interface WalSegmentRecord {
  source: string;
  timeline: number;
  segNo: bigint;
  name: string;
  key: string;
  partial: boolean;
  endLsn: bigint;
  rawBytes: number;
  bytes: number;
  sha256: string;
  /** SHA-256 of the WAL bytes (before compression and encryption). */
  rawSha256: string;
  compression: { codec: 'zstd' | 'gzip' | 'none'; level: number; memberBytes?: number };
  encryption: { keyId: string; wrappedDataKey: string } | null;
  coveredAt: Date | null;
  storedAt: Date;
}

type Row = Record<string, unknown>;

function toSegment(r: Row): WalSegmentRecord {
  return {
    source: r.source as string,
    timeline: r.timeline as number,
    segNo: BigInt(r.seg_no as string | number),
    name: r.name as string,
    key: r.key as string,
    partial: r.partial as boolean,
    endLsn: BigInt(r.end_lsn as string),
    rawBytes: Number(r.raw_bytes),
    bytes: Number(r.bytes),
    sha256: r.sha256 as string,
    rawSha256: r.raw_sha256 as string,
    compression: r.compression as WalSegmentRecord['compression'],
    encryption: (r.encryption as WalSegmentRecord['encryption']) ?? null,
    coveredAt: (r.covered_at as Date | null) ?? null,
    storedAt: r.stored_at as Date,
  };
}

export type NewWalSegment = Omit<WalSegmentRecord, 'coveredAt' | 'storedAt'>;

/**
 * Records a stored segment (a partial one again with more bytes, or the complete one). A
 * complete segment is never replaced by a partial one: a streamer that restarted mid-segment
 * and stores the same bytes again finds it complete and leaves it.
 */
export async function upsertWalSegment(db: Db, s: NewWalSegment): Promise<void> {
  await db.query(
    `INSERT INTO wal_segments (source, timeline, seg_no, name, key, partial, end_lsn, raw_bytes, bytes, sha256, raw_sha256, compression, encryption)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (source, timeline, seg_no) DO UPDATE SET
       key = EXCLUDED.key, partial = EXCLUDED.partial, end_lsn = EXCLUDED.end_lsn, raw_bytes = EXCLUDED.raw_bytes,
       bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, raw_sha256 = EXCLUDED.raw_sha256, compression = EXCLUDED.compression,
       encryption = EXCLUDED.encryption, stored_at = now()
     WHERE wal_segments.partial`,
    [
      s.source,
      s.timeline,
      s.segNo.toString(),
      s.name,
      s.key,
      s.partial,
      s.endLsn.toString(),
      s.rawBytes,
      s.bytes,
      s.sha256,
      s.rawSha256,
      JSON.stringify(s.compression),
      s.encryption ? JSON.stringify(s.encryption) : null,
    ],
  );
}

export async function getWalSegment(db: Db, source: string, timeline: number, segNo: bigint): Promise<WalSegmentRecord | undefined> {
  const r = await db.query(`SELECT * FROM wal_segments WHERE source = $1 AND timeline = $2 AND seg_no = $3`, [
    source,
    timeline,
    segNo.toString(),
  ]);
  return r.rows[0] ? toSegment(r.rows[0] as Row) : undefined;
}

/** A source's segments, oldest first (by segment number, then timeline). */
export async function listWalSegments(db: Db, source: string): Promise<WalSegmentRecord[]> {
  const r = await db.query(`SELECT * FROM wal_segments WHERE source = $1 ORDER BY seg_no, timeline`, [source]);
  return r.rows.map((x) => toSegment(x as Row));
}

/** The end of the stored WAL of a source (any timeline), or undefined when none is stored. */
export async function walStoredEnd(db: Db, source: string): Promise<bigint | undefined> {
  const r = await db.query<{ end: string | null }>(`SELECT max(end_lsn)::text AS end FROM wal_segments WHERE source = $1`, [source]);
  const end = r.rows[0]?.end;
  return end === null || end === undefined ? undefined : BigInt(end);
}

/**
 * The segment holding `lsn` (the server's flush position at `at`, stored already) gets
 * `coveredAt = at` when that is later than what it had: every transaction committed before
 * a segment's `coveredAt` is in that segment or an earlier one. A restore to a moment T needs
 * the segments up to the first whose `coveredAt` reaches T.
 */
export async function markWalCovered(db: Db, source: string, timeline: number, lsn: bigint, at: Date): Promise<void> {
  await db.query(
    `UPDATE wal_segments SET covered_at = GREATEST(covered_at, $4)
      WHERE source = $1 AND timeline = $2
        AND seg_no = (SELECT min(seg_no) FROM wal_segments WHERE source = $1 AND timeline = $2 AND end_lsn >= $3::numeric)`,
    [source, timeline, lsn.toString(), at],
  );
}

export async function deleteWalSegments(db: Db, source: string, keys: readonly string[]): Promise<void> {
  if (!keys.length) return;
  await db.query(`DELETE FROM wal_segments WHERE source = $1 AND key = ANY($2::text[])`, [source, keys]);
}

export async function upsertWalHistory(db: Db, source: string, timeline: number, key: string, content: string): Promise<void> {
  await db.query(
    `INSERT INTO wal_histories (source, timeline, key, content) VALUES ($1, $2, $3, $4)
     ON CONFLICT (source, timeline) DO UPDATE SET key = EXCLUDED.key, content = EXCLUDED.content`,
    [source, timeline, key, content],
  );
}

export async function listWalHistories(db: Db, source: string): Promise<{ timeline: number; key: string; content: string }[]> {
  const r = await db.query(`SELECT timeline, key, content FROM wal_histories WHERE source = $1 ORDER BY timeline`, [source]);
  return r.rows as { timeline: number; key: string; content: string }[];
}

export type WalStreamState = 'starting' | 'streaming' | 'error' | 'stopped';

export interface WalStreamRecord {
  source: string;
  state: WalStreamState;
  holder: string | null;
  slot: string;
  timeline: number | null;
  storedLsn: bigint | null;
  coveredLsn: bigint | null;
  coveredAt: Date | null;
  lastError: string | null;
  startedAt: Date | null;
  updatedAt: Date;
}

function toStream(r: Row): WalStreamRecord {
  const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as string));
  return {
    source: r.source as string,
    state: r.state as WalStreamState,
    holder: (r.holder as string | null) ?? null,
    slot: r.slot as string,
    timeline: (r.timeline as number | null) ?? null,
    storedLsn: big(r.stored_lsn),
    coveredLsn: big(r.covered_lsn),
    coveredAt: (r.covered_at as Date | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    updatedAt: r.updated_at as Date,
  };
}

export async function getWalStream(db: Db, source: string): Promise<WalStreamRecord | undefined> {
  const r = await db.query(`SELECT * FROM wal_streams WHERE source = $1`, [source]);
  return r.rows[0] ? toStream(r.rows[0] as Row) : undefined;
}

/** The streamer's state; `covered*` only ever move forward. */
export async function updateWalStream(
  db: Db,
  source: string,
  patch: {
    state: WalStreamState;
    holder?: string | null;
    slot: string;
    timeline?: number;
    storedLsn?: bigint;
    covered?: { lsn: bigint; at: Date };
    lastError?: string | null;
    started?: boolean;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO wal_streams (source, state, holder, slot, timeline, stored_lsn, covered_lsn, covered_at, last_error, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10 THEN now() END)
     ON CONFLICT (source) DO UPDATE SET
       state = EXCLUDED.state,
       holder = CASE WHEN $11 THEN EXCLUDED.holder ELSE wal_streams.holder END,
       slot = EXCLUDED.slot,
       timeline = COALESCE(EXCLUDED.timeline, wal_streams.timeline),
       stored_lsn = COALESCE(EXCLUDED.stored_lsn, wal_streams.stored_lsn),
       covered_lsn = GREATEST(EXCLUDED.covered_lsn, wal_streams.covered_lsn),
       covered_at = GREATEST(EXCLUDED.covered_at, wal_streams.covered_at),
       last_error = CASE WHEN $12 THEN EXCLUDED.last_error ELSE wal_streams.last_error END,
       started_at = COALESCE(EXCLUDED.started_at, wal_streams.started_at),
       updated_at = now()`,
    [
      source,
      patch.state,
      patch.holder ?? null,
      patch.slot,
      patch.timeline ?? null,
      patch.storedLsn?.toString() ?? null,
      patch.covered?.lsn.toString() ?? null,
      patch.covered?.at ?? null,
      patch.lastError ?? null,
      patch.started ?? false,
      patch.holder !== undefined,
      patch.lastError !== undefined,
    ],
  );
}

export interface WalEventRecord {
  id: number;
  source: string;
  kind: 'gap' | 'slot-created' | 'timeline';
  timeline: number | null;
  fromLsn: bigint | null;
  toLsn: bigint | null;
  message: string;
  at: Date;
}

export async function insertWalEvent(db: Db, e: Omit<WalEventRecord, 'id' | 'at'>): Promise<WalEventRecord> {
  const r = await db.query(
    `INSERT INTO wal_events (source, kind, timeline, from_lsn, to_lsn, message) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [e.source, e.kind, e.timeline, e.fromLsn?.toString() ?? null, e.toLsn?.toString() ?? null, e.message],
  );
  return toEvent(r.rows[0] as Row);
}

export async function listWalEvents(db: Db, source: string, kind?: WalEventRecord['kind']): Promise<WalEventRecord[]> {
  const r = await db.query(`SELECT * FROM wal_events WHERE source = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY at, id`, [
    source,
    kind ?? null,
  ]);
  return r.rows.map((x) => toEvent(x as Row));
}

function toEvent(r: Row): WalEventRecord {
  const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as string));
  return {
    id: Number(r.id),
    source: r.source as string,
    kind: r.kind as WalEventRecord['kind'],
    timeline: (r.timeline as number | null) ?? null,
    fromLsn: big(r.from_lsn),
    toLsn: big(r.to_lsn),
    message: r.message as string,
    at: r.at as Date,
  };
}

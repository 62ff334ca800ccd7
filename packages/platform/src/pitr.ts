import {
  type BackupRecord,
  type WalSegmentRecord,
  type WalStreamRecord,
  getWalStream,
  listBackups,
  listWalEvents,
  listWalHistories,
  listWalSegments,
} from '@bk/catalog';
import {
  BadRequestError,
  type PhysicalConsistency,
  type SourceConfig,
  errorMessage,
  physicalConsistencySchema,
  pitrSlotOf,
} from '@bk/core';
import { parseLsn, pitrNotes, pitrProblems, readWalSettings, segNoOf, slotRetainedBytes } from '@bk/postgres';
import type { Platform } from './platform.ts';

/**
 * The recovery window of a point-in-time PostgreSQL source, from the catalog: which moments
 * a restore can reach, where the archive has holes, and how far behind the server the
 * streamer is. A moment is restorable when a base backup was complete at or before it and
 * the WAL from that backup's end up to the moment is stored without a hole.
 */

export interface RecoveryWindow {
  from: string;
  to: string;
  timeline: number;
}

export interface WindowGap {
  from: string;
  to: string;
  reason: string;
}

export interface StreamingStatus {
  state: 'starting' | 'streaming' | 'error' | 'stopped' | 'never-started';
  /** Seconds from the newest covered moment to now: the recovery point objective met right now. */
  lagSeconds: number | null;
  coveredAt: string | null;
  holder: string | null;
  slot: string | null;
  lastError: string | null;
  updatedAt: string | null;
}

export interface RecoveryWindowReport {
  windows: RecoveryWindow[];
  gaps: WindowGap[];
  streaming: StreamingStatus;
  baseBackups: { id: string; consistentAt: string; timeline: number; startLsn: string; stopLsn: string }[];
}

interface BasePoint {
  backup: BackupRecord;
  physical: PhysicalConsistency;
  consistentAt: Date;
}

type Deps = Pick<Platform, 'db' | 'sources'>;

/** The base backups of a source that recovery can start from, oldest first. */
async function basePoints(platform: Pick<Platform, 'db'>, source: string): Promise<BasePoint[]> {
  const page = await listBackups(platform.db, { source, type: 'base', status: 'succeeded', limit: 1000 });
  const out: BasePoint[] = [];
  for (const b of page.items) {
    const parsed = physicalConsistencySchema.safeParse(b.metadata.physical);
    if (!parsed.success) continue;
    if ((b.verification as { status?: string } | null)?.status === 'corrupted') continue;
    out.push({ backup: b, physical: parsed.data, consistentAt: new Date(parsed.data.consistentAt) });
  }
  return out.sort((a, b) => a.consistentAt.getTime() - b.consistentAt.getTime());
}

/** Segments by number; each number may be held on several timelines. */
function bySegNo(segments: readonly WalSegmentRecord[]): Map<bigint, WalSegmentRecord[]> {
  const m = new Map<bigint, WalSegmentRecord[]>();
  for (const s of segments) {
    const list = m.get(s.segNo) ?? [];
    list.push(s);
    m.set(s.segNo, list);
  }
  return m;
}

/**
 * Walks the archive from a base backup's end: the last segment number reached without a
 * hole, and the newest moment that is covered by then (every transaction committed before it
 * is in WAL up to that segment). A partial segment ends the walk unless a later timeline
 * holds the same number (a timeline switch leaves the old timeline's last segment partial).
 * Where the walk reaches the archive's newest segment, the streamer's own coverage counts.
 */
function reachOf(base: BasePoint, a: Archive): { last: bigint | undefined; to: Date } {
  const size = base.physical.walSegmentSize;
  let n = segNoOf(parseLsn(base.physical.stopLsn), size);
  let to = base.consistentAt;
  let last: bigint | undefined;
  for (;;) {
    const here = a.segs.get(n);
    if (!here) break;
    last = n;
    for (const s of here) if (s.coveredAt && s.coveredAt > to) to = s.coveredAt;
    const complete = here.some((s) => !s.partial);
    const switched = here.length > 1;
    if (!complete && !switched) break;
    n += 1n;
  }
  const streamed = a.stream?.coveredAt;
  if (last !== undefined && last === a.newest && streamed && streamed > to) to = streamed;
  return { last, to };
}

/** What recovery windows are computed from: one read of the catalog. */
interface Archive {
  bases: BasePoint[];
  segs: Map<bigint, WalSegmentRecord[]>;
  newest: bigint | undefined;
  stream: WalStreamRecord | undefined;
}

async function loadArchive(platform: Pick<Platform, 'db'>, source: string): Promise<Archive> {
  const [bases, segments, stream] = await Promise.all([
    basePoints(platform, source),
    listWalSegments(platform.db, source),
    getWalStream(platform.db, source),
  ]);
  const newest = segments.reduce<bigint | undefined>((a, s) => (a === undefined || s.segNo > a ? s.segNo : a), undefined);
  return { bases, segs: bySegNo(segments), newest, stream };
}

/** The restorable windows: one per base backup, merged where the WAL between them is whole. */
function windowsOf(a: Archive): RecoveryWindow[] {
  const raw = a.bases.map((base) => ({
    from: base.consistentAt.toISOString(),
    to: reachOf(base, a).to.toISOString(),
    timeline: base.physical.timeline,
  }));
  const windows: RecoveryWindow[] = [];
  for (const w of raw.sort((x, y) => x.from.localeCompare(y.from))) {
    const prev = windows.at(-1);
    if (prev && w.from <= prev.to) {
      if (w.to > prev.to) prev.to = w.to;
      prev.timeline = w.timeline;
    } else windows.push({ ...w });
  }
  return windows;
}

function streamingOf(stream: WalStreamRecord | undefined, now = Date.now()): StreamingStatus {
  return {
    state: stream?.state ?? 'never-started',
    lagSeconds: stream?.coveredAt ? Math.max(0, Math.round((now - stream.coveredAt.getTime()) / 100) / 10) : null,
    coveredAt: stream?.coveredAt?.toISOString() ?? null,
    holder: stream?.holder ?? null,
    slot: stream?.slot ?? null,
    lastError: stream?.lastError ?? null,
    updatedAt: stream?.updatedAt.toISOString() ?? null,
  };
}

export async function recoveryWindowOf(platform: Deps, source: string): Promise<RecoveryWindowReport> {
  const [archive, gapEvents] = await Promise.all([loadArchive(platform, source), listWalEvents(platform.db, source, 'gap')]);
  const windows = windowsOf(archive);
  const gaps: WindowGap[] = [];
  for (let i = 1; i < windows.length; i++)
    gaps.push({ from: windows[i - 1]!.to, to: windows[i]!.from, reason: 'WAL between these moments is not stored' });
  for (const e of gapEvents) gaps.push({ from: e.at.toISOString(), to: e.at.toISOString(), reason: e.message });
  return {
    windows,
    gaps,
    streaming: streamingOf(archive.stream),
    baseBackups: archive.bases.map((b) => ({
      id: b.backup.id,
      consistentAt: b.physical.consistentAt,
      timeline: b.physical.timeline,
      startLsn: b.physical.startLsn,
      stopLsn: b.physical.stopLsn,
    })),
  };
}

/** What a restore to a moment uses: the base backup, and the WAL from its start up to the moment. */
export interface PointInTimePlan {
  base: BackupRecord;
  physical: PhysicalConsistency;
  targetTime: Date;
  /** The segments to fetch, in order (every timeline's copy of each number). */
  segments: WalSegmentRecord[];
  histories: { timeline: number; key: string; content: string }[];
}

/**
 * Picks the newest base backup complete at or before `targetTime` whose window reaches it,
 * and the WAL segments recovery needs: from the backup's start up to the first segment
 * covered past the moment. `400 time_not_covered` (naming the windows) otherwise.
 */
export async function planWalRecovery(platform: Deps, source: string, targetTime: Date): Promise<PointInTimePlan> {
  const [archive, histories] = await Promise.all([loadArchive(platform, source), listWalHistories(platform.db, source)]);
  const t = targetTime.toISOString();
  // Newest first: the less WAL to replay, the faster.
  for (const base of [...archive.bases].reverse()) {
    if (base.consistentAt > targetTime) continue;
    const reach = reachOf(base, archive);
    if (reach.to < targetTime) continue;
    const first = segNoOf(parseLsn(base.physical.startLsn), base.physical.walSegmentSize);
    const picked: WalSegmentRecord[] = [];
    for (let n = first; reach.last !== undefined && n <= reach.last; n++) {
      const here = archive.segs.get(n) ?? [];
      picked.push(...here);
      // The first segment whose coverage passed the moment holds the first commit after it
      // (or later WAL): recovery stops inside it.
      if (here.some((s) => s.coveredAt && s.coveredAt >= targetTime)) break;
    }
    return { base: base.backup, physical: base.physical, targetTime, segments: picked, histories };
  }
  const windows = windowsOf(archive);
  const covered = windows.length
    ? windows.map((w) => `${w.from} .. ${w.to} (timeline ${w.timeline})`).join(', ')
    : 'none yet (take a base backup: POST /v1/backups { source, type: "base" })';
  throw new BadRequestError(`${t} is not in the recovery window of source ${source}; restorable: ${covered}`, 'time_not_covered', {
    windows,
  });
}

/** What the operator must know about a source's point-in-time recovery set-up. */
export interface PitrStatus {
  enabled: true;
  slot: string;
  /** Server settings or privileges missing for WAL streaming (empty when all is set). */
  problems: string[];
  /** Advice that is not a fault (e.g. an unlimited max_slot_wal_keep_size). */
  notes: string[];
  streaming: StreamingStatus;
  /** WAL the server keeps for the slot (bytes), the disk it costs there; null when unknown. */
  slotRetainedBytes: number | null;
}

/**
 * The PITR status of a source (undefined when PITR is off): the server's settings checked
 * against what streaming needs, and the streamer's state. An unreachable server is a problem
 * that says so, not an error.
 */
export async function pitrStatusOf(
  platform: Deps,
  name: string,
  source: SourceConfig,
  signal?: AbortSignal,
  /** `checkSettings: false`: skip the settings check (metrics scrapes, which only need the slot's figure). */
  opts: { checkSettings?: boolean } = {},
): Promise<PitrStatus | undefined> {
  if (source.kind !== 'postgres' || !source.pitr?.enabled) return undefined;
  let problems: string[] = [];
  let notes: string[] = [];
  let retained: number | null = null;
  const slot = pitrSlotOf(name, source);
  try {
    if (opts.checkSettings !== false) {
      const settings = await readWalSettings(source.url, signal);
      problems = pitrProblems(settings);
      notes = pitrNotes(settings);
    }
    retained = (await slotRetainedBytes(source.url, slot, signal)) ?? null;
  } catch (e) {
    problems = [`cannot read the server's settings: ${errorMessage(e)}`];
  }
  const streaming = streamingOf(await getWalStream(platform.db, name));
  return { enabled: true, slot, problems, notes, streaming, slotRetainedBytes: retained };
}

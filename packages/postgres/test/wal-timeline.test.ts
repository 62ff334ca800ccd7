import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  historyFileName,
  parseTimelineHistory,
  segmentName,
  segmentStartLsn,
  segNoOf,
  ensurePhysicalSlot,
  streamWal,
  type WalSegmentWrite,
  type WalSink,
} from '@bk/postgres';
import { createTempDir, osUserIds, removeTempDir, startPostgres, testNamespace, type PostgresService } from '@bk/test-utils';
import { withPg } from './support.ts';

/*
 * A timeline switch, for real: a cluster writes WAL on timeline 1 with the slot reserving it,
 * is restarted as a standby (standby.signal, no upstream) and promoted, so it runs on
 * timeline 2. Streaming from the slot starts on timeline 1 (where the slot's WAL is), the
 * server ends that timeline at the switch point, and the streamer must store the partial
 * last segment of timeline 1, then 00000002.history, then go on with timeline 2.
 */

const SETTINGS = { wal_level: 'replica', max_wal_senders: '4', max_replication_slots: '4' } as const;
const SEG = 16 * 1024 * 1024;

type Event = { kind: 'put'; w: WalSegmentWrite } | { kind: 'history'; timeline: number; name: string; content: Buffer };

class RecordingSink implements WalSink {
  readonly events: Event[] = [];
  put(w: WalSegmentWrite): Promise<void> {
    this.events.push({ kind: 'put', w });
    return Promise.resolve();
  }
  putHistory(timeline: number, name: string, content: Buffer): Promise<void> {
    this.events.push({ kind: 'history', timeline, name, content });
    return Promise.resolve();
  }
}

let dir: string;
let server: PostgresService | undefined;
const slot = testNamespace('timeline');

beforeAll(async () => {
  const owner = process.getuid?.() === 0 ? await osUserIds('postgres') : undefined;
  dir = await createTempDir('bk-pgwal-tl-', owner);
  // `dir` keeps the cluster across the restart below (stop() leaves it in place).
  server = await startPostgres({ dir, settings: SETTINGS });
  await ensurePhysicalSlot(server.url, slot);
  await withPg(server.url, (c) =>
    c.query(`CREATE TABLE t (v text); INSERT INTO t SELECT repeat(md5(i::text), 4) FROM generate_series(1, 3000) AS i`),
  );
  await server.stop();
  server = undefined;
  const signal = join(dir, 'data', 'standby.signal');
  await writeFile(signal, '');
  if (owner !== undefined) await chown(signal, owner.uid, owner.gid);
  server = await startPostgres({ dir, settings: SETTINGS });
  await withPg(server.url, (c) => c.query('SELECT pg_promote(true, 60)'));
  await withPg(server.url, (c) => c.query(`INSERT INTO t SELECT 'after promotion' FROM generate_series(1, 100)`));
});

afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) await removeTempDir(dir);
});

it('follows a timeline switch: partial end of timeline 1, then its history, then timeline 2', async () => {
  const url = server!.url;
  const history = await withPg(url, async (c) => {
    // The checkpoint after a promotion may still be pending: ask the current WAL file instead.
    const { rows } = await c.query<{ file: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
    expect(rows[0]!.file.slice(0, 8)).toBe('00000002');
    return (await c.query<{ data: Buffer }>('SELECT pg_read_binary_file($1) AS data', [`pg_wal/${historyFileName(2)}`])).rows[0]!.data;
  });
  const switchLsn = parseTimelineHistory(history.toString('utf8'))[0]!.switchLsn;

  const sink = new RecordingSink();
  const ac = new AbortController();
  const done = streamWal({ url, slot, partialUploadMs: 200, statusIntervalMs: 200, signal: ac.signal }, sink);
  try {
    const deadline = Date.now() + 15_000;
    while (!sink.events.some((e) => e.kind === 'put' && e.w.timeline === 2) && Date.now() < deadline) await sleep(50);
  } finally {
    ac.abort();
    await done;
  }

  const kinds = sink.events.map((e) => (e.kind === 'put' ? `put tl${e.w.timeline}` : `history tl${e.timeline}`));
  const firstHistory = kinds.indexOf('history tl2');
  expect(firstHistory).toBeGreaterThan(0);
  expect(kinds.slice(0, firstHistory).every((k) => k === 'put tl1')).toBe(true);
  expect(kinds.slice(firstHistory + 1).every((k) => k === 'put tl2')).toBe(true);
  expect(kinds.at(-1)).toBe('put tl2');

  const stored = sink.events[firstHistory] as Extract<Event, { kind: 'history' }>;
  expect(stored.name).toBe('00000002.history');
  expect(stored.content.equals(history)).toBe(true);

  // Timeline 1 ends exactly at the switch point, with a partial segment.
  const lastTl1 = (sink.events[firstHistory - 1] as Extract<Event, { kind: 'put' }>).w;
  const switchSeg = segNoOf(switchLsn, SEG);
  expect(lastTl1).toMatchObject({ timeline: 1, segNo: switchSeg, complete: false, endLsn: switchLsn });
  expect(lastTl1.name).toBe(segmentName(1, switchSeg, SEG));
  // Its bytes are the ones the server copied into timeline 2's first segment.
  const offset = Number(switchLsn - segmentStartLsn(switchSeg, SEG));
  const tl2Prefix = await withPg(url, async (c) => {
    const { rows } = await c.query<{ data: Buffer }>('SELECT pg_read_binary_file($1, 0, $2) AS data', [
      `pg_wal/${segmentName(2, switchSeg, SEG)}`,
      offset,
    ]);
    return rows[0]!.data;
  });
  expect(lastTl1.data.equals(tl2Prefix)).toBe(true);

  // Timeline 2 restarts at the start of that segment, under its own name.
  const firstTl2 = (sink.events[firstHistory + 1] as Extract<Event, { kind: 'put' }>).w;
  expect(firstTl2).toMatchObject({ timeline: 2, segNo: switchSeg, name: segmentName(2, switchSeg, SEG) });
  expect(firstTl2.endLsn).toBeGreaterThan(switchLsn);
  expect(firstTl2.data.subarray(0, offset).equals(lastTl1.data)).toBe(true);
});

it('starting on a later timeline stores its history file before any of its WAL', async () => {
  const url = server!.url;
  await withPg(url, (c) => c.query(`INSERT INTO t VALUES ('next segment'); SELECT pg_switch_wal()`));
  const { switchLsn } = await withPg(url, async (c) => {
    const { rows } = await c.query<{ data: Buffer }>('SELECT pg_read_binary_file($1) AS data', [`pg_wal/${historyFileName(2)}`]);
    return parseTimelineHistory(rows[0]!.data.toString('utf8'))[0]!;
  });
  const startSeg = segNoOf(switchLsn, SEG) + 1n;
  const sink = new RecordingSink();
  const ac = new AbortController();
  const done = streamWal({ url, slot, startLsn: segmentStartLsn(startSeg, SEG) + 12345n, partialUploadMs: 200, signal: ac.signal }, sink);
  try {
    const deadline = Date.now() + 15_000;
    while (!sink.events.some((e) => e.kind === 'put') && Date.now() < deadline) await sleep(50);
  } finally {
    ac.abort();
    await done;
  }
  expect(sink.events[0]).toMatchObject({ kind: 'history', timeline: 2, name: '00000002.history' });
  // The start was rounded down to its segment: the first write holds the segment from byte 0.
  expect(sink.events[1]).toMatchObject({ kind: 'put', w: { timeline: 2, segNo: startSeg, name: segmentName(2, startSeg, SEG) } });
});

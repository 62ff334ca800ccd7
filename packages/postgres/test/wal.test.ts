import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  dropPhysicalSlot,
  ensurePhysicalSlot,
  parseLsn,
  pitrProblems,
  readWalSettings,
  segmentStartLsn,
  segNoOf,
  streamWal,
  WalStreamError,
  type StreamWalOptions,
  type WalCoverage,
  type WalSegmentWrite,
  type WalSink,
} from '@bk/postgres';
import { startPostgres, testNamespace, testServices, type PostgresService } from '@bk/test-utils';
import { withPg } from './support.ts';

/*
 * WAL streaming against a PostgreSQL cluster of this file's own, set up for replication: the
 * shared harness server runs wal_level = minimal without WAL senders (the configuration
 * test at the end checks that streamWal refuses it, permanently).
 */

const REPLICATION_SETTINGS = { wal_level: 'replica', max_wal_senders: '4', max_replication_slots: '4' } as const;

interface RecordedPut {
  w: WalSegmentWrite;
  /** performance.now() when the put started. */
  at: number;
}

/**
 * A sink that keeps everything in memory. `hold()` makes puts wait until `release()`;
 * `onPut` runs inside each put before it resolves (while the slot still holds that WAL).
 */
class MemorySink implements WalSink {
  readonly puts: RecordedPut[] = [];
  readonly histories: { timeline: number; name: string; content: Buffer }[] = [];
  readonly coverage: (WalCoverage & { storedAtCall: bigint | undefined })[] = [];
  /** End of the last put that resolved. */
  storedEnd: bigint | undefined;
  maxInFlight = 0;
  onPut: ((w: WalSegmentWrite) => Promise<void>) | undefined;
  private inFlight = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  hold(): void {
    this.gate ??= new Promise<void>((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
    this.openGate = undefined;
  }

  get completes(): WalSegmentWrite[] {
    return this.puts.filter((p) => p.w.complete).map((p) => p.w);
  }

  get partials(): RecordedPut[] {
    return this.puts.filter((p) => !p.w.complete);
  }

  async put(w: WalSegmentWrite): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.puts.push({ w, at: performance.now() });
    try {
      while (this.gate !== undefined) await this.gate;
      await this.onPut?.(w);
      this.storedEnd = w.endLsn;
    } finally {
      this.inFlight -= 1;
    }
  }

  putHistory(timeline: number, name: string, content: Buffer): Promise<void> {
    this.histories.push({ timeline, name, content });
    return Promise.resolve();
  }

  covered(c: WalCoverage): void {
    this.coverage.push({ ...c, storedAtCall: this.storedEnd });
  }
}

/** Polls `fn` until it returns something other than undefined or false. */
async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface SlotState {
  restartLsn: bigint | null;
  active: boolean;
}

async function slotState(url: string, slot: string): Promise<SlotState | undefined> {
  return withPg(url, async (c) => {
    const { rows } = await c.query<{ restart_lsn: string | null; active: boolean }>(
      'SELECT restart_lsn::text AS restart_lsn, active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const row = rows[0];
    return row === undefined ? undefined : { restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn), active: row.active };
  });
}

const SEG = 16 * 1024 * 1024;
let server: PostgresService;
let url: string;
const running: { ac: AbortController; done: Promise<unknown>; sink: WalSink }[] = [];
/** Slots made by the current test: the server has only four. */
const slots: string[] = [];

beforeAll(async () => {
  server = await startPostgres({ settings: REPLICATION_SETTINGS });
  url = server.url;
  await withPg(url, (c) => c.query('CREATE TABLE filler (id bigserial PRIMARY KEY, v text)'));
});

afterEach(async () => {
  // A failed test may leave a stream running: stop it, then free its slot.
  for (const r of running) {
    r.ac.abort();
    // streamWal waits for a put in flight: a held sink would keep it forever.
    if (r.sink instanceof MemorySink) r.sink.release();
  }
  await Promise.allSettled(running.splice(0).map((r) => r.done));
  for (const slot of slots.splice(0)) {
    await waitFor(`slot ${slot} to be released`, async () => (await slotState(url, slot))?.active !== true);
    await dropPhysicalSlot(url, slot);
  }
});

afterAll(async () => {
  await server?.stop();
});

/** Starts streamWal in the background; the test aborts it (afterEach does, if the test failed first). */
function start(slot: string, sink: WalSink, extra: Partial<StreamWalOptions> = {}): { ac: AbortController; done: Promise<void> } {
  const ac = new AbortController();
  const done = streamWal({ url, slot, partialUploadMs: 200, statusIntervalMs: 200, signal: ac.signal, ...extra }, sink);
  done.catch(() => {});
  running.push({ ac, done, sink });
  return { ac, done };
}

async function newSlot(label: string): Promise<string> {
  const slot = testNamespace(label);
  const made = await ensurePhysicalSlot(url, slot);
  slots.push(slot);
  expect(made).toMatchObject({ created: true, active: false, walStatus: 'reserved' });
  expect(made.restartLsn).not.toBeNull();
  return slot;
}

async function writeRows(n: number): Promise<void> {
  await withPg(url, (c) => c.query(`INSERT INTO filler (v) SELECT repeat(md5(i::text), 8) FROM generate_series(1, $1::int) AS i`, [n]));
}

/** Ends the current segment (after writing something, or there is nothing to end). */
async function switchWal(): Promise<bigint> {
  await writeRows(10);
  return withPg(url, async (c) => parseLsn((await c.query<{ lsn: string }>('SELECT pg_switch_wal()::text AS lsn')).rows[0]!.lsn));
}

async function walsenderWriteLsn(): Promise<bigint | undefined> {
  return withPg(url, async (c) => {
    const { rows } = await c.query<{ write_lsn: string | null }>(
      "SELECT write_lsn::text AS write_lsn FROM pg_stat_replication WHERE application_name = 'bk-wal-stream'",
    );
    const lsn = rows[0]?.write_lsn;
    return lsn === undefined || lsn === null ? undefined : parseLsn(lsn);
  });
}

describe('ensurePhysicalSlot', () => {
  it('creates a slot that reserves WAL once, and reports it the second time', async () => {
    const slot = await newSlot('ensure');
    const again = await ensurePhysicalSlot(url, slot);
    expect(again.created).toBe(false);
    expect(again.restartLsn).not.toBeNull();
    expect(await dropPhysicalSlot(url, slot)).toBe(true);
    expect(await dropPhysicalSlot(url, slot)).toBe(false);
  });
});

describe('streamWal', () => {
  it('delivers a complete segment byte for byte equal to the server file after pg_switch_wal', async () => {
    const slot = await newSlot('segment');
    const sink = new MemorySink();
    const files = new Map<string, boolean>();
    // Compare inside put(): until it resolves the slot keeps the file on the server.
    sink.onPut = async (w) => {
      if (!w.complete) return;
      const file = await withPg(url, async (c) => {
        const { rows } = await c.query<{ data: Buffer }>('SELECT pg_read_binary_file($1) AS data', [`pg_wal/${w.name}`]);
        return rows[0]!.data;
      });
      files.set(w.name, file.equals(w.data));
    };
    const { ac, done } = start(slot, sink);
    await writeRows(2000);
    const switchedAt = await switchWal();
    const last = segNoOf(switchedAt, SEG);
    await waitFor('the switched segment', () => sink.storedEnd !== undefined && sink.storedEnd >= segmentStartLsn(last + 1n, SEG));
    ac.abort();
    await done;

    const completes = sink.completes;
    expect(completes.length).toBeGreaterThanOrEqual(1);
    for (const w of completes) {
      expect(w.data.length).toBe(SEG);
      expect(w.endLsn).toBe(segmentStartLsn(w.segNo + 1n, SEG));
      expect(files.get(w.name), w.name).toBe(true);
    }
    expect(completes.at(-1)?.segNo).toBe(last);
    // Everything in WAL order, one put at a time.
    const ends = sink.puts.map((p) => p.w.endLsn);
    expect([...ends].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ends);
    expect(sink.maxInFlight).toBe(1);
  });

  it('never lets the slot pass what the sink confirmed, and pauses when the sink falls behind', async () => {
    const slot = await newSlot('slotguard');
    const initial = (await slotState(url, slot))!.restartLsn!;
    const firstSeg = segNoOf(initial, SEG);
    const sink = new MemorySink();
    sink.hold();
    const { ac, done } = start(slot, sink, { partialUploadMs: 150, statusIntervalMs: 100 });
    const restartSamples: { restart: bigint; stored: bigint }[] = [];
    const sample = async (): Promise<void> => {
      const restart = (await slotState(url, slot))!.restartLsn!;
      restartSamples.push({ restart, stored: sink.storedEnd ?? initial });
    };

    // Seven segments' worth of WAL while the first put hangs.
    let serverEnd = 0n;
    for (let i = 0; i < 7; i++) serverEnd = await switchWal();
    expect(segNoOf(serverEnd, SEG)).toBeGreaterThanOrEqual(firstSeg + 6n);
    // Wait until the streamer reports what it received, then watch it stay put.
    await waitFor('the first status update', walsenderWriteLsn);
    for (let i = 0; i < 10; i++) {
      await sample();
      await sleep(100);
    }
    expect(sink.storedEnd).toBeUndefined();
    for (const s of restartSamples) expect(s.restart).toBe(initial);
    // Memory stays bounded: the current segment plus four complete ones, no further.
    const written = (await walsenderWriteLsn())!;
    expect(written).toBeLessThan(segmentStartLsn(firstSeg + 5n, SEG));
    expect(sink.puts.length).toBe(1);

    sink.release();
    const target = segmentStartLsn(segNoOf(serverEnd, SEG), SEG);
    await waitFor('the slot to follow the sink', async () => {
      await sample();
      const last = restartSamples.at(-1)!;
      return sink.storedEnd !== undefined && sink.storedEnd >= target && last.restart === sink.storedEnd;
    });
    ac.abort();
    await done;

    for (const s of restartSamples) expect(s.restart <= (s.stored > initial ? s.stored : initial)).toBe(true);
    expect(restartSamples.at(-1)!.restart).toBeGreaterThan(initial);
    const segNos = sink.completes.map((w) => w.segNo);
    expect(segNos.slice(0, 6)).toEqual([0n, 1n, 2n, 3n, 4n, 5n].map((n) => firstSeg + n));
    expect(sink.maxInFlight).toBe(1);
  });

  it('puts the growing segment every partialUploadMs and keeps coverage current on an idle server', async () => {
    const slot = await newSlot('partial');
    const sink = new MemorySink();
    const partialUploadMs = 250;
    const { ac, done } = start(slot, sink, { partialUploadMs });

    const busyUntil = Date.now() + 2000;
    while (Date.now() < busyUntil) {
      await writeRows(20);
      await sleep(50);
    }
    // A commit that waits for its flush (the harness runs synchronous_commit = off): coverage
    // past its time must include its WAL.
    const committed = await withPg(url, async (c) => {
      await c.query('SET synchronous_commit = on');
      await c.query(`INSERT INTO filler (v) VALUES ('must be covered')`);
      const { rows } = await c.query<{ lsn: string; ms: string }>(
        'SELECT pg_current_wal_flush_lsn()::text AS lsn, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms',
      );
      return { lsn: parseLsn(rows[0]!.lsn), at: new Date(Number(rows[0]!.ms)) };
    });
    const cover = await waitFor('coverage past the commit', () => sink.coverage.find((c) => c.serverTime >= committed.at));
    expect(cover.lsn).toBeGreaterThanOrEqual(committed.lsn);

    // Idle: no new WAL to speak of, yet coverage keeps moving with the clock.
    const idleFrom = sink.coverage.length;
    await sleep(1500);
    ac.abort();
    await done;

    const partials = sink.partials;
    expect(partials.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < partials.length; i++) {
      const [a, b] = [partials[i - 1]!, partials[i]!];
      // Generous: "at most every partialUploadMs" with timer jitter.
      expect(b.at - a.at).toBeGreaterThan(partialUploadMs * 0.5);
      if (a.w.segNo === b.w.segNo) expect(b.w.data.length).toBeGreaterThan(a.w.data.length);
      if (a.w.segNo === b.w.segNo) expect(b.w.data.subarray(0, a.w.data.length).equals(a.w.data)).toBe(true);
    }
    for (const c of sink.coverage) expect(c.storedAtCall !== undefined && c.lsn <= c.storedAtCall).toBe(true);
    const idle = sink.coverage.slice(idleFrom);
    expect(idle.length).toBeGreaterThanOrEqual(3);
    const times = sink.coverage.map((c) => c.serverTime.getTime());
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
    expect(Date.now() - idle.at(-1)!.serverTime.getTime()).toBeLessThan(2000);
  });

  it('refuses a second streamer on a slot that is in use', async () => {
    const slot = await newSlot('inuse');
    const first = start(slot, new MemorySink());
    await waitFor('the first streamer to hold the slot', async () => (await slotState(url, slot))?.active);
    const second = new MemorySink();
    const err = await streamWal({ url, slot, partialUploadMs: 200, signal: new AbortController().signal }, second).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalStreamError);
    expect(err).toMatchObject({ code: 'SLOT_IN_USE', permanent: false });
    expect((err as Error).message).toMatch(new RegExp(`replication slot "${slot}" .* is in use by another process.*active for PID`));
    expect(second.puts).toEqual([]);
    first.ac.abort();
    await first.done;
  });

  it('stops cleanly on abort: resolves, puts nothing more, releases the slot', async () => {
    const slot = await newSlot('abort');
    const sink = new MemorySink();
    const { ac, done } = start(slot, sink);
    await writeRows(100);
    await waitFor('a first put', () => sink.storedEnd !== undefined);
    // Abort while a put hangs: the promise settles only after that put did.
    sink.hold();
    await writeRows(100);
    await waitFor('a put in flight', () => sink.puts.length >= 2);
    ac.abort();
    let settled = false;
    void done.then(() => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    sink.release();
    await expect(done).resolves.toBeUndefined();
    const puts = sink.puts.length;
    await writeRows(100);
    await sleep(500);
    expect(sink.puts.length).toBe(puts);
    await waitFor('the slot to be released', async () => (await slotState(url, slot))?.active === false);
    expect(await dropPhysicalSlot(url, slot)).toBe(true);
  });

  it('rejects, retryable, when the server ends the connection', async () => {
    const slot = await newSlot('killed');
    const sink = new MemorySink();
    const { done } = start(slot, sink);
    await waitFor('the streamer to hold the slot', async () => (await slotState(url, slot))?.active);
    await withPg(url, (c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'bk-wal-stream'"));
    const err = await done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'CONNECTION_LOST', permanent: false });
    expect((err as Error).message).toMatch(/closed the WAL streaming connection|lost/);
  });

  it('returns at once when aborted before it starts', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(streamWal({ url, slot: 'whatever', partialUploadMs: 100, signal: ac.signal }, new MemorySink())).resolves.toBeUndefined();
  });
});

describe('streamWal failures that retrying cannot fix', () => {
  const signal = new AbortController().signal;

  it('a slot that does not exist', async () => {
    await expect(streamWal({ url, slot: testNamespace('nope'), partialUploadMs: 100, signal }, new MemorySink())).rejects.toMatchObject({
      code: 'SLOT_MISSING',
      permanent: true,
      message: expect.stringMatching(/does not exist/),
    });
  });

  it('an invalid slot name, refused before anything is sent', async () => {
    await expect(streamWal({ url, slot: 'x"; DROP', partialUploadMs: 100, signal }, new MemorySink())).rejects.toMatchObject({
      code: 'INVALID_SLOT_NAME',
      permanent: true,
    });
    await expect(ensurePhysicalSlot(url, 'Bad-Name')).rejects.toMatchObject({ code: 'INVALID_SLOT_NAME' });
  });

  it('a role without REPLICATION', async () => {
    const slot = await newSlot('norepl');
    const role = testNamespace('norepl');
    await withPg(url, (c) => c.query(`CREATE ROLE ${role} LOGIN`));
    const u = new URL(url);
    u.username = role;
    const settings = await readWalSettings(u.toString());
    expect(settings).toMatchObject({ canReplicate: false, role });
    await expect(streamWal({ url: u.toString(), slot, partialUploadMs: 100, signal }, new MemorySink())).rejects.toMatchObject({
      code: 'NO_REPLICATION_PRIVILEGE',
      permanent: true,
      message: expect.stringMatching(/REPLICATION/),
    });
  });

  it('a server with wal_level = minimal and no WAL senders (the shared harness server)', async () => {
    const harness = testServices().postgres.url;
    const settings = await readWalSettings(harness);
    expect(settings).toMatchObject({ walLevel: 'minimal', maxWalSenders: 0, walSegmentSize: SEG, canReplicate: true });
    const problems = pitrProblems(settings);
    expect(problems.join('\n')).toMatch(/wal_level is 'minimal'/);
    expect(problems.join('\n')).toMatch(/max_wal_senders is 0/);
    await expect(ensurePhysicalSlot(harness, testNamespace('minimal'))).rejects.toMatchObject({ permanent: true });
    await expect(streamWal({ url: harness, slot: 'bk_wal', partialUploadMs: 100, signal }, new MemorySink())).rejects.toMatchObject({
      code: 'NOT_CONFIGURED',
      permanent: true,
      message: expect.stringMatching(/wal_level/),
    });
  });

  it('reads this server as ready', async () => {
    const settings = await readWalSettings(url);
    expect(pitrProblems(settings)).toEqual([]);
    expect(settings).toMatchObject({
      walLevel: 'replica',
      maxWalSenders: 4,
      maxReplicationSlots: 4,
      walSegmentSize: SEG,
      maxSlotWalKeepSize: -1,
    });
  });
});

/**
 * Continuous WAL archiving over the physical replication protocol, with the slot advanced
 * only past WAL the sink has durably stored.
 *
 * Why not pg_receivewal: it reports its local fsync position as "flush", so the server moves
 * the slot's restart_lsn (and may recycle WAL) before the WAL reaches object storage; a
 * SIGKILL between the two leaves a gap. Here "flush" in every standby status update is the
 * end of the last put() that resolved, so after any crash the slot still holds everything
 * not stored, and a restart from the slot's restart_lsn (rounded down to its segment, which
 * the server keeps whole) re-sends it.
 *
 * One replication connection streams; one ordinary connection takes flush probes
 * (pg_current_wal_flush_lsn with the server's clock) for {@link WalSink.covered}.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { closeClient, connect } from '../connection.ts';
import { hostPort, parseTarget, type PgTarget } from '../target.ts';
import { CoverageTracker } from './coverage.ts';
import { walErrorFrom, WalStreamError, type WalErrorContext } from './errors.ts';
import { checkSegmentSize, formatLsn, parseLsn, segmentFloor } from './lsn.ts';
import { parseServerMessage, standbyStatusUpdate } from './messages.ts';
import { PutQueue } from './put-queue.ts';
import {
  connectReplication,
  identifySystem,
  startReplication,
  timelineHistory,
  type ReplicationCopy,
  type TimelineEnd,
} from './replication.ts';
import { SegmentAssembler } from './segments.ts';
import { pitrProblems, readPhysicalSlot, readWalSettingsWith, validateSlotName } from './slot.ts';
import { parseTimelineHistory, timelineOfLsn } from './timeline.ts';
import type { WalSegmentWrite, WalSink } from './types.ts';

export type { WalCoverage, WalSegmentWrite, WalSink } from './types.ts';

export interface WalStreamLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export interface StreamWalOptions {
  /** An ordinary postgres:// URL; the replication connection is derived from it. */
  url: string;
  slot: string;
  /**
   * Where to start: default the slot's restart_lsn rounded down to its segment start (the
   * server keeps that whole segment). Always rounded down to a segment boundary.
   */
  startLsn?: bigint;
  /** Default: the timeline holding the start position, by the server's timeline history. */
  timeline?: number;
  /** The segment being written is put() (complete: false) at most this often, and only with new bytes. */
  partialUploadMs: number;
  /**
   * Standby status updates, default 10 s; one also goes out right after each put resolves.
   * Keep it well under the server's wal_sender_timeout (60 s): while the sink is too slow the
   * stream is paused and the server's keepalive requests go unread.
   */
  statusIntervalMs?: number;
  /**
   * Stops streaming: nothing more is put, the connections close, and the promise resolves.
   * It settles only once a put in flight has settled (a late put could otherwise overwrite a
   * newer partial of the same segment), so give the sink the same signal.
   */
  signal: AbortSignal;
  log?: WalStreamLog;
}

/** Complete segments held in memory (the one being put included) before the stream pauses. */
const MAX_QUEUED_SEGMENTS = 4;
const DEFAULT_STATUS_INTERVAL_MS = 10_000;

/**
 * Streams WAL from the slot into `sink` until `opts.signal` aborts (then resolves) or
 * something fails (then rejects: a {@link WalStreamError} with `permanent` set when retrying
 * cannot help, the connector's connection errors, or the sink's own error unchanged).
 * Follows timeline switches: the old timeline's last segment is put as partial, the new
 * timeline's history file is put, and streaming goes on.
 */
export async function streamWal(opts: StreamWalOptions, sink: WalSink): Promise<void> {
  validateSlotName(opts.slot);
  if (!(opts.partialUploadMs > 0)) throw new RangeError('partialUploadMs must be positive');
  if (opts.signal.aborted) return;
  await new WalStream(opts, sink).run();
}

const HALTED = Symbol('halted');

interface Started {
  probe: pg.Client;
  repl: pg.Client;
  segSize: number;
  /** The slot's restart_lsn when we looked; null when it reserves no WAL. */
  slotRestartLsn: bigint | null;
}

class WalStream {
  private readonly target: PgTarget;
  private readonly ctx: WalErrorContext;
  /** Fires on the caller's abort or on the first failure: every wait races it. */
  private readonly halt = new AbortController();
  private failure: unknown;
  private readonly queue: PutQueue;
  private readonly coverage = new CoverageTracker();
  private assembler: SegmentAssembler | undefined;
  private copy: ReplicationCopy | undefined;
  /** End of the last put that resolved: what the slot may advance to. */
  private storedEnd: bigint | undefined;
  private covering = false;
  /** Cancels the periodic tasks. */
  private readonly stopTimers: (() => void)[] = [];
  private warnedUnknown = false;

  constructor(
    private readonly opts: StreamWalOptions,
    private readonly sink: WalSink,
  ) {
    this.target = parseTarget(opts.url);
    this.ctx = { slot: opts.slot, hostPort: hostPort(this.target), user: this.target.user, database: this.target.database };
    this.queue = new PutQueue({
      sink,
      maxQueued: MAX_QUEUED_SEGMENTS,
      onStored: (w) => {
        // Monotonic, so the slot never moves back: see partialOf for why a put may end lower.
        if (this.storedEnd === undefined || w.endLsn > this.storedEnd) this.storedEnd = w.endLsn;
        this.sendStatus();
        this.advanceCoverage();
      },
      onRoom: () => this.copy?.resume(),
      onError: (err) => this.fail(err),
    });
  }

  async run(): Promise<void> {
    const onAbort = (): void => this.halt.abort();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    const clients: pg.Client[] = [];
    try {
      const started = await this.start(clients);
      if (started !== undefined) await this.stream(started);
    } catch (err) {
      this.fail(err);
    } finally {
      this.opts.signal.removeEventListener('abort', onAbort);
      this.halt.abort();
      for (const stop of this.stopTimers) stop();
      await this.queue.stop();
      await Promise.all(clients.map((c) => closeClient(c)));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Records the first failure (none once the caller aborted: the abort explains everything after it). */
  private fail(err: unknown): void {
    if (this.halted) return;
    this.failure = err;
    this.halt.abort();
  }

  private get halted(): boolean {
    return this.halt.signal.aborted;
  }

  /** `p`, or HALTED as soon as the stream halts; a late rejection of `p` is ignored. */
  private until<T>(p: Promise<T>): Promise<T | typeof HALTED> {
    p.catch(() => {});
    if (this.halted) return Promise.resolve(HALTED);
    return new Promise((resolve, reject) => {
      const onHalt = (): void => resolve(HALTED);
      this.halt.signal.addEventListener('abort', onHalt, { once: true });
      p.then(resolve, reject).finally(() => this.halt.signal.removeEventListener('abort', onHalt));
    });
  }

  /** Connects, checks the server and slot; undefined when halted meanwhile. */
  private async start(clients: pg.Client[]): Promise<Started | undefined> {
    const signal = this.halt.signal;
    const probe = await connect(this.target, { signal, applicationName: 'bk-wal-probe' });
    clients.push(probe);
    probe.on('error', (err) => this.fail(walErrorFrom(err, this.ctx)));
    const settings = await this.until(readWalSettingsWith(probe));
    if (settings === HALTED) return undefined;
    const problems = pitrProblems(settings);
    if (problems.length > 0) {
      const code = settings.inRecovery
        ? 'UNSUPPORTED_SERVER'
        : !settings.canReplicate && problems.length === 1
          ? 'NO_REPLICATION_PRIVILEGE'
          : 'NOT_CONFIGURED';
      throw new WalStreamError(code, `${this.ctx.hostPort} cannot stream WAL: ${problems.join('; ')}`);
    }
    checkSegmentSize(settings.walSegmentSize);
    const slot = await this.until(readPhysicalSlot(probe, this.opts.slot));
    if (slot === HALTED) return undefined;
    if (slot === undefined) {
      throw new WalStreamError(
        'SLOT_MISSING',
        `replication slot "${this.opts.slot}" does not exist on ${this.ctx.hostPort}; create it with ensurePhysicalSlot`,
      );
    }
    if (slot.walStatus === 'lost') {
      throw new WalStreamError(
        'SLOT_INVALIDATED',
        `replication slot "${this.opts.slot}" on ${this.ctx.hostPort} lost WAL it should have kept (wal_status lost): drop it, recreate it and take a new base backup`,
      );
    }
    const repl = await connectReplication(this.target, { slot: this.opts.slot, signal, applicationName: 'bk-wal-stream' });
    clients.push(repl);
    repl.on('error', (err) => this.fail(walErrorFrom(err, this.ctx)));
    return { probe, repl, segSize: settings.walSegmentSize, slotRestartLsn: slot.restartLsn };
  }

  private async stream({ probe, repl, segSize, slotRestartLsn }: Started): Promise<void> {
    const id = await this.until(identifySystem(repl));
    if (id === HALTED) return;
    // A slot without reserved WAL: the segment being written now is still on the server.
    let startLsn = segmentFloor(this.opts.startLsn ?? slotRestartLsn ?? id.xlogPos, segSize);
    const first = this.opts.timeline ?? (await this.timelineHolding(repl, startLsn, id.timeline));
    if (first === HALTED) return;
    let timeline: number = first;
    this.opts.log?.info({ slot: this.opts.slot, timeline, startLsn: formatLsn(startLsn), systemId: id.systemId }, 'WAL streaming starts');
    this.every(this.opts.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS, () => {
      this.sendStatus();
      return Promise.resolve();
    });
    this.every(this.opts.partialUploadMs, () => this.tick(probe));
    // The archive needs the history of the timeline it streams, stored before its WAL.
    if (timeline > 1 && !(await this.putHistory(repl, timeline))) return;
    for (;;) {
      const end = await this.until(this.streamTimeline(repl, timeline, startLsn, segSize));
      if (end === HALTED) return;
      this.opts.log?.info(
        { slot: this.opts.slot, timeline, nextTimeline: end.timeline, switchLsn: formatLsn(end.startLsn) },
        'WAL timeline ended; following the next one',
      );
      if (!(await this.putHistory(repl, end.timeline))) return;
      timeline = end.timeline;
      // As pg_receivewal: the new timeline's first segment holds the old one's bytes before
      // the switch too, so it is streamed (and stored) whole, under its new name.
      startLsn = segmentFloor(end.startLsn, segSize);
    }
  }

  private async timelineHolding(repl: pg.Client, lsn: bigint, current: number): Promise<number | typeof HALTED> {
    if (current === 1) return 1;
    const history = await this.until(timelineHistory(repl, current));
    if (history === HALTED) return HALTED;
    return timelineOfLsn(lsn, parseTimelineHistory(history.content.toString('utf8')), current);
  }

  /** False when halted. */
  private async putHistory(repl: pg.Client, timeline: number): Promise<boolean> {
    const history = await this.until(timelineHistory(repl, timeline));
    if (history === HALTED) return false;
    return (await this.until(this.sink.putHistory(timeline, history.name, history.content))) !== HALTED;
  }

  /**
   * One START_REPLICATION: resolves when the server ends the timeline (after the last
   * partial segment is stored and the CopyDone exchange is over) with where to go next.
   */
  private streamTimeline(repl: pg.Client, timeline: number, startLsn: bigint, segSize: number): Promise<TimelineEnd> {
    const assembler = new SegmentAssembler(timeline, startLsn, segSize);
    this.assembler = assembler;
    const copy = startReplication(repl, this.opts.slot, timeline, startLsn);
    this.copy = copy;
    return new Promise<TimelineEnd>((resolve, reject) => {
      copy.on('error', (err) => reject(walErrorFrom(err, this.ctx)));
      copy.on('data', (payload: Buffer) => {
        try {
          this.onMessage(copy, assembler, payload);
        } catch (err) {
          reject(
            err instanceof RangeError ? new WalStreamError('PROTOCOL', `bad replication message: ${err.message}`, { cause: err }) : err,
          );
        }
      });
      copy.on('end', () => {
        this.endTimeline(copy, assembler).then(resolve, reject);
      });
    });
  }

  private onMessage(copy: ReplicationCopy, assembler: SegmentAssembler, payload: Buffer): void {
    if (this.halted) return;
    const msg = parseServerMessage(payload);
    switch (msg.kind) {
      case 'xlog':
        for (const w of assembler.append(msg.dataStart, msg.data)) this.queue.pushComplete(w);
        // Bounded memory: the server waits (TCP backpressure) until a put makes room.
        if (this.queue.full) copy.pause();
        break;
      case 'keepalive':
        if (msg.replyRequested) this.sendStatus();
        break;
      case 'unknown':
        if (!this.warnedUnknown) {
          this.warnedUnknown = true;
          this.opts.log?.warn({ slot: this.opts.slot, type: msg.type }, 'ignoring a replication message of unknown type');
        }
        break;
    }
  }

  /**
   * The server sent CopyDone: the timeline it was streaming is over (it was promoted, or we
   * asked for a historic one). It waits for our CopyDone and meanwhile still reads status
   * updates, so store the last partial segment first, report it, then finish the exchange.
   */
  private async endTimeline(copy: ReplicationCopy, assembler: SegmentAssembler): Promise<TimelineEnd> {
    this.queue.requestPartial(() => this.partialOf(assembler));
    await this.queue.drained();
    if (this.halted) throw new Error('halted');
    this.sendStatus();
    const finished = new Promise<void>((resolve, reject) => {
      copy.once('finish', resolve);
      copy.once('error', reject);
    });
    this.copy = undefined;
    copy.end();
    await finished;
    if (copy.timelineEnd === undefined) {
      throw new WalStreamError('PROTOCOL', `the server on ${this.ctx.hostPort} ended WAL streaming without naming a next timeline`);
    }
    return copy.timelineEnd;
  }

  /**
   * Every `ms`: a flush probe, then a partial put of the current segment (if it has new
   * bytes). The probe comes first, and the put waits (briefly) until the stream has received
   * the probed position, so that the put covers the probe just taken: under a steady write
   * load a probe taken after the put is already past it, and the covered moment would trail
   * the server by two intervals instead of one.
   */
  private async tick(probe: pg.Client): Promise<void> {
    const row = await this.probeFlush(probe);
    if (row === undefined || row.in_recovery || row.lsn === null) {
      throw new WalStreamError(
        'UNSUPPORTED_SERVER',
        `${this.ctx.hostPort} is in recovery (a standby): WAL is streamed from primaries only`,
      );
    }
    const lsn = parseLsn(row.lsn);
    this.coverage.add({ lsn, serverTime: new Date(Number(row.ms)) });
    // The walsender normally trails the flush position by milliseconds; a slow stream only
    // delays coverage to the next tick.
    const until = Date.now() + Math.min(1000, this.opts.partialUploadMs / 4);
    while (!this.halted && (this.assembler?.received ?? lsn) < lsn && Date.now() < until) await sleep(10);
    const assembler = this.assembler;
    if (assembler !== undefined) this.queue.requestPartial(() => this.partialOf(assembler));
    this.advanceCoverage();
  }

  private async probeFlush(probe: pg.Client): Promise<{ in_recovery: boolean; lsn: string | null; ms: string } | undefined> {
    try {
      // The clock in whole milliseconds, rounded down: a Date holds no microseconds, and
      // rounding up could claim a commit made in that last fraction of a millisecond.
      const { rows } = await probe.query<{ in_recovery: boolean; lsn: string | null; ms: string }>(
        `SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
                CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_current_wal_flush_lsn()::text END AS lsn,
                floor(extract(epoch FROM pg_catalog.clock_timestamp()) * 1000)::bigint::text AS ms`,
      );
      return rows[0];
    } catch (err) {
      throw walErrorFrom(err, this.ctx);
    }
  }

  /**
   * The current segment so far, unless it adds nothing to what is stored: after a timeline
   * switch the new timeline restarts at its segment's start, and until it passes the switch
   * point its bytes are the old timeline's, which are stored already.
   */
  private partialOf(assembler: SegmentAssembler): WalSegmentWrite | undefined {
    if (this.storedEnd !== undefined && assembler.received <= this.storedEnd) return undefined;
    return assembler.takePartial();
  }

  /** Tells the sink the newest probe the stored WAL covers; one call at a time. */
  private advanceCoverage(): void {
    const covered = this.sink.covered;
    const stored = this.storedEnd;
    if (covered === undefined || stored === undefined || this.covering || this.halted) return;
    const probe = this.coverage.take(stored);
    if (probe === undefined) return;
    this.covering = true;
    const timeline = this.assembler?.timeline ?? 1;
    Promise.resolve()
      .then(() => covered.call(this.sink, { timeline, lsn: stored, serverTime: probe.serverTime }))
      .then(
        () => {
          this.covering = false;
          this.advanceCoverage();
        },
        (err: unknown) => this.fail(err),
      );
  }

  /**
   * write = received; flush = apply = stored. The server sets a physical slot's restart_lsn
   * to flush (0 means "no news"), so the slot never passes WAL the sink has not confirmed.
   */
  private sendStatus(): void {
    const copy = this.copy;
    if (copy === undefined || this.halted || !copy.writable) return;
    const flush = this.storedEnd ?? 0n;
    // After a timeline switch the new timeline restarts at its segment's start, below what
    // is already stored from the old one: never report having received less than stored.
    const received = this.assembler?.received ?? 0n;
    copy.write(standbyStatusUpdate({ write: received > flush ? received : flush, flush, apply: flush, now: new Date() }));
  }

  /** Runs `fn` every `ms` (runs never overlap) until halted; its failure fails the stream. */
  private every(ms: number, fn: () => Promise<void>): void {
    let timer: NodeJS.Timeout | undefined;
    const schedule = (): void => {
      if (this.halted) return;
      timer = setTimeout(() => {
        fn().then(schedule, (err: unknown) => this.fail(err));
      }, ms);
    };
    this.stopTimers.push(() => clearTimeout(timer));
    schedule();
  }
}

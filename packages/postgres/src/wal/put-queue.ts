/**
 * Hands segment writes to the sink one at a time, in WAL order: complete segments first (in
 * the order they filled), then, when asked, the current segment so far. Sequential puts are
 * what make "the last put that resolved" mean "everything before its endLsn is stored".
 */

import type { WalSegmentWrite, WalSink } from './types.ts';

export interface PutQueueOptions {
  sink: Pick<WalSink, 'put'>;
  /** Complete segments held at most (the one being put included) before {@link PutQueue.full}. */
  maxQueued: number;
  /** A put resolved: WAL up to w.endLsn is stored. */
  onStored(w: WalSegmentWrite): void;
  /** {@link PutQueue.full} went from true to false. */
  onRoom(): void;
  /** A put failed; the queue stops. */
  onError(err: unknown): void;
}

export class PutQueue {
  private readonly segments: WalSegmentWrite[] = [];
  private partialSource: (() => WalSegmentWrite | undefined) | undefined;
  private held = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: PutQueueOptions) {}

  /** Enough complete segments are held: stop receiving until {@link PutQueueOptions.onRoom}. */
  get full(): boolean {
    return this.held >= this.opts.maxQueued;
  }

  pushComplete(w: WalSegmentWrite): void {
    if (this.stopped) return;
    this.segments.push(w);
    this.held += 1;
    this.kick();
  }

  /**
   * Asks for one partial put once the complete segments ahead are stored; `source` is read
   * then, so the put carries every byte received by that time (or nothing, if none are new).
   * Requests made before that put starts collapse into it.
   */
  requestPartial(source: () => WalSegmentWrite | undefined): void {
    if (this.stopped) return;
    this.partialSource = source;
    this.kick();
  }

  /** Resolves when nothing is queued or being put (or the queue stopped). */
  async drained(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Takes no more work; resolves once the put in flight, if any, has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.segments.length = 0;
    this.partialSource = undefined;
    await this.drained();
  }

  private kick(): void {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  private next(): WalSegmentWrite | undefined {
    const segment = this.segments.shift();
    if (segment !== undefined) return segment;
    const source = this.partialSource;
    this.partialSource = undefined;
    return source?.();
  }

  private async run(): Promise<void> {
    for (let w = this.next(); w !== undefined && !this.stopped; w = this.next()) {
      try {
        await this.opts.sink.put(w);
      } catch (err) {
        this.stopped = true;
        this.opts.onError(err);
        return;
      }
      if (this.stopped) return;
      const wasFull = this.full;
      if (w.complete) this.held -= 1;
      this.opts.onStored(w);
      if (wasFull && !this.full) this.opts.onRoom();
    }
  }
}

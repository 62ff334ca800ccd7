/**
 * Which point in time the stored WAL covers. A probe pairs the server's WAL flush position
 * with the server's clock; once everything up to that position is stored, every commit the
 * server had flushed by then is stored. On an idle server the newest probe qualifies at
 * once (no new WAL), so coverage keeps up with the wall clock.
 */

export interface FlushProbe {
  lsn: bigint;
  serverTime: Date;
}

export class CoverageTracker {
  /** Oldest first; flush positions only grow, so the probes covered form a prefix. */
  private readonly probes: FlushProbe[] = [];

  /** `limit` bounds memory while the sink lags far behind; the oldest probes go first. */
  constructor(private readonly limit = 256) {}

  add(probe: FlushProbe): void {
    this.probes.push(probe);
    if (this.probes.length > this.limit) this.probes.shift();
  }

  /** The newest probe whose position is <= `stored`, dropping it and all older ones. */
  take(stored: bigint): FlushProbe | undefined {
    let i = -1;
    while (i + 1 < this.probes.length && this.probes[i + 1]!.lsn <= stored) i += 1;
    if (i < 0) return undefined;
    return this.probes.splice(0, i + 1)[i];
  }
}

/** The contract between the WAL streamer and whatever stores WAL (an object-storage archive). */

export interface WalSegmentWrite {
  timeline: number;
  segNo: bigint;
  /** 24-hex segment file name. */
  name: string;
  /**
   * Bytes [0, data.length) of the segment; a complete segment has data.length === segSize.
   * The bytes never change afterwards: the sink may keep the buffer without copying.
   */
  data: Buffer;
  complete: boolean;
  /** LSN just past the last byte in data. */
  endLsn: bigint;
}

export interface WalCoverage {
  timeline: number;
  /** WAL up to here is stored. */
  lsn: bigint;
  /**
   * Every transaction committed before this (server clock) time is stored. Under
   * synchronous_commit = off that holds for commits the server had flushed by then: an
   * unflushed commit is not durable on the server either.
   */
  serverTime: Date;
}

export interface WalSink {
  /**
   * Durably stores the write; resolves once stored. A partial write may be repeated with more
   * bytes later; a complete one ends the segment. Never called twice at once, and always in
   * WAL order: once a put resolves, everything before its endLsn is stored.
   */
  put(w: WalSegmentWrite): Promise<void>;
  /** Stores a timeline history file (received with TIMELINE_HISTORY) before streaming that timeline. */
  putHistory(timeline: number, name: string, content: Buffer): Promise<void>;
  /**
   * Called after data through `lsn` is stored and a probe showed the server's WAL flush
   * position was <= lsn at `serverTime` (so every transaction committed before serverTime is
   * stored). Calls do not overlap; serverTime only grows.
   */
  covered?(c: WalCoverage): Promise<void> | void;
}

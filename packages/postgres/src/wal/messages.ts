/**
 * The CopyData payloads of physical streaming replication (protocol-replication.html):
 * XLogData and keepalives from the server, standby status updates from us. Times on the
 * wire are microseconds since 2000-01-01 00:00 UTC, PostgreSQL's epoch.
 */

/** 2000-01-01T00:00:00Z in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

export function pgTimeToDate(micros: bigint): Date {
  return new Date(PG_EPOCH_MS + Number(micros / 1000n));
}

export function dateToPgTime(date: Date): bigint {
  return BigInt(date.getTime() - PG_EPOCH_MS) * 1000n;
}

export interface XLogData {
  kind: 'xlog';
  /** The LSN of data[0]. */
  dataStart: bigint;
  /** The server's current end of WAL. */
  walEnd: bigint;
  sendTime: Date;
  /** A view into the received message: valid as long as the message buffer is. */
  data: Buffer;
}

export interface Keepalive {
  kind: 'keepalive';
  walEnd: bigint;
  sendTime: Date;
  /** The server wants a status update at once (it is about to time us out otherwise). */
  replyRequested: boolean;
}

/** A message type this client does not know; newer servers may add some. */
export interface UnknownMessage {
  kind: 'unknown';
  type: number;
}

export type ServerMessage = XLogData | Keepalive | UnknownMessage;

const XLOG_DATA = 0x77; // 'w'
const KEEPALIVE = 0x6b; // 'k'
const STATUS_UPDATE = 0x72; // 'r'
const XLOG_HEADER = 1 + 8 + 8 + 8;
const KEEPALIVE_LENGTH = 1 + 8 + 8 + 1;

/** Parses one CopyData payload from the server. Throws a RangeError on a truncated message. */
export function parseServerMessage(payload: Buffer): ServerMessage {
  const type = payload[0];
  switch (type) {
    case XLOG_DATA:
      if (payload.length < XLOG_HEADER) throw new RangeError(`truncated XLogData message (${payload.length} bytes)`);
      return {
        kind: 'xlog',
        dataStart: payload.readBigUInt64BE(1),
        walEnd: payload.readBigUInt64BE(9),
        sendTime: pgTimeToDate(payload.readBigInt64BE(17)),
        data: payload.subarray(XLOG_HEADER),
      };
    case KEEPALIVE:
      if (payload.length < KEEPALIVE_LENGTH) throw new RangeError(`truncated keepalive message (${payload.length} bytes)`);
      return {
        kind: 'keepalive',
        walEnd: payload.readBigUInt64BE(1),
        sendTime: pgTimeToDate(payload.readBigInt64BE(9)),
        replyRequested: payload[17] === 1,
      };
    case undefined:
      throw new RangeError('empty replication message');
    default:
      return { kind: 'unknown', type };
  }
}

export interface StandbyStatus {
  /** Received up to here. */
  write: bigint;
  /** Durably stored up to here; the server moves a physical slot's restart_lsn to it. 0 = no news. */
  flush: bigint;
  apply: bigint;
  now: Date;
  replyRequested?: boolean;
}

/** The 'r' standby status update. */
export function standbyStatusUpdate(s: StandbyStatus): Buffer {
  const buf = Buffer.alloc(1 + 8 + 8 + 8 + 8 + 1);
  buf[0] = STATUS_UPDATE;
  buf.writeBigUInt64BE(s.write, 1);
  buf.writeBigUInt64BE(s.flush, 9);
  buf.writeBigUInt64BE(s.apply, 17);
  buf.writeBigInt64BE(dateToPgTime(s.now), 25);
  buf[33] = s.replyRequested === true ? 1 : 0;
  return buf;
}

/**
 * WAL positions and file names, as PostgreSQL computes them (xlog_internal.h). LSNs are
 * bigint because they are 64-bit byte positions: a number loses exactness past 2^53.
 */

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const MAX_UINT32 = 0xffffffff;

/** `'16/B374D848'` -> 0x16B374D848n. Accepts PostgreSQL's output with or without zero padding. */
export function parseLsn(text: string): bigint {
  const m = LSN_TEXT.exec(text);
  if (m === null) throw new RangeError(`not a WAL position (LSN): ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The `%X/%X` form PostgreSQL prints and every server version parses. */
export function formatLsn(lsn: bigint): string {
  checkLsn(lsn);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** PostgreSQL allows WAL segments of 1 MiB to 1 GiB, powers of two (initdb --wal-segsize). */
export function checkSegmentSize(segSize: number): void {
  if (!Number.isInteger(segSize) || segSize < 1 << 20 || segSize > 1 << 30 || (segSize & (segSize - 1)) !== 0) {
    throw new RangeError(`not a valid WAL segment size: ${segSize} (a power of two from 1 MiB to 1 GiB)`);
  }
}

/** Segments per "xlogid" (the high 32 bits of an LSN): the middle part of a file name counts these. */
function segmentsPerXLogId(segSize: number): bigint {
  checkSegmentSize(segSize);
  return 0x100000000n / BigInt(segSize);
}

/** The number of the segment holding byte `lsn` (XLByteToSeg). */
export function segNoOf(lsn: bigint, segSize: number): bigint {
  checkLsn(lsn);
  checkSegmentSize(segSize);
  return lsn / BigInt(segSize);
}

/** The LSN of the first byte of segment `segNo` (XLogSegNoOffsetToRecPtr with offset 0). */
export function segmentStartLsn(segNo: bigint, segSize: number): bigint {
  checkSegmentSize(segSize);
  if (segNo < 0n) throw new RangeError(`negative segment number ${segNo}`);
  return segNo * BigInt(segSize);
}

/** `lsn` rounded down to the start of its segment. */
export function segmentFloor(lsn: bigint, segSize: number): bigint {
  return segmentStartLsn(segNoOf(lsn, segSize), segSize);
}

/** The 24-hex-digit file name of a segment, TTTTTTTTXXXXXXXXYYYYYYYY (XLogFileName). */
export function segmentName(timeline: number, segNo: bigint, segSize: number): string {
  checkTimeline(timeline);
  const perId = segmentsPerXLogId(segSize);
  if (segNo < 0n || segNo / perId > BigInt(MAX_UINT32)) throw new RangeError(`segment number out of range: ${segNo}`);
  return hex8(timeline) + hex8(Number(segNo / perId)) + hex8(Number(segNo % perId));
}

/** The inverse of {@link segmentName}. */
export function parseSegmentName(name: string, segSize: number): { timeline: number; segNo: bigint } {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) throw new RangeError(`not a WAL segment file name: ${JSON.stringify(name)}`);
  const perId = segmentsPerXLogId(segSize);
  const timeline = parseInt(m[1]!, 16);
  const seg = BigInt(`0x${m[3]}`);
  // The low part counts segments within one xlogid: a value past that count means the name
  // was made for a smaller segment size.
  if (seg >= perId) throw new RangeError(`${name} is not a segment name for ${segSize}-byte segments`);
  checkTimeline(timeline);
  return { timeline, segNo: BigInt(`0x${m[2]}`) * perId + seg };
}

/** `00000002.history` (TLHistoryFileName). */
export function historyFileName(timeline: number): string {
  checkTimeline(timeline);
  return `${hex8(timeline)}.history`;
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

function checkTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > MAX_UINT32) throw new RangeError(`not a timeline id: ${timeline}`);
}

function checkLsn(lsn: bigint): void {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) throw new RangeError(`LSN out of range: ${lsn}`);
}

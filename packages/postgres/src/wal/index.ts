/**
 * Physical WAL streaming for point-in-time recovery: LSN and file-name arithmetic, the
 * replication slot and its prerequisites, and `streamWal`, which speaks the replication
 * protocol itself so the slot advances only past WAL the sink has stored.
 */

export { formatLsn, historyFileName, parseLsn, parseSegmentName, segmentFloor, segmentName, segmentStartLsn, segNoOf } from './lsn.ts';
export {
  dropPhysicalSlot,
  ensurePhysicalSlot,
  pitrNotes,
  pitrProblems,
  readWalSettings,
  slotRetainedBytes,
  validateSlotName,
  type PhysicalSlot,
  type WalSettings,
} from './slot.ts';
export { WalStreamError, type WalStreamErrorCode } from './errors.ts';
export { parseTimelineHistory, timelineOfLsn, type TimelineSwitch } from './timeline.ts';
export { streamWal, type StreamWalOptions, type WalStreamLog } from './stream.ts';
export type { WalCoverage, WalSegmentWrite, WalSink } from './types.ts';

/**
 * Timeline history files (`00000002.history`): one line per ancestor timeline,
 * `<parent tli>\t<switch LSN>\t<reason>`, oldest first. The parent timeline holds WAL up to
 * (not including) its switch LSN; the file's own timeline holds everything after the last.
 */

import { parseLsn } from './lsn.ts';

export interface TimelineSwitch {
  /** The ancestor timeline that ended. */
  timeline: number;
  /** Where it ended: its WAL stops just before this LSN. */
  switchLsn: bigint;
}

export function parseTimelineHistory(content: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [tli, lsn] = line.split(/\s+/);
    const timeline = Number(tli);
    if (!Number.isInteger(timeline) || timeline < 1 || lsn === undefined) {
      throw new RangeError(`malformed timeline history line: ${JSON.stringify(line)}`);
    }
    switches.push({ timeline, switchLsn: parseLsn(lsn) });
  }
  return switches;
}

/** The timeline that holds `lsn` (tliOfPointInHistory): `current` past the last switch. */
export function timelineOfLsn(lsn: bigint, history: readonly TimelineSwitch[], current: number): number {
  for (const s of history) if (lsn < s.switchLsn) return s.timeline;
  return current;
}

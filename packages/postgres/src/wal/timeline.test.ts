import { describe, expect, it } from 'vitest';
import { parseTimelineHistory, timelineOfLsn } from './timeline.ts';

const HISTORY_3 = '1\t0/3000160\tno recovery target specified\n\n2\t0/5000000\tbefore 2030-01-01 00:00:00+00\n';

describe('timeline history', () => {
  it('parses ancestors and finds the timeline of a position', () => {
    const h = parseTimelineHistory(HISTORY_3);
    expect(h).toEqual([
      { timeline: 1, switchLsn: 0x3000160n },
      { timeline: 2, switchLsn: 0x5000000n },
    ]);
    expect(timelineOfLsn(0x3000000n, h, 3)).toBe(1);
    expect(timelineOfLsn(0x3000160n, h, 3)).toBe(2);
    expect(timelineOfLsn(0x4ffffffn, h, 3)).toBe(2);
    expect(timelineOfLsn(0x5000000n, h, 3)).toBe(3);
    expect(timelineOfLsn(0n, [], 1)).toBe(1);
  });

  it('skips comments and refuses garbage', () => {
    expect(parseTimelineHistory('# a comment\n1\t0/1\treason\n')).toHaveLength(1);
    expect(() => parseTimelineHistory('x\t0/1\n')).toThrow(RangeError);
    expect(() => parseTimelineHistory('1\n')).toThrow(RangeError);
  });
});

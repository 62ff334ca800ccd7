import { describe, expect, it } from 'vitest';
import { formatLsn, historyFileName, parseLsn, parseSegmentName, segmentFloor, segmentName, segmentStartLsn, segNoOf } from './lsn.ts';

const MiB16 = 16 * 1024 * 1024;
const GiB = 1024 * 1024 * 1024;

describe('parseLsn / formatLsn', () => {
  it('reads and prints %X/%X', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(0xffffffffffffffffn);
    // Zero-padded low part (newer servers and some tools print it so): the same position.
    expect(parseLsn('0/016B3748')).toBe(0x16b3748n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0x1000000n)).toBe('0/1000000');
  });

  it('refuses what is not an LSN', () => {
    for (const bad of ['', '16', '16/', '/1', '1/2/3', 'G/0', '123456789/0', ' 0/1']) {
      expect(() => parseLsn(bad), bad).toThrow(RangeError);
    }
    expect(() => formatLsn(-1n)).toThrow(RangeError);
    expect(() => formatLsn(1n << 64n)).toThrow(RangeError);
  });
});

describe('segments', () => {
  it('numbers segments and names them like XLogFileName', () => {
    expect(segNoOf(parseLsn('0/16B3748'), MiB16)).toBe(1n);
    expect(segmentName(1, 1n, MiB16)).toBe('000000010000000000000001');
    // pg_walfile_name('16/B374D848') on a 16 MiB cluster
    expect(segmentName(1, segNoOf(parseLsn('16/B374D848'), MiB16), MiB16)).toBe('0000000100000016000000B3');
    expect(segmentName(0x1a, 0x2ffn, MiB16)).toBe('0000001A00000002000000FF');
    // 1 GiB segments: four per xlogid
    expect(segNoOf(0x1c0000000n, GiB)).toBe(7n);
    expect(segmentName(1, 7n, GiB)).toBe('000000010000000100000003');
    // 1 MiB segments: 4096 per xlogid
    expect(segmentName(3, 4097n, 1 << 20)).toBe('000000030000000100000001');
  });

  it('finds segment starts', () => {
    expect(segmentStartLsn(1n, MiB16)).toBe(0x1000000n);
    expect(segmentStartLsn(0x16b3n, MiB16)).toBe(parseLsn('16/B3000000'));
    expect(segmentFloor(parseLsn('16/B374D848'), MiB16)).toBe(parseLsn('16/B3000000'));
    expect(segmentFloor(parseLsn('0/2000000'), MiB16)).toBe(parseLsn('0/2000000'));
  });

  it('parses segment names back', () => {
    expect(parseSegmentName('000000010000000000000001', MiB16)).toEqual({ timeline: 1, segNo: 1n });
    expect(parseSegmentName('0000000100000016000000B3', MiB16)).toEqual({ timeline: 1, segNo: 0x16b3n });
    expect(parseSegmentName('000000010000000100000003', GiB)).toEqual({ timeline: 1, segNo: 7n });
    for (const [tl, seg] of [
      [1, 0n],
      [2, 255n],
      [7, 256n],
      [0xffffffff, 0xffffffffffn],
    ] as const) {
      expect(parseSegmentName(segmentName(tl, seg, MiB16), MiB16)).toEqual({ timeline: tl, segNo: seg });
    }
  });

  it('refuses bad names and sizes', () => {
    expect(() => parseSegmentName('00000001000000000000000', MiB16)).toThrow(RangeError);
    expect(() => parseSegmentName('00000001000000000000000a', MiB16)).toThrow(RangeError);
    expect(() => parseSegmentName('000000010000000000000001.partial', MiB16)).toThrow(RangeError);
    // low part 0x100 does not exist with 256 segments per xlogid
    expect(() => parseSegmentName('000000010000000000000100', MiB16)).toThrow(RangeError);
    expect(() => parseSegmentName('000000000000000000000001', MiB16)).toThrow(RangeError);
    expect(() => segmentName(0, 1n, MiB16)).toThrow(RangeError);
    expect(() => segNoOf(0n, 3_000_000)).toThrow(RangeError);
    expect(() => segNoOf(0n, 1 << 19)).toThrow(RangeError);
    expect(() => segNoOf(0n, 2 * GiB)).toThrow(RangeError);
  });

  it('names history files', () => {
    expect(historyFileName(2)).toBe('00000002.history');
    expect(historyFileName(0x1a)).toBe('0000001A.history');
  });
});

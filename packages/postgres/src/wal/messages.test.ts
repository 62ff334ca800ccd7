import { describe, expect, it } from 'vitest';
import { dateToPgTime, parseServerMessage, pgTimeToDate, standbyStatusUpdate } from './messages.ts';

describe('PostgreSQL time', () => {
  it('counts microseconds from 2000-01-01 UTC', () => {
    expect(pgTimeToDate(0n).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(dateToPgTime(new Date('2000-01-01T00:00:01.500Z'))).toBe(1_500_000n);
    expect(pgTimeToDate(dateToPgTime(new Date('2031-05-06T07:08:09.123Z'))).toISOString()).toBe('2031-05-06T07:08:09.123Z');
  });
});

describe('parseServerMessage', () => {
  it('reads XLogData', () => {
    const msg = Buffer.alloc(25 + 3);
    msg[0] = 0x77;
    msg.writeBigUInt64BE(0x16b3748n, 1);
    msg.writeBigUInt64BE(0x2000000n, 9);
    msg.writeBigInt64BE(1_000_000n, 17);
    msg.set([1, 2, 3], 25);
    const parsed = parseServerMessage(msg);
    expect(parsed).toMatchObject({ kind: 'xlog', dataStart: 0x16b3748n, walEnd: 0x2000000n });
    if (parsed.kind !== 'xlog') throw new Error('not xlog');
    expect(parsed.sendTime.toISOString()).toBe('2000-01-01T00:00:01.000Z');
    expect([...parsed.data]).toEqual([1, 2, 3]);
  });

  it('reads keepalives, with and without a reply request', () => {
    const msg = Buffer.alloc(18);
    msg[0] = 0x6b;
    msg.writeBigUInt64BE(0x3000000n, 1);
    expect(parseServerMessage(msg)).toMatchObject({ kind: 'keepalive', walEnd: 0x3000000n, replyRequested: false });
    msg[17] = 1;
    expect(parseServerMessage(msg)).toMatchObject({ kind: 'keepalive', replyRequested: true });
  });

  it('passes unknown types on and refuses truncated messages', () => {
    expect(parseServerMessage(Buffer.from([0x73, 0, 0]))).toEqual({ kind: 'unknown', type: 0x73 });
    expect(() => parseServerMessage(Buffer.alloc(0))).toThrow(RangeError);
    expect(() => parseServerMessage(Buffer.from([0x77, 0, 0]))).toThrow(RangeError);
    expect(() => parseServerMessage(Buffer.from([0x6b, 0]))).toThrow(RangeError);
  });
});

describe('standbyStatusUpdate', () => {
  it('lays out r, write, flush, apply, clock, reply flag', () => {
    const buf = standbyStatusUpdate({ write: 3n, flush: 2n, apply: 1n, now: new Date('2000-01-01T00:00:02Z'), replyRequested: true });
    expect(buf.length).toBe(34);
    expect(buf[0]).toBe(0x72);
    expect(buf.readBigUInt64BE(1)).toBe(3n);
    expect(buf.readBigUInt64BE(9)).toBe(2n);
    expect(buf.readBigUInt64BE(17)).toBe(1n);
    expect(buf.readBigInt64BE(25)).toBe(2_000_000n);
    expect(buf[33]).toBe(1);
    expect(standbyStatusUpdate({ write: 0n, flush: 0n, apply: 0n, now: new Date() })[33]).toBe(0);
  });
});

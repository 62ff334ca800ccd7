import { describe, expect, it } from 'vitest';
import { fastCopyTo } from './copy-out.ts';

/** A protocol message: type byte, int32 length (itself included), body. */
function msg(code: string, body: Buffer | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const h = Buffer.alloc(5);
  h[0] = code.charCodeAt(0);
  h.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
}

/**
 * Feeds `wire` to the parser in pieces of the given sizes, the way socket reads arrive,
 * with pg's side (the connection the stream detaches from) replaced by a recorder: what
 * the parser emits, what it hands back to pg, and whether it ended the stream.
 */
function parse(wire: Buffer, sizes: (i: number) => number) {
  const stream = fastCopyTo('COPY t TO STDOUT');
  const out: Buffer[] = [];
  const handedBack: Buffer[] = [];
  let detached = 0;
  let ended = false;
  const s = stream as unknown as {
    _buffer: { push(b: Buffer): void };
    _detach(): void;
    _cleanup(): void;
    push(b: Buffer | null): boolean;
    _parse(b: Buffer): boolean | undefined;
  };
  s._detach = () => {
    detached++;
  };
  s._cleanup = () => undefined;
  s._buffer = { push: (b: Buffer) => handedBack.push(Buffer.from(b)) };
  s.push = (b: Buffer | null) => {
    if (b === null) ended = true;
    else out.push(Buffer.from(b));
    return true;
  };
  let k = 0;
  for (let i = 0; i < wire.length && !detached; k++) {
    const n = Math.max(1, sizes(k));
    // A fresh copy per read, as a socket delivers it (the parser compacts it in place).
    s._parse(Buffer.from(wire.subarray(i, i + n)));
    i += n;
    if (detached) handedBack.push(wire.subarray(i));
  }
  return { data: Buffer.concat(out), handedBack: Buffer.concat(handedBack), detached, ended };
}

describe('fastCopyTo parser', () => {
  // Rows of every length from 0 to 300 bytes, with bytes that are also message codes.
  const rows: Buffer[] = [];
  for (let len = 0; len <= 300; len++) {
    const r = Buffer.alloc(len + 1);
    for (let j = 0; j < len; j++) r[j] = 'dEcHN\t\\x'.charCodeAt((len * 7 + j) % 8);
    r[len] = 10;
    rows.push(r);
  }
  const after = Buffer.concat([msg('C', 'COPY 301\0'), msg('Z', 'I')]);
  const wire = Buffer.concat([
    msg('H', Buffer.from([0, 0, 10, ...Array(20).fill(0)])),
    ...rows.slice(0, 150).map((r) => msg('d', r)),
    msg('N', 'SNOTICE\0Mhello\0\0'),
    ...rows.slice(150).map((r) => msg('d', r)),
    msg('c'),
    after,
  ]);
  const expected = Buffer.concat(rows);

  it.each([
    ['one read', () => wire.length],
    ['1-byte reads', () => 1],
    ['2-byte reads', () => 2],
    ['3-byte reads', () => 3],
    ['7-byte reads', () => 7],
    ['irregular reads', (k: number) => ((k * 37) % 211) + 1],
    ['64 KiB-like reads', () => 4093],
  ])('emits exactly the rows and hands back what follows CopyDone (%s)', (_label, sizes) => {
    const r = parse(wire, sizes);
    expect(r.data.equals(expected)).toBe(true);
    expect(r.ended).toBe(true);
    expect(r.detached).toBe(1);
    expect(r.handedBack.equals(after)).toBe(true);
  });

  it('stops at an ErrorResponse and hands pg the error from its first byte', () => {
    const err = msg('E', 'SERROR\0C57014\0Mcanceling statement\0\0');
    const failing = Buffer.concat([msg('H', Buffer.alloc(3)), msg('d', 'a\n'), msg('d', 'b\n'), err, msg('Z', 'E')]);
    for (const size of [1, 3, 5, 9, failing.length]) {
      const r = parse(failing, () => size);
      expect(r.ended).toBe(false);
      expect(r.detached).toBe(1);
      expect(r.handedBack.equals(Buffer.concat([err, msg('Z', 'E')]))).toBe(true);
      expect('a\nb\n'.startsWith(r.data.toString())).toBe(true);
    }
  });
});

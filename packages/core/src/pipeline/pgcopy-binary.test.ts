import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from './counting.ts';
import { decodeFromStorage, encodeForStorage, resolveCompression } from './index.ts';
import { addLineHashes } from './line-hash.ts';
import { BinaryCopyFormatError, BinaryCopyRowCounter, BinaryCopyRowHashSink, BinaryCopyScanner } from './pgcopy-binary.ts';

type Row = (Buffer | null)[];

/** Binary COPY data as the server writes it (PostgreSQL docs, "Binary Format"). */
function binaryCopy(rows: Row[], opts: { extension?: Buffer; flags?: number; trailer?: boolean } = {}): Buffer {
  const ext = opts.extension ?? Buffer.alloc(0);
  const head = Buffer.alloc(19);
  head.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  head.writeUInt32BE(opts.flags ?? 0, 11);
  head.writeInt32BE(ext.length, 15);
  const parts = [head, ext];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const v of row) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(v === null ? -1 : v.length);
      parts.push(len, ...(v ? [v] : []));
    }
  }
  if (opts.trailer !== false) parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function sampleRows(n: number): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const id = Buffer.alloc(8);
    id.writeBigInt64BE(BigInt(i));
    rows.push([id, i % 5 === 0 ? null : Buffer.from(`name ${i}`), Buffer.alloc(i % 7), Buffer.from([0xff, 0xff, 0x00])]);
  }
  return rows;
}

function splits(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

function scan(pieces: Buffer[]): number {
  const s = new BinaryCopyScanner();
  for (const p of pieces) s.write(p);
  s.end();
  return s.rows;
}

async function rowHash(pieces: Buffer[]): Promise<string> {
  const sink = new BinaryCopyRowHashSink();
  await pipeline(Readable.from(pieces), sink);
  return sink.value();
}

describe('binary COPY scanner', () => {
  const data = binaryCopy(sampleRows(500), { extension: Buffer.from('future header data') });

  it('counts tuples whatever the split of the input', () => {
    for (const size of [1, 2, 3, 5, 7, 19, 20, 64, 4096, data.length]) expect(scan(splits(data, size))).toBe(500);
    // irregular splits
    const pieces: Buffer[] = [];
    for (let i = 0, k = 1; i < data.length; i += k, k = (k * 7 + 3) % 97) pieces.push(data.subarray(i, i + k));
    expect(scan(pieces)).toBe(500);
  });

  it('reads an empty table and tables without columns', () => {
    expect(scan([binaryCopy([])])).toBe(0);
    expect(scan(splits(binaryCopy([[], [], []]), 1))).toBe(3);
  });

  it('refuses what is not complete, well-formed binary COPY data', () => {
    const bad: [string, Buffer[], RegExp][] = [
      ['empty input', [], /truncated after 0 bytes/],
      ['text COPY', [Buffer.from('1\tabc\n2\tdef\n3\tghi\n4\tjkl\n')], /bad signature/],
      ['OIDs in the rows', [binaryCopy([], { flags: 1 << 16 })], /unsupported header flags 0x10000/],
      ['a reserved flag', [binaryCopy([], { flags: 1 })], /unsupported header flags/],
      ['no trailer', [binaryCopy(sampleRows(3), { trailer: false })], /truncated after \d+ bytes \(3 complete rows/],
      ['cut inside a value', [data.subarray(0, data.length - 5)], /truncated/],
      ['cut inside the header', [data.subarray(0, 12)], /truncated after 12 bytes/],
      ['bytes after the trailer', [data, Buffer.from([0])], /1 bytes after the trailer/],
      ['a second trailer', [data, Buffer.from([0xff, 0xff])], /after the trailer/],
    ];
    for (const [what, pieces, message] of bad) {
      expect(() => scan(pieces), what).toThrow(message);
      expect(() => scan(pieces), what).toThrow(BinaryCopyFormatError);
    }
    const mixed = Buffer.concat([binaryCopy([[Buffer.from('a')]], { trailer: false }), Buffer.from([0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])]);
    expect(() => scan([mixed])).toThrow(/a tuple of 2 fields after tuples of 1/);
    const negative = binaryCopy([[Buffer.from('abcd')]]);
    negative.writeInt32BE(-2, 21); // the first field's length
    expect(() => scan([negative])).toThrow(/negative field length -2/);
  });

  it('passes the bytes through unchanged while counting', async () => {
    const counter = new BinaryCopyRowCounter();
    const out = await buffer(Readable.from(splits(data, 333)).pipe(counter));
    expect(out.equals(data)).toBe(true);
    expect(counter.rows).toBe(500);
    expect(counter.bytes).toBe(data.length);
  });

  it('hashes rows independently of their order and of the split into objects', async () => {
    const rows = sampleRows(300);
    const whole = await rowHash(splits(binaryCopy(rows), 50));
    expect(whole.startsWith('300:')).toBe(true);
    const reversed = await rowHash([binaryCopy([...rows].reverse())]);
    expect(reversed).toBe(whole);
    const halves = addLineHashes(await rowHash([binaryCopy(rows.slice(0, 120))]), await rowHash(splits(binaryCopy(rows.slice(120)), 7)));
    expect(halves).toBe(whole);
    const changed = rows.map((r) => [...r]);
    changed[42]![1] = Buffer.from('name 43'); // one value of one row
    expect(await rowHash([binaryCopy(changed)])).not.toBe(whole);
    const nulled = rows.map((r) => [...r]);
    nulled[7]![2] = null; // an empty value is not a NULL
    expect(await rowHash([binaryCopy(nulled)])).not.toBe(whole);
  });
});

describe('decodeFromStorage with binary COPY objects', () => {
  it('counts the tuples of a stored object', async () => {
    const raw = binaryCopy(sampleRows(1000));
    const enc = encodeForStorage(Readable.from(splits(raw, 4000)), { compression: resolveCompression('zstd'), countRows: false });
    const stored = await buffer(enc.stream);
    const s = enc.stats();
    const dec = decodeFromStorage(Readable.from([stored]), {
      codec: 'zstd',
      expected: { sha256: s.sha256, bytes: s.bytes },
      label: 'obj.pgcopy.zst',
      rowFraming: 'pg-copy-binary',
    });
    expect((await buffer(dec.stream)).equals(raw)).toBe(true);
    expect(dec.rows()).toBe(1000);
  });

  it('fails an object whose checksum matches but whose data ends early, naming it', async () => {
    // Written truncated (e.g. by a buggy exporter): the SHA-256 is of these very bytes.
    const raw = binaryCopy(sampleRows(50), { trailer: false });
    const enc = encodeForStorage(Readable.from([raw]), { compression: resolveCompression('none'), countRows: false });
    const stored = await buffer(enc.stream);
    const s = enc.stats();
    const dec = decodeFromStorage(Readable.from([stored]), {
      codec: 'none',
      expected: { sha256: s.sha256, bytes: s.bytes },
      label: 'short.pgcopy',
      rowFraming: 'pg-copy-binary',
    });
    const err = await buffer(dec.stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/^short\.pgcopy: binary COPY data truncated/);
  });
});

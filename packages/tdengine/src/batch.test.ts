import { describe, expect, it } from 'vitest';
import { batchHeader, readBatch } from './batch.ts';
import { parseTdType } from './types.ts';

const columns = [
  { name: 'ts', type: parseTdType('TIMESTAMP') },
  { name: 'v', type: parseTdType('VARCHAR(8)') },
];
const text =
  batchHeader({ name: 'a', columns }) +
  '[1,"x"]\n[2,"{\\n"]\n[3,null]\n' +
  batchHeader({ name: 'empty', columns }) +
  batchHeader({ name: 'b c', columns }) +
  '[-5,"y"]\n[10,"z"]';

/** The input cut into pieces of `n` bytes: every boundary must be handled. */
async function* pieces(n: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

async function read(n: number, maxTs?: bigint) {
  const out: { table: string; rows: string; dropped: number }[] = [];
  for await (const s of readBatch(pieces(n), { label: 't', maxTs })) {
    const parts: Buffer[] = [];
    for await (const c of s.rows) parts.push(c);
    out.push({ table: s.table.name, rows: Buffer.concat(parts).toString(), dropped: s.dropped() });
  }
  return out;
}

describe('td-batch-jsonl reader', () => {
  it('splits tables at their headers whatever the chunk boundaries', async () => {
    for (const n of [1, 2, 3, 7, 64, 10_000]) {
      expect(await read(n)).toEqual([
        { table: 'a', rows: '[1,"x"]\n[2,"{\\n"]\n[3,null]\n', dropped: 0 },
        { table: 'empty', rows: '', dropped: 0 },
        { table: 'b c', rows: '[-5,"y"]\n[10,"z"]', dropped: 0 },
      ]);
    }
  });

  it('leaves out rows after maxTs (a point in time), counting them', async () => {
    for (const n of [1, 5, 10_000]) {
      expect(await read(n, 2n)).toEqual([
        { table: 'a', rows: '[1,"x"]\n[2,"{\\n"]\n', dropped: 1 },
        { table: 'empty', rows: '', dropped: 0 },
        { table: 'b c', rows: '[-5,"y"]\n', dropped: 1 },
      ]);
    }
  });

  it('refuses input that does not start with a table header', async () => {
    const bad = async function* () {
      yield Buffer.from('[1,2]\n');
    };
    await expect(async () => {
      for await (const s of readBatch(bad(), { label: 'obj' })) for await (const _ of s.rows);
    }).rejects.toThrow(/obj: expected a table header/);
  });
});

import type { Manifest } from '@bk/core';
import { describe, expect, it } from 'vitest';
import { loadJobs } from './restore.ts';

type Obj = Manifest['objects'][number];

function obj(key: string, database: string, table: string, rawBytes: number, chunk?: number): Obj {
  return {
    key,
    kind: 'data',
    database,
    table: `public.${table}`,
    schemaName: 'public',
    tableName: table,
    columns: ['a'],
    ...(chunk === undefined
      ? {}
      : { chunk: { index: chunk, count: 3, fromBlock: chunk * 10, toBlock: chunk === 2 ? null : chunk * 10 + 10 } }),
    format: 'pg-copy-text',
    rows: 1,
    rawBytes,
    bytes: rawBytes,
    sha256: '0'.repeat(64),
    compression: { codec: 'zstd', level: 3 },
    encrypted: false,
  } as Obj;
}

describe('restore load jobs', () => {
  const data = [
    obj('a', 'db1', 'small', 10),
    obj('big.2', 'db1', 'big', 100, 2),
    obj('big.0', 'db1', 'big', 300, 0),
    obj('mid', 'db1', 'mid', 250),
    obj('big.1', 'db1', 'big', 300, 1),
    obj('o.0', 'db2', 'other', 200, 0),
    obj('o.1', 'db2', 'other', 200, 1),
  ];

  it('groups the chunks of a table, in chunk order, where the target skips WAL; the biggest load first', () => {
    // wholeTable: the job loads all of its table (an early index build may follow it).
    expect(loadJobs(data, new Set(['db1']))).toEqual([
      { n: 1, keys: ['big.0', 'big.1', 'big.2'], wholeTable: true },
      { n: 3, keys: ['mid'], wholeTable: true },
      { n: 5, keys: ['o.0'], wholeTable: false },
      { n: 6, keys: ['o.1'], wholeTable: false },
      { n: 0, keys: ['a'], wholeTable: true },
    ]);
  });

  it('keeps one job per object where the target writes WAL anyway', () => {
    const jobs = loadJobs(data, new Set());
    expect(jobs.map((j) => j.keys.join())).toEqual(['big.0', 'big.1', 'mid', 'o.0', 'o.1', 'big.2', 'a']);
    // A chunk alone is never a whole table.
    expect(jobs.filter((j) => j.wholeTable).map((j) => j.keys.join())).toEqual(['mid', 'a']);
  });
});

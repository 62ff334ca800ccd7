import { describe, expect, it } from 'vitest';
import { exportCopySql } from './export.ts';
import { importCopySql } from './import.ts';
import { planChunks } from './snapshot.ts';
import { contentHashSql } from './verify.ts';

describe('planChunks', () => {
  it('keeps a small table whole', () => {
    expect(planChunks(0, 8192, 1 << 20)).toEqual([{ fromBlock: 0, toBlock: null }]);
    expect(planChunks(1 << 20, 8192, 1 << 20)).toEqual([{ fromBlock: 0, toBlock: null }]);
  });

  it('covers every block with contiguous ranges, the last open-ended', () => {
    const chunks = planChunks(10 * 8192 + 1, 8192, 3 * 8192);
    expect(chunks).toEqual([
      { fromBlock: 0, toBlock: 3 },
      { fromBlock: 3, toBlock: 6 },
      { fromBlock: 6, toBlock: 9 },
      { fromBlock: 9, toBlock: null },
    ]);
  });

  it('uses at least one block per chunk', () => {
    expect(planChunks(3 * 8192, 8192, 100)).toEqual([
      { fromBlock: 0, toBlock: 1 },
      { fromBlock: 1, toBlock: 2 },
      { fromBlock: 2, toBlock: null },
    ]);
  });
});

describe('COPY statements', () => {
  const t = { schema: 'S "1"', name: 'order', columns: ['id', 'Mixed Case', 'a"b'] };

  it('quotes every identifier and lists the columns', () => {
    expect(exportCopySql(t)).toBe('COPY "S ""1"""."order" ("id", "Mixed Case", "a""b") TO STDOUT');
    expect(importCopySql(t)).toBe('COPY "S ""1"""."order" ("id", "Mixed Case", "a""b") FROM STDIN');
  });

  it('reads a block range with ONLY and ctid bounds', () => {
    expect(exportCopySql(t, { fromBlock: 10, toBlock: 20 })).toBe(
      `COPY (SELECT "id", "Mixed Case", "a""b" FROM ONLY "S ""1"""."order" WHERE ctid >= '(10,0)'::pg_catalog.tid AND ctid < '(20,0)'::pg_catalog.tid) TO STDOUT`,
    );
    expect(exportCopySql(t, { fromBlock: 20, toBlock: null })).toMatch(/WHERE ctid >= '\(20,0\)'::pg_catalog.tid\) TO STDOUT$/);
  });

  it('handles a table without columns', () => {
    const none = { schema: 's', name: 'z', columns: [] };
    expect(exportCopySql(none)).toBe('COPY "s"."z" TO STDOUT');
    expect(importCopySql(none)).toBe('COPY "s"."z" FROM STDIN');
    expect(exportCopySql(none, { fromBlock: 0, toBlock: 1 })).toMatch(/^COPY \(SELECT  FROM ONLY "s"."z" WHERE/);
  });

  it('rejects block numbers that are not non-negative integers', () => {
    expect(() => exportCopySql(t, { fromBlock: -1, toBlock: null })).toThrow(RangeError);
    expect(() => exportCopySql(t, { fromBlock: 1.5, toBlock: null })).toThrow(RangeError);
  });

  it('hashes rows through the alias, so a column named like it does not matter', () => {
    expect(contentHashSql({ schema: 's', name: 't' })).toContain('pg_catalog.md5(ROW(r.*)::text) AS h FROM ONLY "s"."t" AS r');
  });
});

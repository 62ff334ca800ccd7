import { describe, expect, it } from 'vitest';
import { attemptKey, backupPrefix, keySegment } from './keys.ts';
import { displayName, parsePgTableRef } from './names.ts';

describe('table references', () => {
  it('parses plain and quoted parts', () => {
    expect(parsePgTableRef('public.orders')).toEqual({ schema: 'public', name: 'orders' });
    expect(parsePgTableRef('app.Sales.Orders')).toEqual({ database: 'app', schema: 'Sales', name: 'Orders' });
    expect(parsePgTableRef('"my schema"."odd""name.x"')).toEqual({ schema: 'my schema', name: 'odd"name.x' });
  });
  it('rejects malformed names with a 400', () => {
    for (const bad of ['orders', 'a.b.c.d', 'a.', '"a.b', 'a"b.c', '', `public.${'x'.repeat(64)}`]) {
      expect(() => parsePgTableRef(bad)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });
  it('displays names quoted only where needed', () => {
    expect(displayName('public', 'Odd Name')).toBe('public."Odd Name"');
  });
});

describe('storage key segments', () => {
  it('encode any identifier into [A-Za-z0-9_%-] and back', () => {
    for (const n of ['..', 'a/b', 'spaß', 'x y', 'a.b', '%']) {
      const s = keySegment(n);
      expect(s).toMatch(/^[A-Za-z0-9_%-]+$/);
      expect(decodeURIComponent(s)).toBe(n);
    }
    expect(backupPrefix('pg-main', 'bk_1')).toBe('backups/pg-main/bk_1/');
  });
});

describe('attemptKey', () => {
  it('gives every attempt after the first its own key, extensions kept last', () => {
    expect(attemptKey('backups/s/bk_1/db/data/public/orders.part-0003.copy.zst', 1)).toBe(
      'backups/s/bk_1/db/data/public/orders.part-0003.copy.zst',
    );
    expect(attemptKey('backups/s/bk_1/db/data/public/orders.part-0003.copy.zst', 2)).toBe(
      'backups/s/bk_1/db/data/public/orders.attempt-2.part-0003.copy.zst',
    );
    expect(attemptKey('backups/s/bk_1/db/data/stable/m.batch-00001.tdb.jsonl.gz', 3)).toBe(
      'backups/s/bk_1/db/data/stable/m.attempt-3.batch-00001.tdb.jsonl.gz',
    );
    expect(attemptKey('a/b/noext', 2)).toBe('a/b/noext.attempt-2');
  });
});

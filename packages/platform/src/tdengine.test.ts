import { describe, expect, it } from 'vitest';
import type { Manifest } from '@bk/core';
import { isoToEpochNs, nsToEpoch, parseTdTableRef, selectTdForRestore } from './tdengine.ts';

describe('TDengine times and names', () => {
  it('keeps every fraction digit of an ISO time and rounds down to the precision', () => {
    const ns = isoToEpochNs('2026-01-02T03:04:05.123456789Z');
    expect(ns).toBe(1767323045123456789n);
    expect(nsToEpoch(ns, 'ms')).toBe(1767323045123n);
    expect(nsToEpoch(ns, 'us')).toBe(1767323045123456n);
    expect(isoToEpochNs('2026-01-02T05:04:05+02:00')).toBe(1767323045000000000n);
    expect(nsToEpoch(-1n, 'ms')).toBe(-1n);
    expect(() => isoToEpochNs('yesterday')).toThrow(/ISO 8601/);
  });

  it('names tables as database.table', () => {
    expect(parseTdTableRef('power.meters')).toEqual({ database: 'power', table: 'meters' });
    expect(parseTdTableRef('power.a.b')).toEqual({ database: 'power', table: 'a.b' });
    for (const bad of ['meters', '.x', 'x.']) expect(() => parseTdTableRef(bad)).toThrow(/database\.table/);
  });
});

describe('TDengine restore selection', () => {
  const obj = (database: string, tableName: string | undefined, members: string[]) => ({
    key: `${database}/${tableName ?? 'normal'}/${members.join(',')}`,
    kind: 'data' as const,
    database,
    ...(tableName ? { tableName } : {}),
    members: members.map((table) => ({ table, rows: 1 })),
    format: 'td-batch-jsonl',
    rows: members.length,
    rawBytes: 1,
    bytes: 1,
    sha256: '0'.repeat(64),
    compression: { codec: 'zstd' as const, level: 3 },
    encrypted: false,
  });
  const manifest = {
    databases: [
      { name: 'a', options: { precision: 'ms', tables: ['meters', 'events', 'nochildren'] } },
      { name: 'b', options: { precision: 'us', tables: ['x'] } },
    ],
    objects: [obj('a', 'meters', ['d1', 'd2']), obj('a', 'meters', ['d3']), obj('a', undefined, ['events']), obj('b', 'x', ['x1'])],
  } as unknown as Manifest;
  const fail = (m: string): never => {
    throw new Error(m);
  };

  it('picks super tables (all their batches) and normal tables, and databases', () => {
    const s = selectTdForRestore(manifest, { tables: ['a.meters'] }, fail);
    expect([...s.databases]).toEqual([['a', 'a']]);
    expect(s.data).toHaveLength(2);
    expect(selectTdForRestore(manifest, { tables: ['a.events'] }, fail).data).toHaveLength(1);
    expect(selectTdForRestore(manifest, { tables: ['a.nochildren'] }, fail).data).toHaveLength(0);
    expect(selectTdForRestore(manifest, { databases: ['b'], targetDatabase: 'c' }, fail).databases.get('b')).toBe('c');
  });

  it('names what is not in the backup', () => {
    expect(() => selectTdForRestore(manifest, { tables: ['a.d1'] }, fail)).toThrow(/tables not in this backup: a\.d1/);
    expect(() => selectTdForRestore(manifest, { databases: ['zz'] }, fail)).toThrow(/databases not in this backup: zz/);
    expect(() => selectTdForRestore(manifest, { targetDatabase: 'c' }, fail)).toThrow(/exactly one database/);
  });
});

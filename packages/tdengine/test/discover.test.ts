/** Discovery and restore DDL against the TDengine REST test server. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TdConflictError,
  childTables,
  createDatabase,
  databaseOptions,
  describe as describeTable,
  listDatabases,
  listNormalTables,
  listSuperTables,
  serverVersion,
  showCreate,
} from '../src/index.ts';
import { startTestTd, type TestTd } from './support.ts';

let td: TestTd;

beforeAll(async () => {
  td = await startTestTd();
  const c = td.client;
  await c.exec("CREATE DATABASE `Disc One` PRECISION 'us' KEEP 3650 BUFFER 64");
  await c.exec("CREATE DATABASE d2 PRECISION 'ns'");
  await c.exec(
    'CREATE STABLE `Disc One`.meters (ts TIMESTAMP, current FLOAT, voltage INT) TAGS (location NCHAR(20), gid BIGINT, since TIMESTAMP, f DOUBLE)',
  );
  await c.exec('CREATE STABLE `Disc One`.`empty stb` (ts TIMESTAMP, v INT) TAGS (t INT)');
  await c.exec('CREATE TABLE `Disc One`.n1 (ts TIMESTAMP, v VARCHAR(8))');
  await c.exec('CREATE TABLE `Disc One`.`n 2` (ts TIMESTAMP, v VARCHAR(8))');
  await c.exec(
    "INSERT INTO `Disc One`.d1001 USING `Disc One`.meters TAGS ('California.SF', 9007199254740993, 1700000000000001, 0.1) VALUES (1700000000000000, 10.3, 219)",
  );
  await c.exec("CREATE TABLE `Disc One`.d1000 USING `Disc One`.meters TAGS ('中文 \\'q\\'', -1, NULL, 3.141592653589793)");
});

afterAll(async () => {
  await td?.close();
});

describe('discovery', () => {
  it('lists user databases only, sorted', async () => {
    expect(await listDatabases(td.client)).toEqual(['Disc One', 'd2']);
  });

  it('reads database options, precision first', async () => {
    const o = await databaseOptions(td.client, 'Disc One');
    expect(o.precision).toBe('us');
    expect(o.options).toContainEqual(['BUFFER', '64']);
    expect(o.createSql.startsWith('CREATE DATABASE `Disc One`')).toBe(true);
    expect((await databaseOptions(td.client, 'd2')).precision).toBe('ns');
  });

  it('lists super and normal tables', async () => {
    expect(await listSuperTables(td.client, 'Disc One')).toEqual(['empty stb', 'meters']);
    expect(await listNormalTables(td.client, 'Disc One')).toEqual(['n 2', 'n1']);
    expect(await listSuperTables(td.client, 'd2')).toEqual([]);
  });

  it('describes tables and shows their DDL', async () => {
    const s = await describeTable(td.client, 'Disc One', 'meters');
    expect(s.columns.map((c) => [c.name, c.type.name])).toEqual([
      ['ts', 'TIMESTAMP'],
      ['current', 'FLOAT'],
      ['voltage', 'INT'],
    ]);
    expect(s.tags.map((c) => [c.name, c.type.name, c.type.length])).toEqual([
      ['location', 'NCHAR', 20],
      ['gid', 'BIGINT', 0],
      ['since', 'TIMESTAMP', 0],
      ['f', 'DOUBLE', 0],
    ]);
    expect(await showCreate(td.client, 'Disc One', 'meters')).toMatch(/^CREATE STABLE `meters` \(`ts` TIMESTAMP/);
    expect(await showCreate(td.client, 'Disc One', 'n 2')).toBe('CREATE TABLE `n 2` (`ts` TIMESTAMP, `v` VARCHAR(8))');
  });

  it('gives child tables with typed, exact tag values (with and without rows)', async () => {
    expect(await childTables(td.client, 'Disc One', 'meters')).toEqual([
      {
        name: 'd1000',
        tags: [
          { name: 'location', type: { name: 'NCHAR', length: 20, scale: 0 }, value: "中文 'q'" },
          { name: 'gid', type: { name: 'BIGINT', length: 0, scale: 0 }, value: '-1' },
          { name: 'since', type: { name: 'TIMESTAMP', length: 0, scale: 0 }, value: null },
          { name: 'f', type: { name: 'DOUBLE', length: 0, scale: 0 }, value: '3.141592653589793' },
        ],
      },
      {
        name: 'd1001',
        tags: [
          { name: 'location', type: { name: 'NCHAR', length: 20, scale: 0 }, value: 'California.SF' },
          { name: 'gid', type: { name: 'BIGINT', length: 0, scale: 0 }, value: '9007199254740993' },
          { name: 'since', type: { name: 'TIMESTAMP', length: 0, scale: 0 }, value: '1700000000000001' },
          { name: 'f', type: { name: 'DOUBLE', length: 0, scale: 0 }, value: '0.1' },
        ],
      },
    ]);
    expect(await childTables(td.client, 'Disc One', 'empty stb')).toEqual([]);
  });

  it('reports the server version', async () => {
    expect(await serverVersion(td.client)).toMatch(/^3\./);
  });
});

describe('createDatabase', () => {
  it('creates another database with the same precision and options, and refuses one with another precision', async () => {
    const src = await databaseOptions(td.client, 'Disc One');
    await createDatabase(td.client, 'copy of one', src);
    const copy = await databaseOptions(td.client, 'copy of one');
    expect(copy.precision).toBe('us');
    expect(copy.options).toContainEqual(['BUFFER', '64']);
    expect(copy.options.find(([k]) => k === 'KEEP')).toEqual(src.options.find(([k]) => k === 'KEEP'));
    await createDatabase(td.client, 'copy of one', src);
    await expect(createDatabase(td.client, 'd2', src)).rejects.toBeInstanceOf(TdConflictError);
  });
});

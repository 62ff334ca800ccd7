import { describe, expect, it } from 'vitest';
import { createChildTableSql, createDatabaseSql, createSuperTableSql } from './ddl.ts';
import { parseCreateDatabase } from './discover.ts';
import { TdInvalidInputError } from './errors.ts';
import { countSql, pageSql } from './export.ts';
import { StatementPacker, tableClause } from './import.ts';
import { TdJsonLineReader } from './td-jsonl.ts';
import { parseTdType, type ColumnInfo } from './types.ts';

const col = (name: string, type: string, length = 0): ColumnInfo => ({ name, type: parseTdType(type, length) });

describe('TdJsonLineReader', () => {
  const text = '[1626164208000,-9223372036854775807,"a\\"b\\n",null,true,1.5e-7,"00ff"]\n[1,0,"",null,false,-0,""]\n';

  it('reads lines losslessly, whatever the chunk boundaries', () => {
    const bytes = Buffer.from(`${text}[2,1,"中文😀",null,null,null,null]\n`);
    const expected = [
      ['1626164208000', '-9223372036854775807', 'a"b\n', null, true, '1.5e-7', '00ff'],
      ['1', '0', '', null, false, '-0', ''],
      ['2', '1', '中文😀', null, null, null, null],
    ];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new TdJsonLineReader(7, 'test');
      const rows = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut)), ...r.end()];
      expect(rows, `cut ${cut}`).toEqual(expected);
    }
  });

  it('accepts a last line without a newline', () => {
    const r = new TdJsonLineReader(2, 'test');
    expect([...r.push('[1,2]\n[3,4]'), ...r.end()]).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('names the line of bad input', () => {
    const cases: [string, RegExp][] = [
      ['[1,2]\n[1]\n', /line 2 has 1 values, expected 2/],
      ['[1,2,3]\n', /more than 2 values/],
      ['[1,{"a":1}]\n', /nested/],
      ['[1,2] x\n', /text after/],
      ['1,2\n', /does not start/],
      ['[1,"abc]\n', /cut off/],
      ['[1,2]\n\n', /line 2 is empty/],
      ['[1,01]\n', /where ',' or '\]' belongs/],
      ['[1,"\\q"]\n', /not valid JSON/],
    ];
    for (const [input, re] of cases) {
      const r = new TdJsonLineReader(2, 'test');
      expect(() => [...r.push(input), ...r.end()], input).toThrow(re);
    }
  });

  it('refuses invalid UTF-8', () => {
    const r = new TdJsonLineReader(1, 'test');
    expect(() => r.push(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d, 0x0a]))).toThrow(/UTF-8/);
  });
});

describe('StatementPacker', () => {
  it('packs rows of several tables under the byte limit and never splits a row', () => {
    const sent: { sql: string; rows: number }[] = [];
    const p = new StatementPacker(1024, (sql, rows) => sent.push({ sql, rows }));
    const a = p.openTable('`d`.`a` (`ts`, `v`) VALUES ');
    const b = p.openTable('`d`.`b` (`ts`, `v`) VALUES ');
    let rows = 0;
    for (let i = 0; i < 100; i++) {
      p.add(i < 60 ? a : b, `(${i},'${'x'.repeat(i % 7)}')`);
      rows++;
    }
    p.flush();
    expect(sent.reduce((n, s) => n + s.rows, 0)).toBe(rows);
    for (const s of sent) {
      expect(Buffer.byteLength(s.sql)).toBeLessThanOrEqual(1024);
      expect(s.sql.startsWith('INSERT INTO `d`.')).toBe(true);
      expect((s.sql.match(/\(\d+,'x*'\)/g) ?? []).length).toBe(s.rows);
    }
    // the statement holding the switch from a to b names both tables
    expect(sent.some((s) => s.sql.includes('`d`.`a`') && s.sql.includes('`d`.`b`'))).toBe(true);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const sent: string[] = [];
    const p = new StatementPacker(1024, (sql) => sent.push(sql));
    const t = p.openTable('`d`.`t` (`ts`, `v`) VALUES ');
    for (let i = 0; i < 40; i++) p.add(t, `(${i},'${'😀'.repeat(10)}')`);
    p.flush();
    for (const s of sent) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(1024);
  });

  it('refuses a row that cannot fit in any statement', () => {
    const p = new StatementPacker(1024, () => undefined);
    const t = p.openTable('`d`.`t` VALUES ');
    expect(() => p.add(t, `('${'x'.repeat(2000)}')`)).toThrow(TdInvalidInputError);
  });
});

describe('generated SQL', () => {
  const columns = [col('ts', 'TIMESTAMP'), col('v', 'BIGINT'), col('s', 'NCHAR', 8)];

  it('builds INSERT clauses with USING ... TAGS and every column named', () => {
    const clause = tableClause(
      'db',
      {
        name: 'c1',
        stable: 'st',
        tags: [
          { ...col('loc', 'VARCHAR', 10), value: "O'Hare" },
          { ...col('t', 'TIMESTAMP'), value: '1700000000000' },
          { ...col('j', 'JSON', 4095), value: null },
        ],
      },
      columns,
    );
    expect(clause).toBe("`db`.`c1` USING `db`.`st` (`loc`, `t`, `j`) TAGS ('O\\'Hare', 1700000000000, NULL) (`ts`, `v`, `s`) VALUES ");
    expect(() => tableClause('db', { name: 'c1', stable: 'st' }, columns)).toThrow(TdInvalidInputError);
    expect(() => tableClause('db', { name: 'c`1' }, columns)).toThrow(TdInvalidInputError);
  });

  it('builds keyset pages and the COUNT(*) over the same window', () => {
    expect(pageSql({ db: 'db', table: 't', columns, after: undefined, from: 10n, to: 20n, limit: 5 })).toBe(
      'SELECT `ts`, `v`, `s` FROM `db`.`t` WHERE `ts` >= 10 AND `ts` < 20 ORDER BY `ts` ASC LIMIT 5',
    );
    expect(pageSql({ db: 'db', table: 't', columns, after: '15', from: 10n, to: 20n, limit: 5 })).toBe(
      'SELECT `ts`, `v`, `s` FROM `db`.`t` WHERE `ts` > 15 AND `ts` < 20 ORDER BY `ts` ASC LIMIT 5',
    );
    expect(countSql({ db: 'db', table: 't', tsColumn: 'ts', from: undefined, to: 20n })).toBe(
      'SELECT COUNT(*) FROM `db`.`t` WHERE `ts` < 20',
    );
  });

  it('reads SHOW CREATE DATABASE and rebuilds a portable CREATE DATABASE', () => {
    const text =
      "CREATE DATABASE `db` BUFFER 256 CACHESIZE 1 CACHEMODEL 'none' COMP 2 DURATION 10d WAL_FSYNC_PERIOD 3000 MAXROWS 4096 " +
      "MINROWS 100 STT_TRIGGER 2 KEEP 3650d,3650d,3650d PAGES 256 PAGESIZE 4 PRECISION 'us' REPLICA 1 WAL_LEVEL 1 VGROUPS 2 " +
      'SINGLE_STABLE 0 TABLE_PREFIX 0 TABLE_SUFFIX 0 TSDB_PAGESIZE 4 WAL_RETENTION_PERIOD 3600 WAL_RETENTION_SIZE 0 ' +
      "KEEP_TIME_OFFSET 0 ENCRYPT_ALGORITHM 'none' S3_CHUNKSIZE 131072 S3_KEEPLOCAL 525600m S3_COMPACT 1";
    const parsed = parseCreateDatabase(text);
    expect(parsed.name).toBe('db');
    expect(parsed.options).toContainEqual(['KEEP', '3650d,3650d,3650d']);
    expect(parsed.options).toContainEqual(['CACHEMODEL', "'none'"]);
    const sql = createDatabaseSql(
      'db_restored',
      { precision: 'us', options: parsed.options, createSql: text },
      { overrides: { VGROUPS: null, REPLICA: '1' } },
    );
    expect(sql.startsWith("CREATE DATABASE IF NOT EXISTS `db_restored` PRECISION 'us' BUFFER 256")).toBe(true);
    expect(sql).toContain('KEEP 3650d,3650d,3650d');
    expect(sql).not.toMatch(/S3_|ENCRYPT|VGROUPS/);
    expect(() => createDatabaseSql('x', { precision: 'ms', options: [['BUFFER', '1; DROP DATABASE y']], createSql: '' })).toThrow(
      TdInvalidInputError,
    );
  });

  it('builds table DDL from structure', () => {
    expect(createSuperTableSql('db', 'st', columns, [col('loc', 'BINARY', 20), col('g', 'INT')])).toBe(
      'CREATE STABLE IF NOT EXISTS `db`.`st` (`ts` TIMESTAMP, `v` BIGINT, `s` NCHAR(8)) TAGS (`loc` VARCHAR(20), `g` INT)',
    );
    expect(createChildTableSql('db', 'c', 'st', [{ ...col('g', 'INT'), value: '-5' }])).toBe(
      'CREATE TABLE IF NOT EXISTS `db`.`c` USING `db`.`st` (`g`) TAGS (-5)',
    );
  });
});

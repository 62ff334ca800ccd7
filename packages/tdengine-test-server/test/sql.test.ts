/**
 * The SQL subset of the TDengine REST test server (contract §3, §5): precision, overwrite
 * semantics, multi-table inserts, ordering and paging, SELECT TAGS, SHOW CREATE, DESCRIBE,
 * information_schema, DROP, DELETE, aggregates.
 */
import { describe, expect, it } from 'vitest';
import { startTdengineTestServer } from '../src/index.ts';
import { parseSql } from '../src/sql/parser.ts';
import { Client, useServer } from './helpers.ts';

const t = useServer({ errorTiming: false });
const c = (): Client => t.client;

describe('precision', () => {
  it('integer timestamps are read in the database precision; strings are truncated to it', async () => {
    for (const [p, n] of [
      ['ms', '1626164208123'],
      ['us', '1626164208123456'],
      ['ns', '1626164208123456789'],
    ] as const) {
      await c().ok(`CREATE DATABASE p_${p} PRECISION '${p}'`);
      await c().ok(`CREATE TABLE p_${p}.t (ts TIMESTAMP, v INT)`);
      await c().ok(`INSERT INTO p_${p}.t VALUES (${n}, 1) ('2021-07-13 08:16:49.987654321', 2) ('2021-07-13T10:16:50.5+02:00', 3)`);
    }
    expect(await c().rows('SELECT ts, v FROM p_ms.t')).toEqual([
      ['2021-07-13T08:16:48.123Z', 1],
      ['2021-07-13T08:16:49.987Z', 2],
      ['2021-07-13T08:16:50.500Z', 3],
    ]);
    expect(await c().rows('SELECT ts FROM p_us.t')).toEqual([
      ['2021-07-13T08:16:48.123456Z'],
      ['2021-07-13T08:16:49.987654Z'],
      ['2021-07-13T08:16:50.500000Z'],
    ]);
    expect(await c().rows('SELECT ts FROM p_ns.t')).toEqual([
      ['2021-07-13T08:16:48.123456789Z'],
      ['2021-07-13T08:16:49.987654321Z'],
      ['2021-07-13T08:16:50.500000000Z'],
    ]);
    expect(await c().rows("SELECT v FROM p_ns.t WHERE ts > 1626164208123456789 AND ts <= '2021-07-13T08:16:50.5Z'")).toEqual([[2], [3]]);
    expect(await c().rows("SELECT `precision` FROM information_schema.ins_databases WHERE name = 'p_us'")).toEqual([['us']]);
  });

  it('conn_tz sets the zone of literals without an offset; tz only formats', async () => {
    await c().ok('CREATE TABLE p_ms.z (ts TIMESTAMP, v INT)');
    await c().ok("INSERT INTO p_ms.z VALUES ('2024-01-01 08:00:00.000', 1)", { path: '/rest/sql?conn_tz=Asia/Shanghai' });
    expect(await c().rows('SELECT ts FROM p_ms.z')).toEqual([['2024-01-01T00:00:00.000Z']]);
    expect(await c().rows('SELECT ts FROM p_ms.z', { path: '/rest/sql?conn_tz=Asia/Shanghai' })).toEqual([
      ['2024-01-01T08:00:00.000+08:00'],
    ]);
  });

  it('timestamps beyond the accepted range fail with 0x060B', async () => {
    expect(await c().sql('INSERT INTO p_ms.z VALUES (99999999999999999, 1)')).toBe('{"code":1547,"desc":"Timestamp data out of range"}');
  });
});

describe('writes', () => {
  it('same-timestamp overwrite: omitted columns keep values, explicit NULL overwrites (TestWriteUpdate)', async () => {
    await c().ok('CREATE DATABASE upd');
    await c().ok('CREATE TABLE upd.ct2 (ts TIMESTAMP, c1 INT)');
    await c().ok(
      "INSERT INTO upd.ct2 VALUES ('2022-03-02 16:59:00.010', 303) ('2022-03-06 16:59:00.013', 80) ('2022-04-01 16:59:00.011', 60)",
    );
    await c().ok("INSERT INTO upd.ct2(ts) VALUES ('2022-04-02 16:59:00.016')");
    await c().ok("INSERT INTO upd.ct2 VALUES ('2022-03-06 16:59:00.013', NULL)");
    await c().ok("INSERT INTO upd.ct2 VALUES ('2022-03-01 16:59:00.016', 10)");
    await c().ok("INSERT INTO upd.ct2(ts) VALUES ('2022-04-01 16:59:00.011')");
    expect(await c().rows('SELECT c1 FROM upd.ct2')).toEqual([[10], [303], [null], [60], [null]]);
  });

  it('duplicates within one statement merge in order, per column', async () => {
    await c().ok('CREATE TABLE upd.m (ts TIMESTAMP, a INT, b INT)');
    expect(await c().sql('INSERT INTO upd.m VALUES (5, 1, 1) (5, 2, NULL) upd.m (ts, b) VALUES (5, 7)')).toContain('"data":[[3]]');
    expect(await c().rows('SELECT a, b FROM upd.m')).toEqual([[2, 7]]);
  });

  it('rows arrive out of order and are stored sorted', async () => {
    await c().ok('CREATE TABLE upd.ooo (ts TIMESTAMP, v INT)');
    await c().ok('INSERT INTO upd.ooo VALUES (50, 5) (10, 1) (30, 3)');
    await c().ok('INSERT INTO upd.ooo VALUES (20, 2) (40, 4) (0, 0)');
    expect(await c().rows('SELECT v FROM upd.ooo')).toEqual([[0], [1], [2], [3], [4], [5]]);
  });

  it('the documented multi-table INSERT with USING, tag-name lists and column lists', async () => {
    await c().ok('CREATE DATABASE power');
    await c().ok(
      'CREATE STABLE power.meters (ts TIMESTAMP, current FLOAT, voltage INT, phase FLOAT) TAGS (location BINARY(64), groupId INT)',
    );
    const body = await c().sql(
      "INSERT INTO d21001 USING meters TAGS ('California.SanFrancisco', 2) VALUES ('2021-07-13 14:06:34.630', 10.2, 219, 0.32) ('2021-07-13 14:06:35.779', 10.15, 217, 0.33)\n" +
        "            d21002 USING meters (groupId) TAGS (2) VALUES ('2021-07-13 14:06:34.255', 10.15, 217, 0.33)\n" +
        "            d21003 USING meters (groupId) TAGS (2) (ts, current, phase) VALUES ('2021-07-13 14:06:34.255', 10.27, 0.31);",
      { path: '/rest/sql/power' },
    );
    expect(body).toBe('{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[[4]],"rows":1}');
    expect(await c().rows('SELECT TAGS tbname, location, groupid FROM power.meters')).toEqual([
      ['d21001', 'California.SanFrancisco', 2],
      ['d21002', null, 2],
      ['d21003', null, 2],
    ]);
    expect(await c().rows('SELECT tbname, ts, current, voltage, phase FROM power.meters ORDER BY ts')).toEqual([
      ['d21002', '2021-07-13T14:06:34.255Z', 10.15, 217, 0.33],
      ['d21003', '2021-07-13T14:06:34.255Z', 10.27, null, 0.31],
      ['d21001', '2021-07-13T14:06:34.630Z', 10.2, 219, 0.32],
      ['d21001', '2021-07-13T14:06:35.779Z', 10.15, 217, 0.33],
    ]);
  });

  it('USING does not change the tags of an existing table', async () => {
    await c().ok("INSERT INTO power.d21001 USING power.meters TAGS ('Elsewhere', 9) VALUES ('2021-07-13 14:06:36.000', 1, 1, 1)");
    expect(await c().rows("SELECT TAGS location, groupid FROM power.meters WHERE tbname = 'd21001'")).toEqual([
      ['California.SanFrancisco', 2],
    ]);
  });

  it('the super-table form INSERT INTO stb(tbname, tags..., cols...)', async () => {
    await c().ok(
      "INSERT INTO power.meters(tbname, location, groupId, ts, current, voltage, phase) VALUES ('d31001', 'California.SanFrancisco', 2, '2021-07-13 14:06:34.630', 10.2, 219, 0.32)",
    );
    expect(await c().rows("SELECT tbname, location, voltage FROM power.meters WHERE tbname = 'd31001'")).toEqual([
      ['d31001', 'California.SanFrancisco', 219],
    ]);
  });

  it('a statement with an error writes nothing', async () => {
    const before = await c().rows('SELECT COUNT(*) FROM power.meters');
    expect(await c().sql('INSERT INTO power.d21001 VALUES (now, 1, 1, 1) power.nosuch VALUES (now, 1, 1, 1)')).toBe(
      '{"code":9731,"desc":"Table does not exist: nosuch"}',
    );
    expect(await c().sql("INSERT INTO power.d9 USING power.meters TAGS ('x', 1) VALUES (now, 1, 1, 'abc')")).toMatch(/^\{"code":9728,/);
    expect(await c().rows('SELECT COUNT(*) FROM power.meters')).toEqual(before);
    expect(await c().rows("SELECT COUNT(*) FROM information_schema.ins_tables WHERE table_name = 'd9'")).toEqual([[0]]);
  });

  it('errors: wrong column count, unknown column, table of another super table', async () => {
    expect(await c().sql('INSERT INTO power.d21001 VALUES (1, 2)')).toBe('{"code":9780,"desc":"Illegal number of columns"}');
    expect(await c().sql('INSERT INTO power.d21001 (ts, nope) VALUES (1, 2)')).toBe('{"code":9730,"desc":"Invalid column name: nope"}');
    await c().ok('CREATE STABLE power.other (ts TIMESTAMP, v INT) TAGS (t INT)');
    expect(await c().sql('INSERT INTO power.d21001 USING power.other TAGS (1) VALUES (1, 2)')).toBe(
      '{"code":1565,"desc":"Table already exists in other stables"}',
    );
  });
});

describe('reading', () => {
  it('ORDER BY ts, LIMIT/OFFSET, LIMIT m,n, keyset paging', async () => {
    await c().ok('CREATE DATABASE rd');
    await c().ok('CREATE TABLE rd.t (ts TIMESTAMP, v INT)');
    await c().ok(`INSERT INTO rd.t VALUES ${Array.from({ length: 10 }, (_, i) => `(${1000 + i}, ${i})`).join(' ')}`);
    expect(await c().rows('SELECT v FROM rd.t ORDER BY ts DESC LIMIT 3 OFFSET 2')).toEqual([[7], [6], [5]]);
    expect(await c().rows('SELECT v FROM rd.t LIMIT 2, 3')).toEqual([[2], [3], [4]]);
    expect(await c().rows('SELECT v FROM rd.t WHERE ts > 1004 ORDER BY ts ASC LIMIT 3')).toEqual([[5], [6], [7]]);
    expect(await c().rows('SELECT v FROM rd.t WHERE _c0 >= 1008 AND _c0 <= 1100 ORDER BY _c0')).toEqual([[8], [9]]);
    expect(await c().rows('SELECT v FROM rd.t WHERE ts BETWEEN 1002 AND 1003')).toEqual([[2], [3]]);
    expect(await c().rows('SELECT v FROM rd.t WHERE v % 4 = 0 AND ts < 1009 ORDER BY v DESC')).toEqual([[8], [4], [0]]);
    expect(await c().rows('SELECT v FROM rd.t WHERE v IN (1, 3) OR v IS NULL')).toEqual([[1], [3]]);
  });

  it('super tables: * includes tags, ORDER BY ts merges children, tag filters, tbname', async () => {
    await c().ok('CREATE STABLE rd.st (ts TIMESTAMP, v INT) TAGS (g INT, name NCHAR(8))');
    await c().ok(
      "INSERT INTO rd.a USING rd.st TAGS (1, 'aa') VALUES (1, 10) (4, 40) rd.b USING rd.st TAGS (2, 'bb') VALUES (2, 20) (3, 30)",
    );
    expect(await c().rows('SELECT * FROM rd.st')).toEqual([
      ['1970-01-01T00:00:00.001Z', 10, 1, 'aa'],
      ['1970-01-01T00:00:00.004Z', 40, 1, 'aa'],
      ['1970-01-01T00:00:00.002Z', 20, 2, 'bb'],
      ['1970-01-01T00:00:00.003Z', 30, 2, 'bb'],
    ]);
    expect(await c().rows('SELECT tbname, v FROM rd.st ORDER BY ts')).toEqual([
      ['a', 10],
      ['b', 20],
      ['b', 30],
      ['a', 40],
    ]);
    expect(await c().rows('SELECT v FROM rd.st ORDER BY ts DESC LIMIT 2 OFFSET 1')).toEqual([[30], [20]]);
    expect(await c().rows("SELECT v FROM rd.st WHERE g = 2 AND name LIKE 'b%'")).toEqual([[20], [30]]);
    expect(await c().rows("SELECT v FROM rd.st WHERE tbname IN ('a') AND ts > 1")).toEqual([[40]]);
    expect(await c().rows('SELECT * FROM rd.a')).toEqual([
      ['1970-01-01T00:00:00.001Z', 10],
      ['1970-01-01T00:00:00.004Z', 40],
    ]);
    expect(await c().rows('SELECT g, v FROM rd.a LIMIT 1')).toEqual([[1, 10]]);
    expect(await c().rows('SELECT v FROM rd.st ORDER BY v DESC LIMIT 2')).toEqual([[40], [30]]);
    expect(await c().rows('SELECT DISTINCT tbname FROM rd.st ORDER BY tbname')).toEqual([['a'], ['b']]);
  });

  it('SELECT TAGS returns one row per child, tables without rows included; SHOW TABLE TAGS is the same', async () => {
    await c().ok("CREATE TABLE rd.empty USING rd.st TAGS (3, 'cc')");
    expect(await c().rows('SELECT TAGS tbname, g, name FROM rd.st')).toEqual([
      ['a', 1, 'aa'],
      ['b', 2, 'bb'],
      ['empty', 3, 'cc'],
    ]);
    expect(await c().rows('SELECT TAGS tbname FROM rd.st WHERE g >= 2 ORDER BY tbname DESC')).toEqual([['empty'], ['b']]);
    expect(await c().rows('SHOW TABLE TAGS FROM rd.st')).toEqual([
      ['a', 1, 'aa'],
      ['b', 2, 'bb'],
      ['empty', 3, 'cc'],
    ]);
    expect(await c().sql('SELECT TAGS v FROM rd.st')).toMatch(/^\{"code":9730,/);
    expect(await c().sql('SELECT TAGS tbname FROM rd.t')).toBe('{"code":559,"desc":"Table is not a super table"}');
  });

  it('aggregates: COUNT(*) with windows, per child with PARTITION BY tbname, min/max/sum/avg/first/last', async () => {
    expect(await c().rows('SELECT COUNT(*) FROM rd.st')).toEqual([[4]]);
    expect(await c().rows('SELECT COUNT(*) FROM rd.st WHERE ts >= 2 AND ts < 4')).toEqual([[2]]);
    expect(await c().rows('SELECT COUNT(*) AS n FROM rd.empty')).toEqual([[0]]);
    expect(await c().sql('SELECT COUNT(*) FROM rd.empty')).toContain('"column_meta":[["COUNT(*)","BIGINT",8]]');
    expect(await c().rows('SELECT tbname, COUNT(*) FROM rd.st PARTITION BY tbname ORDER BY tbname')).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
    expect(await c().rows('SELECT MIN(v), MAX(v), SUM(v), AVG(v), FIRST(v), LAST(v), LAST_ROW(ts), COUNT(v) FROM rd.st')).toEqual([
      [10, 40, 100, 25, 10, 40, '1970-01-01T00:00:00.004Z', 4],
    ]);
    expect(await c().sql('SELECT ts, COUNT(*) FROM rd.st')).toBe('{"code":9740,"desc":"Not a single-group group function"}');
    expect(await c().rows("SELECT COUNT(*) FROM information_schema.ins_tables WHERE db_name = 'rd'")).toEqual([[4]]);
  });

  it('SELECT without FROM: constants and server functions', async () => {
    expect(await c().sql('SELECT SERVER_VERSION()')).toBe(
      '{"code":0,"column_meta":[["SERVER_VERSION()","VARCHAR",64]],"data":[["3.3.6.0"]],"rows":1}',
    );
    expect(await c().rows("SELECT 1, 'a', 1.5, true, NULL")).toEqual([[1, 'a', 1.5, true, null]]);
  });

  it('unknown columns are 0x2602', async () => {
    expect(await c().sql('SELECT nope FROM rd.t')).toBe('{"code":9730,"desc":"Invalid column name: nope"}');
  });
});

describe('schema views', () => {
  it('SHOW CREATE TABLE/STABLE: the verbatim strings from TDengine tests', async () => {
    await c().ok('CREATE DATABASE ddl');
    await c().ok('CREATE STABLE ddl.meters (ts TIMESTAMP, f VARCHAR(8)) TAGS (loc INT, zone VARCHAR(8))');
    await c().ok('CREATE TABLE ddl.normaltbl (ts TIMESTAMP, zone VARCHAR(8))');
    await c().ok('CREATE STABLE ddl.stb (ts TIMESTAMP, v INT) TAGS (t1 NCHAR(8), gid INT)');
    await c().ok("CREATE TABLE ddl.ctb1 USING ddl.stb TAGS ('测试', 1)");
    await c().ok('CREATE STABLE ddl.stb2 (ts TIMESTAMP, v INT) TAGS (t1 INT, t4 INT, t5 INT)');
    await c().ok('CREATE TABLE ddl.ctb USING ddl.stb2 (t1, t4) TAGS (1, 4)');
    const ddl = async (sql: string): Promise<unknown> => (await c().rows(sql))[0]![1];
    expect(await ddl('SHOW CREATE STABLE ddl.meters')).toBe(
      'CREATE STABLE `meters` (`ts` TIMESTAMP, `f` VARCHAR(8)) TAGS (`loc` INT, `zone` VARCHAR(8))',
    );
    expect(await ddl('SHOW CREATE TABLE ddl.meters')).toBe(
      'CREATE STABLE `meters` (`ts` TIMESTAMP, `f` VARCHAR(8)) TAGS (`loc` INT, `zone` VARCHAR(8))',
    );
    expect(await ddl('SHOW CREATE TABLE ddl.normaltbl')).toBe('CREATE TABLE `normaltbl` (`ts` TIMESTAMP, `zone` VARCHAR(8))');
    expect(await ddl('SHOW CREATE TABLE ddl.ctb1')).toBe('CREATE TABLE `ctb1` USING `stb` (`t1`, `gid`) TAGS ("测试", 1)');
    expect(await ddl('SHOW CREATE TABLE ddl.ctb')).toBe('CREATE TABLE `ctb` USING `stb2` (`t1`, `t4`, `t5`) TAGS (1, 4, NULL)');
    expect(await c().sql('SHOW CREATE STABLE ddl.normaltbl')).toBe('{"code":559,"desc":"Table is not a super table"}');
    const body = await c().sql('SHOW CREATE TABLE ddl.normaltbl');
    expect(body).toContain('"column_meta":[["Table","VARCHAR",192],["Create Table","VARCHAR",65517]]');
  });

  it('newest-build suffix for SHOW CREATE STABLE is configurable', async () => {
    const s = await startTdengineTestServer({ port: 0, stableDdlSuffix: 'SECURITY_LEVEL 0 SECURE_DELETE 0' });
    const cl = new Client(s);
    try {
      await cl.ok('CREATE DATABASE d');
      await cl.ok('CREATE STABLE d.meters (ts TIMESTAMP, f VARCHAR(8)) TAGS (loc INT, zone VARCHAR(8))');
      expect((await cl.rows('SHOW CREATE STABLE d.meters'))[0]![1]).toBe(
        'CREATE STABLE `meters` (`ts` TIMESTAMP, `f` VARCHAR(8)) TAGS (`loc` INT, `zone` VARCHAR(8)) SECURITY_LEVEL 0 SECURE_DELETE 0',
      );
    } finally {
      cl.close();
      await s.close();
    }
  });

  it('SHOW CREATE DATABASE echoes options in the newest format', async () => {
    await c().ok(
      "CREATE DATABASE IF NOT EXISTS opts PRECISION 'ns' KEEP 365d,730d DURATION 240h VGROUPS 4 CACHEMODEL 'last_row' COMP 1 WAL_LEVEL 2",
    );
    expect(await c().rows('SHOW CREATE DATABASE opts')).toEqual([
      [
        'opts',
        "CREATE DATABASE `opts` BUFFER 256 CACHESIZE 1 CACHEMODEL 'last_row' COMP 1 DURATION 10d WAL_FSYNC_PERIOD 3000 MAXROWS 4096 MINROWS 100 " +
          "STT_TRIGGER 2 KEEP 365d,730d,730d PAGES 256 PAGESIZE 4 PRECISION 'ns' REPLICA 1 WAL_LEVEL 2 VGROUPS 4 SINGLE_STABLE 0 TABLE_PREFIX 0 " +
          "TABLE_SUFFIX 0 TSDB_PAGESIZE 4 WAL_RETENTION_PERIOD 3600 WAL_RETENTION_SIZE 0 KEEP_TIME_OFFSET 0 ENCRYPT_ALGORITHM 'none' " +
          'S3_CHUNKSIZE 131072 S3_KEEPLOCAL 525600m S3_COMPACT 1',
      ],
    ]);
    expect(await c().rows('SHOW CREATE DATABASE information_schema')).toEqual([
      ['information_schema', 'CREATE DATABASE `information_schema`'],
    ]);
    expect(await c().sql("CREATE DATABASE x PRECISION 'xs'")).toMatch(/^\{"code":9753,/);
    expect(await c().sql('CREATE DATABASE x BOGUS 1')).toMatch(/^\{"code":9728,/);
  });

  it('DESCRIBE: field, type, length, note', async () => {
    expect(await c().sql('DESCRIBE ddl.ctb1')).toBe(
      '{"code":0,"column_meta":[["field","VARCHAR",64],["type","VARCHAR",20],["length","INT",4],["note","VARCHAR",16]],' +
        '"data":[["ts","TIMESTAMP",8,""],["v","INT",4,""],["t1","NCHAR",8,"TAG"],["gid","INT",4,"TAG"]],"rows":4}',
    );
    expect(await c().rows('DESC ddl.normaltbl')).toEqual([
      ['ts', 'TIMESTAMP', 8, ''],
      ['zone', 'VARCHAR', 8, ''],
    ]);
  });

  it('information_schema: ins_databases, ins_stables, ins_tables, ins_tags (lossy), ins_columns', async () => {
    const dbs = await c().rows(
      "SELECT name, `precision`, keep, duration, vgroups, ntables, status FROM information_schema.ins_databases WHERE name = 'ddl'",
    );
    expect(dbs).toEqual([['ddl', 'ms', '3650d,3650d,3650d', '10d', 2, 3, 'ready']]);
    const body = await c().sql('SELECT * FROM information_schema.ins_databases LIMIT 0');
    expect(body).toContain(
      '["name","VARCHAR",64],["create_time","TIMESTAMP",8],["vgroups","INT",4],["ntables","BIGINT",8],["replica","TINYINT",1],["strict","VARCHAR",4],' +
        '["duration","VARCHAR",10],["keep","VARCHAR",32],["buffer","INT",4],["pagesize","INT",4],["pages","INT",4],["minrows","INT",4],["maxrows","INT",4],' +
        '["comp","TINYINT",1],["precision","VARCHAR",2],["status","VARCHAR",10],["retentions","VARCHAR",60],["single_stable","BOOL",1],' +
        '["cachemodel","VARCHAR",11],["cachesize","INT",4],["wal_level","TINYINT",1],["wal_fsync_period","INT",4],["wal_retention_period","INT",4],' +
        '["wal_retention_size","BIGINT",8],["stt_trigger","SMALLINT",2],["table_prefix","SMALLINT",2],["table_suffix","SMALLINT",2],' +
        '["tsdb_pagesize","INT",4],["keep_time_offset","INT",4]]',
    );
    expect(
      await c().rows("SELECT stable_name, columns, tags FROM information_schema.ins_stables WHERE db_name = 'ddl' ORDER BY stable_name"),
    ).toEqual([
      ['meters', 2, 2],
      ['stb', 2, 2],
      ['stb2', 2, 3],
    ]);
    expect(
      await c().rows(
        "SELECT table_name, stable_name, type, columns FROM information_schema.ins_tables WHERE db_name = 'ddl' ORDER BY table_name",
      ),
    ).toEqual([
      ['ctb', 'stb2', 'CHILD_TABLE', 2],
      ['ctb1', 'stb', 'CHILD_TABLE', 2],
      ['normaltbl', null, 'NORMAL_TABLE', 2],
    ]);
    expect(await c().rows("SELECT table_name FROM information_schema.ins_tables WHERE db_name = 'ddl' AND stable_name IS NULL")).toEqual([
      ['normaltbl'],
    ]);
    await c().ok(
      'CREATE STABLE ddl.lossy (ts TIMESTAMP, v INT) TAGS (f FLOAT, d DOUBLE, t TIMESTAMP, b BOOL, vb VARBINARY(4), s VARCHAR(4))',
    );
    await c().ok("CREATE TABLE ddl.l1 USING ddl.lossy TAGS (1.5, 0.1, 1626164208000, true, '\\x0aff', NULL)");
    expect(
      await c().rows(
        "SELECT tag_name, tag_type, tag_value FROM information_schema.ins_tags WHERE db_name = 'ddl' AND stable_name = 'lossy'",
      ),
    ).toEqual([
      ['f', 'FLOAT', '1.50000'],
      ['d', 'DOUBLE', '0.100000000'],
      ['t', 'TIMESTAMP', '1626164208000'],
      ['b', 'BOOL', 'true'],
      ['vb', 'VARBINARY(4)', '\\x0aff'],
      ['s', 'VARCHAR(4)', null],
    ]);
    expect(await c().rows('SHOW TAGS FROM l1 FROM ddl')).toHaveLength(6);
    expect(
      await c().rows(
        "SELECT col_name, col_type, col_length FROM information_schema.ins_columns WHERE db_name = 'ddl' AND table_name = 'normaltbl'",
      ),
    ).toEqual([
      ['ts', 'TIMESTAMP', 8],
      ['zone', 'VARCHAR(8)', 8],
    ]);
  });

  it('SHOW DATABASES / STABLES / TABLES', async () => {
    const names = (await c().rows('SHOW DATABASES')).map((r) => r[0]);
    expect(names.slice(0, 2)).toEqual(['information_schema', 'performance_schema']);
    expect(names).toContain('ddl');
    expect(await c().rows("SHOW ddl.STABLES LIKE 'stb%'")).toEqual([['stb'], ['stb2']]);
    expect(await c().rows('SHOW NORMAL ddl.TABLES')).toEqual([['normaltbl']]);
    expect(await c().rows('SHOW CHILD TABLES', { path: '/rest/sql/ddl' })).toEqual([['ctb1'], ['ctb'], ['l1']]);
  });
});

describe('DDL and DELETE', () => {
  it('CREATE ... IF NOT EXISTS, duplicates, and validation errors', async () => {
    await c().ok('CREATE DATABASE dd');
    expect(await c().sql('CREATE DATABASE dd')).toBe('{"code":897,"desc":"Database already exists"}');
    await c().ok('CREATE DATABASE IF NOT EXISTS dd');
    await c().ok('CREATE STABLE dd.s (ts TIMESTAMP, v INT) TAGS (t INT)');
    expect(await c().sql('CREATE STABLE dd.s (ts TIMESTAMP, v INT) TAGS (t INT)')).toBe('{"code":864,"desc":"STable already exists"}');
    await c().ok('CREATE STABLE IF NOT EXISTS dd.s (ts TIMESTAMP, v INT) TAGS (t INT)');
    expect(await c().sql('CREATE TABLE dd.s (ts TIMESTAMP, v INT)')).toBe('{"code":1539,"desc":"Table already exists"}');
    expect(await c().sql('CREATE TABLE dd.n (v INT, ts TIMESTAMP)')).toBe('{"code":9793,"desc":"The first column must be timestamp"}');
    expect(await c().sql('CREATE TABLE dd.n (ts TIMESTAMP, v INT, v INT)')).toBe('{"code":9788,"desc":"Duplicated column names"}');
    await c().ok('CREATE TABLE dd.c1 USING dd.s TAGS (1) dd.c2 USING dd.s TAGS (2)');
    expect(await c().sql('CREATE TABLE dd.c1 USING dd.s TAGS (1)')).toBe('{"code":1539,"desc":"Table already exists"}');
    await c().ok('CREATE TABLE IF NOT EXISTS dd.c1 USING dd.s TAGS (1)');
    expect(await c().sql('CREATE TABLE dd.c3 USING dd.s TAGS (1, 2)')).toBe('{"code":9741,"desc":"Tags number not matched"}');
  });

  it('DELETE by time range and tags; affected rows', async () => {
    await c().ok('INSERT INTO dd.c1 VALUES (1, 1) (2, 2) (3, 3) dd.c2 VALUES (1, 1) (2, 2) (3, 3)');
    expect(await c().sql('DELETE FROM dd.c1 WHERE ts >= 2')).toContain('"data":[[2]]');
    expect(await c().sql('DELETE FROM dd.s WHERE ts < 2 AND t = 2')).toContain('"data":[[1]]');
    expect(await c().rows('SELECT tbname, v FROM dd.s')).toEqual([
      ['c1', 1],
      ['c2', 2],
      ['c2', 3],
    ]);
    expect(await c().sql('DELETE FROM dd.c2 WHERE v = 2')).toMatch(/^\{"code":9813,/);
  });

  it('DROP TABLE / STABLE / DATABASE with IF EXISTS', async () => {
    await c().ok('DROP TABLE dd.c1');
    expect(await c().sql('DROP TABLE dd.c1')).toBe('{"code":9731,"desc":"Table does not exist: c1"}');
    await c().ok('DROP TABLE IF EXISTS dd.c1');
    await c().ok('DROP STABLE dd.s');
    expect(await c().rows("SELECT COUNT(*) FROM information_schema.ins_tables WHERE db_name = 'dd'")).toEqual([[0]]);
    expect(await c().sql('DROP STABLE dd.s')).toBe('{"code":866,"desc":"STable not exist"}');
    await c().ok('DROP STABLE IF EXISTS dd.s');
    await c().ok('DROP DATABASE dd');
    expect(await c().sql('DROP DATABASE dd')).toBe('{"code":904,"desc":"Database not exist"}');
    await c().ok('DROP DATABASE IF EXISTS dd');
    expect(await c().sql('USE dd')).toBe('{"code":904,"desc":"Database not exist"}');
  });
});

describe('parser', () => {
  it('parses identifiers, backquotes, strings with escapes, durations, comments', () => {
    const s = parseSql("select `MixedCase`, Col from DB.`Tb` /* c */ where ts > now - 1h -- x\n and v = 'a\\'b' limit 5 offset 1;");
    expect(s).toMatchObject({
      kind: 'select',
      items: [
        { k: 'expr', expr: { k: 'col', name: 'MixedCase' } },
        { k: 'expr', expr: { k: 'col', name: 'col' } },
      ],
      from: { table: { db: 'db', name: 'Tb' } },
      limit: 5,
      offset: 1,
    });
  });

  it('rejects unknown syntax with 0x2600', () => {
    // INSERT rows are parsed while they are consumed
    const parseAll = (sql: string): void => {
      const s = parseSql(sql);
      if (s.kind === 'insert') for (const item of s.items) for (const row of item.rows) void row;
    };
    for (const sql of [
      'ALTER TABLE t ADD COLUMN x INT',
      "select 'unclosed",
      'select from',
      'insert into t values (1',
      'insert into t values (1) garbage',
      'insert into t values (1) t2 values (2) )',
      'create table t (ts timestamp, v unknown)',
    ]) {
      expect(() => parseAll(sql)).toThrow(/syntax error near/);
    }
  });
});

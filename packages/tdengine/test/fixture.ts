/**
 * The TDengine fidelity fixture (issue 4, item 9): every type at its extremes, in a database
 * of a given precision: a super table with every column and tag type (children with extreme,
 * empty and NULL tags, one child without rows), a super table with JSON tags, and a normal
 * table with a space in its name. Shared by the connector's fidelity test and the platform's
 * end-to-end test.
 */

import type { Precision, TdClient } from '../src/index.ts';
import { quoteString } from '../src/index.ts';

export const COLUMNS =
  '`ts` TIMESTAMP, `c_bool` BOOL, `c_i8` TINYINT, `c_i16` SMALLINT, `c_i32` INT, `c_i64` BIGINT, ' +
  '`c_u8` TINYINT UNSIGNED, `c_u16` SMALLINT UNSIGNED, `c_u32` INT UNSIGNED, `c_u64` BIGINT UNSIGNED, ' +
  '`c_f32` FLOAT, `c_f64` DOUBLE, `c_str` VARCHAR(64), `c_nchar` NCHAR(16), `c_bin` VARBINARY(16), ' +
  '`c_geo` GEOMETRY(512), `c_dec` DECIMAL(20,4), `c_blob` BLOB, `c_ts` TIMESTAMP';

export const TAGS =
  '`t_i64` BIGINT, `t_u64` BIGINT UNSIGNED, `t_f32` FLOAT, `t_f64` DOUBLE, `t_str` VARCHAR(32), `t_nchar` NCHAR(8), ' +
  '`t_ts` TIMESTAMP, `t_bool` BOOL, `t_bin` VARBINARY(8), `t_geo` GEOMETRY(64)';

/** Timestamps at each precision: early, around the epoch, late (ns up to int64's last but one). */
export const TIMES: Record<Precision, string[]> = {
  ms: ['-1000', '0', '1', '1626164208000', '31556995199999'],
  us: ['-1', '0', '1626164208000001', '1626164208000999', '31556995199999999'],
  ns: ['-1000000001', '1', '1626164208000000001', '1626164208999999999', '9223372036854775806'],
};

/** Rows of extremes; `{ts}` and `{ts2}` are replaced by timestamps of the precision. */
export const ROWS = [
  `({ts}, true, 127, 32767, 2147483647, 9223372036854775807, 255, 65535, 4294967295, 18446744073709551615, ` +
    `3.4028234663852886e38, 1.7976931348623157e308, '', '中文😀🎉', '\\x00', 'POINT(1.5 -2.25)', ` +
    `'9999999999999999.9999', '\\x00ff00', {ts2})`,
  `({ts}, false, -128, -32768, -2147483648, -9223372036854775807, 0, 0, 0, 0, ` +
    `-3.4028234663852886e38, -1.7976931348623157e308, 'it\\'s "q" \\\\ back\\nslash\\ttab', 'ñ한글', '\\x', ` +
    `'LINESTRING(0 0, 1e-7 1e21, 2 0.5)', '-9999999999999999.9999', '\\x', {ts2})`,
  `({ts}, NULL, 0, 0, 0, 9223372036854775806, 1, 1, 1, 18446744073709551614, ` +
    `1.401298464324817e-45, 5e-324, ' ', '', '\\x0000ff00', 'POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 1 2, 1 1))', ` +
    `'0.0001', '\\xdeadbeef', NULL)`,
  `({ts}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `({ts}, true, -1, -1, -1, -1, 254, 65534, 4294967294, 9223372036854775808, ` +
    `-0.0, -0.0, 'null', 'NULL', '\\xffffffffffffffffffffffffffffffff', ` +
    `'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1), MULTIPOLYGON(((0 0, 1 0, 0 1, 0 0))), MULTIPOINT((1 2), (3 4)), MULTILINESTRING((0 0, 1 1), (2 2, 3 3)))', ` +
    `'-0.0001', '\\x', {ts2})`,
];

export const FLOAT_EDGES = ['1.1754943508222875e-38', '0.1', '10.123', '-16777217', '3.1415927'];
export const DOUBLE_EDGES = ['2.2250738585072014e-308', '0.1', '1e21', '1e-7', '123456789.12345679', '-4.9e-324'];

export function rowsSql(p: Precision): string {
  const t = TIMES[p];
  const main = ROWS.map((r, i) => r.replace('{ts}', t[i]!).replace('{ts2}', t[(i + 2) % t.length]!));
  // float / double edges in extra rows
  const base = BigInt(t[3]!) - 1_000_000n;
  const extra = FLOAT_EDGES.map(
    (f, i) =>
      `(${base + BigInt(i)}, true, 1, 1, 1, 1, 1, 1, 1, 1, ${f}, ${DOUBLE_EDGES[i]}, 'x', 'y', '\\x01', 'POINT EMPTY', '1', '\\x01', NULL)`,
  );
  return [...main, ...extra].join(' ');
}

export const TAG_VALUES = [
  `9223372036854775807, 18446744073709551615, 3.4028234663852886e38, 5e-324, 'O\\'Hare "x"', '😀中', {ts}, true, '\\x00ff', 'POINT(1 2)'`,
  `-9223372036854775807, 0, -1.401298464324817e-45, -1.7976931348623157e308, '', '', {ts}, false, '\\x', 'POINT EMPTY'`,
  `NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`,
];

export async function createSource(c: TdClient, db: string, p: Precision): Promise<void> {
  await c.exec(`CREATE DATABASE \`${db}\` PRECISION '${p}' KEEP 36500 DURATION 20d BUFFER 128 COMP 1`);
  await c.exec(`CREATE STABLE \`${db}\`.\`st_all\` (${COLUMNS}) TAGS (${TAGS})`);
  await c.exec(`CREATE STABLE \`${db}\`.\`st_json\` (\`ts\` TIMESTAMP, \`v\` INT) TAGS (\`info\` JSON)`);
  await c.exec(`CREATE TABLE \`${db}\`.\`Normal Table\` (${COLUMNS})`);
  const rows = rowsSql(p);
  for (const [i, tags] of TAG_VALUES.entries()) {
    const ts = TIMES[p][i]!;
    await c.exec(`INSERT INTO \`${db}\`.\`child_${i}\` USING \`${db}\`.\`st_all\` TAGS (${tags.replace('{ts}', ts)}) VALUES ${rows}`);
  }
  // a child table without rows (restored by createChildTable, not by an INSERT)
  await c.exec(`CREATE TABLE \`${db}\`.\`empty child\` USING \`${db}\`.\`st_all\` TAGS (${TAG_VALUES[0]!.replace('{ts}', TIMES[p][0]!)})`);
  await c.exec(`INSERT INTO \`${db}\`.\`Normal Table\` VALUES ${rows}`);
  const jsons = [
    quoteString(JSON.stringify({ k: 'v', n: 1.5, b: true, z: null, emoji: '😀', q: `it's "x" \\ \n` })),
    'NULL',
    `'{}'`,
    `'{"big":1e300}'`,
  ];
  for (const [i, j] of jsons.entries()) {
    await c.exec(
      `INSERT INTO \`${db}\`.\`j_${i}\` USING \`${db}\`.\`st_json\` TAGS (${j}) VALUES (${TIMES[p][1]}, ${i}) (${TIMES[p][3]}, NULL)`,
    );
  }
}

import { describe, expect, it } from 'vitest';
import { TdInvalidInputError } from './errors.ts';
import { quoteIdent, quoteQualified, quoteString } from './quote.ts';
import { parseTdType, type TdType, typeSql } from './types.ts';
import { JsonScanner } from './json-scan.ts';
import { sqlLiteralEncoder, sqlTokenEncoder, tdJsonEncoder, toCanonical } from './values.ts';

const t = (name: string, length = 0): TdType => parseTdType(name, length);

describe('quoting', () => {
  it('backquotes identifiers and refuses what cannot be quoted', () => {
    expect(quoteIdent('Meters 1')).toBe('`Meters 1`');
    expect(quoteQualified('db', '中文')).toBe('`db`.`中文`');
    for (const bad of ['', 'a`b', 'a.b', 'a\nb', 'a\u0000b']) expect(() => quoteIdent(bad)).toThrow(TdInvalidInputError);
  });

  it('escapes string literals with TDengine escapes', () => {
    expect(quoteString('')).toBe("''");
    expect(quoteString("it's")).toBe("'it\\'s'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString('l1\nl2\r\tx')).toBe("'l1\\nl2\\r\\tx'");
    expect(quoteString('"双引号" 😀')).toBe(`'"双引号" 😀'`);
    expect(quoteString("\\'; DROP DATABASE x; --")).toBe("'\\\\\\'; DROP DATABASE x; --'");
    expect(() => quoteString('a\u0000')).toThrow(/NUL/);
  });
});

describe('types', () => {
  it('parses server spellings and prints DDL', () => {
    expect(parseTdType('BINARY', 20)).toEqual({ name: 'VARCHAR', length: 20, scale: 0 });
    expect(parseTdType('bigint  unsigned')).toEqual({ name: 'BIGINT UNSIGNED', length: 0, scale: 0 });
    expect(parseTdType('DECIMAL(20, 4)', 16)).toEqual({ name: 'DECIMAL', length: 20, scale: 4 });
    expect(parseTdType('NCHAR(10)')).toEqual({ name: 'NCHAR', length: 10, scale: 0 });
    expect(typeSql(parseTdType('VARBINARY', 30))).toBe('VARBINARY(30)');
    expect(typeSql(parseTdType('DECIMAL(10,2)'))).toBe('DECIMAL(10,2)');
    expect(typeSql(parseTdType('JSON', 4095))).toBe('JSON');
    expect(() => parseTdType('INTERVAL')).toThrow(TdInvalidInputError);
  });
});

describe('td-jsonl encoding of REST values', () => {
  it('writes integers as bare digits, timestamps as epochs in the precision', () => {
    expect(tdJsonEncoder(t('BIGINT'), 'ms')('-9223372036854775808')).toBe('-9223372036854775808');
    expect(tdJsonEncoder(t('BIGINT UNSIGNED'), 'ms')('18446744073709551615')).toBe('18446744073709551615');
    expect(tdJsonEncoder(t('TIMESTAMP'), 'ns')('2262-04-11T23:47:16.854775807Z')).toBe('9223372036854775807');
    expect(tdJsonEncoder(t('TIMESTAMP'), 'us')(null)).toBe('null');
  });

  it('keeps the server float text, strings, hex and JSON tags as JSON strings', () => {
    expect(tdJsonEncoder(t('FLOAT'), 'ms')('3.4028235e+38')).toBe('3.4028235e+38');
    expect(tdJsonEncoder(t('DOUBLE'), 'ms')(null)).toBe('null');
    expect(tdJsonEncoder(t('NCHAR', 10), 'ms')('a"\n😀')).toBe('"a\\"\\n😀"');
    expect(tdJsonEncoder(t('VARCHAR', 10), 'ms')('')).toBe('""');
    expect(tdJsonEncoder(t('VARBINARY', 10), 'ms')('00ff')).toBe('"00ff"');
    expect(tdJsonEncoder(t('JSON', 4095), 'ms')('{"k":"v"}')).toBe('"{\\"k\\":\\"v\\"}"');
    expect(tdJsonEncoder(t('BOOL'), 'ms')(false)).toBe('false');
  });

  it('refuses values of the wrong shape', () => {
    expect(() => tdJsonEncoder(t('BIGINT'), 'ms')(true)).toThrow(TdInvalidInputError);
    expect(() => tdJsonEncoder(t('INT'), 'ms')('1.5')).toThrow(TdInvalidInputError);
    expect(() => tdJsonEncoder(t('BOOL'), 'ms')('1')).toThrow(TdInvalidInputError);
  });

  it('canonicalises tag timestamps and leaves other values alone', () => {
    expect(toCanonical(t('TIMESTAMP'), 'ms')('2022-06-29T05:50:55.401Z')).toBe('1656481855401');
    expect(toCanonical(t('TIMESTAMP'), 'ms')('1656481855401')).toBe('1656481855401');
    expect(toCanonical(t('BIGINT'), 'ms')('7')).toBe('7');
  });
});

describe('SQL literals of canonical values', () => {
  const lit = (type: string, v: string | boolean | null, len = 0): string => sqlLiteralEncoder(t(type, len))(v);

  it('writes NULL explicitly and keeps empty strings', () => {
    expect(lit('INT', null)).toBe('NULL');
    expect(lit('VARCHAR', '', 5)).toBe("''");
    expect(lit('NCHAR', null, 5)).toBe('NULL');
  });

  it('writes integers and timestamps as validated digits', () => {
    expect(lit('BIGINT', '-9223372036854775808')).toBe('-9223372036854775808');
    expect(lit('BIGINT UNSIGNED', '18446744073709551615')).toBe('18446744073709551615');
    expect(lit('TIMESTAMP', '1626164208000123456')).toBe('1626164208000123456');
    expect(() => lit('BIGINT', '1; DROP DATABASE x')).toThrow(TdInvalidInputError);
    expect(() => lit('INT UNSIGNED', '-1')).toThrow(TdInvalidInputError);
    expect(() => lit('TIMESTAMP', 'now')).toThrow(TdInvalidInputError);
  });

  it('writes FLOAT as exported (the same float32 once narrowed), its exact double only beyond FLT_MAX; DOUBLE verbatim', () => {
    expect(lit('FLOAT', '3.4028235e+38')).toBe('3.4028234663852886e+38');
    expect(lit('FLOAT', '-3.4028235e+38')).toBe('-3.4028234663852886e+38');
    expect(lit('FLOAT', '1e-45')).toBe('1e-45');
    expect(Math.fround(Number(lit('FLOAT', '1e-45')))).toBe(Math.fround(1.401298464324817e-45));
    expect(lit('FLOAT', '10.123')).toBe('10.123');
    expect(lit('FLOAT', '-0')).toBe('-0.0');
    expect(lit('FLOAT', '100')).toBe('100.0');
    expect(lit('DOUBLE', '1e-300')).toBe('1e-300');
    expect(lit('DOUBLE', '5e-324')).toBe('5e-324');
    expect(lit('DOUBLE', '123456789012345680000')).toBe('123456789012345680000.0');
    expect(lit('DOUBLE', '-0')).toBe('-0.0');
    expect(() => lit('DOUBLE', 'NaN')).toThrow(TdInvalidInputError);
    expect(() => lit('DOUBLE', '1e999')).toThrow(TdInvalidInputError);
    // every float32 written this way reads back (as a double, then float) to the same value
    const buf = new Float32Array(1);
    const bits = new Uint32Array(buf.buffer);
    for (let i = 0; i < 20000; i++) {
      bits[0] = (Math.random() * 0xffffffff) >>> 0;
      const f = buf[0]!;
      if (!Number.isFinite(f)) continue;
      expect(Math.fround(Number(lit('FLOAT', String(f))))).toBe(f);
    }
  });

  it('writes VARBINARY as \\x hex, GEOMETRY as WKT, DECIMAL and JSON safely', () => {
    expect(lit('VARBINARY', '00ff00', 10)).toBe("'\\x00ff00'");
    expect(lit('VARBINARY', '', 10)).toBe("'\\x'");
    expect(() => lit('VARBINARY', "00'", 10)).toThrow(TdInvalidInputError);
    expect(lit('GEOMETRY', '0101000000000000000000f03f0000000000000040', 100)).toBe("'POINT (1 2)'");
    expect(lit('DECIMAL(20,4)', '4467440737095516.1230')).toBe('4467440737095516.1230');
    expect(() => lit('DECIMAL(20,4)', '1e5')).toThrow(TdInvalidInputError);
    expect(lit('JSON', '{"k":"it\'s"}')).toBe(`'{"k":"it\\'s"}'`);
    expect(lit('BOOL', true)).toBe('true');
  });
});

describe('SQL literals straight from td-jsonl tokens', () => {
  const cases: [string, string[], number?][] = [
    ['BIGINT', ['-9223372036854775807', '0', 'null', '"12"']],
    ['BIGINT UNSIGNED', ['18446744073709551615', '7']],
    ['TIMESTAMP', ['1626164208000123456', '-1']],
    ['BOOL', ['true', 'false', 'null']],
    ['FLOAT', ['3.4028235e+38', '1e-45', '10.123', '-0', '100', '10.123']],
    ['DOUBLE', ['1e-300', '0.1', '-0', '100', '1.7976931348623157e+308']],
    ['NCHAR', ['"plain"', '"it\'s"', '"esc\\"aped\\\\ \\n"', '""', '"😀中文"', '"\\u0001"'], 16],
    ['VARBINARY', ['"00ff00"', '""', '"ABCDEF"'], 16],
    ['GEOMETRY', ['"0101000000000000000000f03f0000000000000040"'], 64],
    ['DECIMAL(20,4)', ['"-1.5000"']],
    ['JSON', ['"{\\"k\\":\\"v\\"}"', 'null'], 4095],
  ];
  it('gives what the value path gives, for every type', () => {
    for (const [type, tokens, len] of cases) {
      const tt = t(type, len ?? 0);
      const viaToken = sqlTokenEncoder(tt);
      const viaValue = sqlLiteralEncoder(tt);
      const line = `[${tokens.join(',')}]`;
      const sc = new JsonScanner();
      sc.reset(line);
      let i = 1;
      for (const tok of tokens) {
        const a = line.indexOf(tok, i);
        const b = a + tok.length;
        sc.scanValue(a, false);
        const value = sc.value;
        if (type === 'BIGINT' && tok === '"12"') {
          expect(() => viaToken(line, a, b, sc)).toThrow(TdInvalidInputError);
        } else expect(viaToken(line, a, b, sc), `${type} ${tok}`).toBe(viaValue(value));
        i = b;
      }
    }
  });
});

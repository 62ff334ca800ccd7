import { describe, expect, it } from 'vitest';
import { conninfoValue, quoteColumnList, quoteIdent, quoteLiteral, quoteQualified } from './quote.ts';

describe('quoteIdent', () => {
  it('always double-quotes, doubling embedded quotes', () => {
    expect(quoteIdent('t')).toBe('"t"');
    expect(quoteIdent('Mixed Case')).toBe('"Mixed Case"');
    expect(quoteIdent('select')).toBe('"select"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('""')).toBe('""""""');
    expect(quoteIdent('ünï 列')).toBe('"ünï 列"');
    expect(quoteIdent('a.b')).toBe('"a.b"');
    expect(quoteIdent("x'; DROP TABLE t; --")).toBe(`"x'; DROP TABLE t; --"`);
  });

  it('refuses what PostgreSQL cannot name', () => {
    expect(() => quoteIdent('')).toThrow(RangeError);
    expect(() => quoteIdent('a\0b')).toThrow(RangeError);
  });
});

describe('quoteQualified', () => {
  it('quotes both parts, from a ref or two strings', () => {
    expect(quoteQualified({ schema: 'My Schema', name: 'a"b' })).toBe('"My Schema"."a""b"');
    expect(quoteQualified('public', 'a.b')).toBe('"public"."a.b"');
  });
});

describe('quoteLiteral', () => {
  it('doubles single quotes', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('')).toBe("''");
  });

  it('uses E-strings when there is a backslash, so the meaning does not depend on standard_conforming_strings', () => {
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(quoteLiteral("\\'")).toBe("E'\\\\'''");
  });

  it('refuses NUL', () => {
    expect(() => quoteLiteral('\0')).toThrow(RangeError);
  });
});

describe('quoteColumnList / conninfoValue', () => {
  it('quotes each column; an empty list is empty', () => {
    expect(quoteColumnList(['a', 'B c'])).toBe('"a", "B c"');
    expect(quoteColumnList([])).toBe('');
  });

  it('escapes libpq connection-string values', () => {
    expect(conninfoValue("my db's \\ name")).toBe("'my db\\'s \\\\ name'");
    expect(conninfoValue('postgres://x')).toBe("'postgres://x'");
  });
});

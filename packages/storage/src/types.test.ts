import { describe, expect, it } from 'vitest';
import { assertValidKey, assertValidPrefix, assertValidRange, InvalidKeyError } from './types.ts';

describe('assertValidKey', () => {
  it.each([
    'a',
    'a/b/c.txt',
    'backups/pg%2Fmain/2024-06-01T00-00-00Z/manifest.json',
    '..a/b..',
    '.hidden/x',
    'caf\u00e9/\u{1f600}',
    'x'.repeat(1024),
  ])('accepts %j', (key) => {
    expect(() => assertValidKey(key)).not.toThrow();
  });

  it.each([
    ['', /empty key/],
    ['/abs', /empty path segment/],
    ['a//b', /empty path segment/],
    ['a/', /empty path segment/],
    ['..', /"\.\." is not allowed/],
    ['a/../b', /"\.\." is not allowed/],
    ['./a', /"\." is not allowed/],
    ['nul\u0000byte', /control characters/],
    ['line\nbreak', /control characters/],
    ['del\u007f', /control characters/],
    ['x'.repeat(1025), /longer than 1024 bytes/],
    ['\u00e9'.repeat(513), /longer than 1024 bytes/],
  ])('refuses %j', (key, message) => {
    const error = (() => {
      try {
        assertValidKey(key);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as InvalidKeyError).key).toBe(key);
    expect((error as Error).message).toMatch(message);
  });
});

describe('assertValidPrefix', () => {
  it.each(['', 'a', 'a/', 'a/b', 'a/b/', 'a/.', 'a/..x', 'order/b'])('accepts %j', (prefix) => {
    expect(() => assertValidPrefix(prefix)).not.toThrow();
  });

  it.each(['/', '/a', 'a//', 'a//b', '../', 'a/../b', './x', 'nul\u0000'])('refuses %j', (prefix) => {
    expect(() => assertValidPrefix(prefix)).toThrow(InvalidKeyError);
  });
});

describe('assertValidRange', () => {
  it.each([{ start: 0 }, { start: 0, end: 0 }, { start: 5, end: 9 }, { start: 2 ** 40 }])('accepts %j', (range) => {
    expect(() => assertValidRange(range)).not.toThrow();
  });

  it.each([{ start: -1 }, { start: 1.5 }, { start: Number.NaN }, { start: 5, end: 4 }, { start: 0, end: 0.5 }])('refuses %j', (range) => {
    expect(() => assertValidRange(range)).toThrow(RangeError);
  });
});

/**
 * Identifiers and string literals for generated SQL (contract §3, §3.10). Every name that
 * reaches SQL goes through {@link quoteIdent}; every string value through {@link quoteString}.
 */

import { TdInvalidInputError } from './errors.ts';

/**
 * A name in backquotes. TDengine keeps the case of backquoted names and allows anything in
 * them except `.`; there is no escape for a backquote, so names containing one (or control
 * characters) are refused rather than spliced.
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new TdInvalidInputError('an empty name cannot be used in SQL');
  if (/[`.\u0000-\u001f\u007f]/.test(name)) {
    throw new TdInvalidInputError(`the name ${JSON.stringify(name)} contains a backquote, a dot or a control character`);
  }
  return `\`${name}\``;
}

/** `` `db`.`table` `` */
export function quoteQualified(db: string, name: string): string {
  return `${quoteIdent(db)}.${quoteIdent(name)}`;
}

const NEEDS_ESCAPE = /['\\\n\r\t\u0000]/;

/**
 * A single-quoted string literal: `\` and `'` escaped, newline, carriage return and tab as
 * `\n` `\r` `\t` (TDengine's escapes, 90-escape.md); other characters as they are. A NUL
 * character is refused: the statement reaches taosc as a C string and would be cut there.
 */
export function quoteString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `'${s}'`;
  let out = "'";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string;
    switch (c) {
      case 0x27:
        rep = "\\'";
        break;
      case 0x5c:
        rep = '\\\\';
        break;
      case 0x0a:
        rep = '\\n';
        break;
      case 0x0d:
        rep = '\\r';
        break;
      case 0x09:
        rep = '\\t';
        break;
      case 0:
        throw new TdInvalidInputError('a string value contains a NUL character, which TDengine SQL cannot carry');
      default:
        continue;
    }
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return `${out}${s.slice(from)}'`;
}

import { BadRequestError } from './errors.ts';

/**
 * Table names in requests. Parts are separated by "."; a part may be double-quoted to
 * contain dots, spaces or quotes (`"my schema"."Odd""Name"`), as in SQL. Unlike SQL,
 * unquoted parts are taken exactly as written (no case folding), so `Sales.Orders` names
 * the table whose catalog name is `Orders`. Names are only ever used as quoted identifiers
 * or as bind parameters, never spliced into SQL.
 */
export function splitQualifiedName(input: string): string[] {
  const parts: string[] = [];
  let i = 0;
  if (input.length === 0) throw new BadRequestError('table name is empty', 'invalid_table_name');
  while (i <= input.length) {
    let part = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length) throw new BadRequestError(`table name ${JSON.stringify(input)}: unterminated quote`, 'invalid_table_name');
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += input[i++];
      }
      if (i < input.length && input[i] !== '.')
        throw new BadRequestError(`table name ${JSON.stringify(input)}: unexpected character after quoted part`, 'invalid_table_name');
    } else {
      const dot = input.indexOf('.', i);
      const end = dot === -1 ? input.length : dot;
      part = input.slice(i, end);
      if (part.includes('"'))
        throw new BadRequestError(`table name ${JSON.stringify(input)}: quotes must enclose a whole part`, 'invalid_table_name');
      i = end;
    }
    validateIdentifier(part, input);
    parts.push(part);
    if (i >= input.length) break;
    i++; // the dot
    if (i >= input.length) throw new BadRequestError(`table name ${JSON.stringify(input)}: ends with "."`, 'invalid_table_name');
  }
  return parts;
}

export function validateIdentifier(part: string, whole = part): void {
  if (part.length === 0) throw new BadRequestError(`table name ${JSON.stringify(whole)}: empty part`, 'invalid_table_name');
  if (part.includes('\0')) throw new BadRequestError(`table name ${JSON.stringify(whole)}: contains NUL`, 'invalid_table_name');
  if (Buffer.byteLength(part, 'utf8') > 63)
    throw new BadRequestError(`table name ${JSON.stringify(whole)}: part longer than 63 bytes`, 'invalid_table_name');
}

export interface PgTableRef {
  database?: string;
  schema: string;
  name: string;
}

/** PostgreSQL: `schema.table` or `db.schema.table`. */
export function parsePgTableRef(input: string): PgTableRef {
  const p = splitQualifiedName(input);
  if (p.length === 2) return { schema: p[0] as string, name: p[1] as string };
  if (p.length === 3) return { database: p[0] as string, schema: p[1] as string, name: p[2] as string };
  throw new BadRequestError(
    `table name ${JSON.stringify(input)}: PostgreSQL tables are named schema.table or database.schema.table`,
    'invalid_table_name',
  );
}

/** Display form: quoted only where needed. */
export function displayName(...parts: string[]): string {
  return parts.map((p) => (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(p) ? p : `"${p.replace(/"/g, '""')}"`)).join('.');
}

import { describe, expect, it } from 'vitest';
import { SnapshotGoneError, SourceAuthError, SourceUnreachableError, ToolFailedError, ToolMissingError } from './errors.ts';
import { parseTarget } from './target.ts';
import { findPgTool, scrubSecrets, toolFailure } from './tools.ts';

const target = parseTarget('postgres://bob:s3cr%2Ft@db:5432/sales');

describe('scrubSecrets', () => {
  it('removes the password, raw or encoded, and URL credentials', () => {
    const out = scrubSecrets('x s3cr/t y s3cr%2Ft postgres://bob:other@h/d password=zzz', 's3cr/t');
    expect(out).not.toMatch(/s3cr|other|zzz/);
    expect(out).toContain('postgres://bob:***@h/d');
  });
});

describe('toolFailure', () => {
  it('recognises authentication, snapshot and connection failures in tool output', () => {
    expect(
      toolFailure(
        'pg_dump',
        'exit code 1',
        'pg_dump: error: connection to server at "db" (1.2.3.4), port 5432 failed: FATAL:  password authentication failed for user "bob"',
        target,
      ),
    ).toBeInstanceOf(SourceAuthError);
    expect(
      toolFailure(
        'pg_dump',
        'exit code 1',
        'pg_dump: error: query failed: ERROR:  invalid snapshot identifier: "0000-1"',
        target,
        '0000-1',
      ),
    ).toBeInstanceOf(SnapshotGoneError);
    expect(
      toolFailure(
        'pg_dump',
        'exit code 1',
        'pg_dump: error: connection to server at "db" (1.2.3.4), port 5432 failed: Connection refused',
        target,
      ),
    ).toBeInstanceOf(SourceUnreachableError);
    const other = toolFailure('pg_restore', 'exit code 1', 'pg_restore: error: could not execute query: ERROR:  boom', target);
    expect(other).toBeInstanceOf(ToolFailedError);
    expect(other.message).toContain('boom');
  });
});

describe('findPgTool', () => {
  it('fails with the version needed when no installed pg_dump is new enough', async () => {
    await expect(findPgTool('pg_dump', 99, { env: { PATH: '' } })).rejects.toBeInstanceOf(ToolMissingError);
    await expect(findPgTool('pg_dump', 99, { env: { PATH: '' } })).rejects.toThrow(/PostgreSQL 99 or newer.*postgresql-client-99/);
  });
});

import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import {
  DatabaseMissingError,
  SnapshotGoneError,
  SourceAuthError,
  SourceUnreachableError,
  ToolMissingError,
  pgErrorToDomain,
} from './errors.ts';

function dbError(code: string, message: string): DatabaseError {
  const e = new DatabaseError(message, message.length, 'error');
  e.code = code;
  e.severity = 'FATAL';
  return e;
}

const ctx = { user: 'bob', hostPort: 'db:5432', database: 'sales', snapshotId: '00000003-0000001B-1' };

describe('pgErrorToDomain', () => {
  it('maps refused / timed out / unresolvable connections to SourceUnreachableError naming host:port', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']) {
      const e = pgErrorToDomain(Object.assign(new Error(`connect ${code}`), { code }), ctx);
      expect(e).toBeInstanceOf(SourceUnreachableError);
      expect(e.message).toContain('db:5432');
    }
    expect(pgErrorToDomain(new Error('Connection terminated due to connection timeout'), ctx)).toBeInstanceOf(SourceUnreachableError);
  });

  it('maps 28P01 / 28000 to SourceAuthError naming the user', () => {
    for (const code of ['28P01', '28000']) {
      const e = pgErrorToDomain(dbError(code, 'password authentication failed for user "bob"'), ctx);
      expect(e).toBeInstanceOf(SourceAuthError);
      expect(e.message).toMatch(/password authentication failed for user "bob" at db:5432/);
      expect((e as SourceAuthError).permanent).toBe(true);
    }
  });

  it('maps 3D000 to DatabaseMissingError and an invalid snapshot to SnapshotGoneError', () => {
    expect(pgErrorToDomain(dbError('3D000', 'database "sales" does not exist'), ctx)).toBeInstanceOf(DatabaseMissingError);
    const gone = pgErrorToDomain(dbError('22023', 'invalid snapshot identifier: "00000003-0000001B-1"'), ctx);
    expect(gone).toBeInstanceOf(SnapshotGoneError);
    expect(gone.message).toMatch(
      /the coordinator's snapshot 00000003-0000001B-1 is no longer available; the backup cannot continue consistently/,
    );
    expect(pgErrorToDomain(dbError('22023', 'some other invalid parameter'), ctx)).not.toBeInstanceOf(SnapshotGoneError);
  });

  it('returns what it does not know unchanged', () => {
    const e = dbError('23505', 'duplicate key');
    expect(pgErrorToDomain(e, ctx)).toBe(e);
    const plain = new Error('x');
    expect(pgErrorToDomain(plain, ctx)).toBe(plain);
  });
});

describe('ToolMissingError', () => {
  it('says which version and package are needed and what was found', () => {
    const e = new ToolMissingError('pg_dump', 16, [{ path: '/usr/lib/postgresql/15/bin/pg_dump', major: 15 }]);
    expect(e.message).toMatch(/pg_dump of PostgreSQL 16 or newer is needed/);
    expect(e.message).toMatch(/postgresql-client-16/);
    expect(e.message).toContain('/usr/lib/postgresql/15/bin/pg_dump (15)');
  });
});

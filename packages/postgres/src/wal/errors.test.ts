import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { SourceAuthError } from '../errors.ts';
import { walErrorFrom } from './errors.ts';

const ctx = { slot: 'bk_wal', hostPort: 'db:5432', user: 'backup', database: 'postgres' };

function serverError(code: string, message: string): DatabaseError {
  const err = new DatabaseError(message, 0, 'error');
  err.code = code;
  err.severity = 'ERROR';
  return err;
}

describe('walErrorFrom', () => {
  it('says what happened and whether retrying helps', () => {
    const cases: [string, string, string, boolean][] = [
      ['42704', 'replication slot "bk_wal" does not exist', 'SLOT_MISSING', true],
      ['55006', 'replication slot "bk_wal" is active for PID 123', 'SLOT_IN_USE', false],
      ['58P01', 'requested WAL segment 000000010000000000000001 has already been removed', 'WAL_REMOVED', true],
      ['42501', 'permission denied to start WAL sender', 'NO_REPLICATION_PRIVILEGE', true],
      ['55000', 'can no longer get changes from replication slot "bk_wal"', 'SLOT_INVALIDATED', true],
      ['55000', 'replication slots can only be used if wal_level >= replica', 'NOT_CONFIGURED', true],
      ['53300', 'number of requested standby connections exceeds max_wal_senders (currently 1)', 'SENDERS_EXHAUSTED', false],
      ['53400', 'all replication slots are in use', 'SLOTS_EXHAUSTED', true],
      ['28000', 'no pg_hba.conf entry for replication connection from host "10.0.0.1"', 'NOT_CONFIGURED', true],
      ['57P01', 'terminating connection due to administrator command', 'CONNECTION_LOST', false],
      ['XX000', 'something odd', 'SERVER_ERROR', false],
    ];
    for (const [code, message, expected, permanent] of cases) {
      const mapped = walErrorFrom(serverError(code, message), ctx);
      expect(mapped, code).toMatchObject({ code: expected, permanent });
      expect(mapped.message).toContain(message);
      expect(mapped.message).toContain('db:5432');
    }
    expect(walErrorFrom(serverError('55006', 'replication slot "bk_wal" is active for PID 1'), ctx).message).toMatch(/in use/);
  });

  it('leaves connection failures to the connector mapping', () => {
    expect(walErrorFrom(serverError('28P01', 'password authentication failed'), ctx)).toBeInstanceOf(SourceAuthError);
    expect(walErrorFrom(new Error('Connection terminated unexpectedly'), ctx)).toMatchObject({ code: 'CONNECTION_LOST', permanent: false });
  });
});

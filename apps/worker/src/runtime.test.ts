import { IntegrityError, MissingKeyError, PermanentJobError } from '@bk/core';
import { DatabaseMissingError, NotInArchiveError, RestoreConflictError, SourceUnreachableError } from '@bk/postgres';
import { TdConflictError, TdTimeoutError } from '@bk/tdengine';
import { describe, expect, it } from 'vitest';
import { isPermanent } from './runtime.ts';

describe('which job failures are retried', () => {
  it('fails at once on every error whose retry cannot help, of either connector', () => {
    for (const e of [
      new DatabaseMissingError('nope', 'db1:5432'),
      new RestoreConflictError('target has rows'),
      new NotInArchiveError('public.t'),
      new TdConflictError('precision differs'),
      new IntegrityError('sha256 mismatch'),
      new MissingKeyError('2026-11'),
      new PermanentJobError('backup not found'),
    ])
      expect(isPermanent(e), e.name).toBe(true);
  });

  it('retries what may pass', () => {
    for (const e of [
      new SourceUnreachableError('db1:5432', 'connection refused'),
      new TdTimeoutError('slow', 1000),
      new Error('ECONNRESET'),
    ])
      expect(isPermanent(e), e.name).toBe(false);
  });
});

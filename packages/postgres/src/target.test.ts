import { describe, expect, it } from 'vitest';
import { InvalidConnectionUrlError } from './errors.ts';
import { describeTarget, parseTarget, toolEnv, withDatabase } from './target.ts';

describe('parseTarget', () => {
  it('reads every part, percent-decoded', () => {
    expect(parseTarget('postgres://u%40x:p%3Aa%2Fss@db.example:6543/my%20db?sslmode=require')).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'u@x',
      password: 'p:a/ss',
      database: 'my db',
      sslMode: 'require',
    });
  });

  it('defaults like libpq', () => {
    const t = parseTarget('postgresql://alice@h');
    expect(t).toMatchObject({ host: 'h', port: 5432, user: 'alice', password: undefined, database: 'alice' });
  });

  it('takes a socket directory from ?host= and unbrackets IPv6', () => {
    expect(parseTarget('postgres:///d?host=/run/postgresql&user=u')).toMatchObject({ host: '/run/postgresql', user: 'u', database: 'd' });
    expect(parseTarget('postgres://u@[::1]:5/d').host).toBe('::1');
  });

  it('never echoes the URL in its errors', () => {
    for (const bad of [
      'not a url s3cret',
      'mysql://u:s3cret@h/d',
      'postgres://u:s3cret@h:99999/d',
      'postgres://u:s3cret@h/d?sslmode=bogus',
    ]) {
      let err: unknown;
      try {
        parseTarget(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidConnectionUrlError);
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});

describe('describeTarget', () => {
  it('is user@host:port/db, without the password', () => {
    expect(describeTarget('postgres://bob:hunter2@10.0.0.1:5433/sales')).toBe('bob@10.0.0.1:5433/sales');
    expect(describeTarget('postgres://bob:hunter2@[::1]/sales')).toBe('bob@[::1]:5432/sales');
    expect(describeTarget('garbage hunter2')).toBe('<invalid connection URL>');
  });
});

describe('withDatabase', () => {
  it('swaps the database, keeping credentials and options', () => {
    const u = withDatabase('postgres://u:p@h:1/a?sslmode=disable', 'new db/x');
    expect(parseTarget(u)).toMatchObject({ user: 'u', password: 'p', host: 'h', port: 1, database: 'new db/x', sslMode: 'disable' });
  });
});

describe('toolEnv', () => {
  it('passes the connection as PG* variables, the password only in PGPASSWORD, and drops inherited PG*', () => {
    const env = toolEnv(parseTarget('postgres://u:pw@h:7/d'), { PATH: '/bin', PGSERVICE: 'x', PGPASSWORD: 'old' }, 10_000);
    expect(env).toMatchObject({ PATH: '/bin', PGHOST: 'h', PGPORT: '7', PGUSER: 'u', PGPASSWORD: 'pw', PGCONNECT_TIMEOUT: '10' });
    expect(env.PGSERVICE).toBeUndefined();
    expect(env.PGDATABASE).toBeUndefined();
  });
});

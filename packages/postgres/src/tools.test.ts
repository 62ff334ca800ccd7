import { describe, expect, it } from 'vitest';
import { SnapshotGoneError, SourceAuthError, SourceUnreachableError, ToolFailedError, ToolMissingError } from './errors.ts';
import { parseTarget } from './target.ts';
import { Readable } from 'node:stream';
import { findPgTool, runTool, scrubSecrets, toolFailure } from './tools.ts';

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

describe('runTool', () => {
  // A stand-in for pg_restore: node reading stdin, told what to do by a script.
  const fakeTool = (script: string) => ({
    tool: 'pg_restore' as const,
    path: process.execPath,
    args: ['-e', script],
    env: { PATH: process.env.PATH ?? '' },
    target,
  });
  const input = (bytes: number, chunk = 16 * 1024): Readable =>
    Readable.from(
      (function* () {
        for (let i = 0; i < bytes; i += chunk) yield Buffer.alloc(Math.min(chunk, bytes - i), 120);
      })(),
    );

  it("reports the tool's own error, not the broken pipe, when it exits early", async () => {
    const script = `process.stdin.once('data', () => { process.stderr.write('pg_restore: error: something real\\n'); process.exit(1); });`;
    for (let i = 0; i < 5; i++) {
      const err = await runTool({ ...fakeTool(script), stdin: input(8 * 1024 * 1024) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolFailedError);
      expect(String((err as Error).message)).toContain('something real');
    }
  });

  it('succeeds when the tool exits 0 without reading all of its input', async () => {
    const script = `process.stdin.once('data', () => process.exit(0));`;
    await expect(runTool({ ...fakeTool(script), stdin: input(8 * 1024 * 1024) })).resolves.toBe('');
  });

  it("reports the input's own error when the input fails", async () => {
    const boom = new Error('archive checksum mismatch');
    const failing = new Readable({
      read() {
        this.destroy(boom);
      },
    });
    const script = `process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    await expect(runTool({ ...fakeTool(script), stdin: failing })).rejects.toBe(boom);
  });
});

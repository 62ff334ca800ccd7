import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buildApp } from '@bk/api';
import { GZIP_BLOCK_BYTES, createLogger, displayName, loadConfig, parseManifest } from '@bk/core';
import { createPlatform } from '@bk/platform';
import { compareDatabases } from '@bk/postgres';
import { parse, stringify } from 'yaml';
import { testServices } from '@bk/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * The fidelity fixture (every type and object kind issue 3 lists) through the whole
 * platform: API -> workers -> file storage, gzip, encrypted; restored into a new database
 * (every table's indexes and keys built early by its load job) and compared object by
 * object and row by row with the source.
 */
describe('fidelity through the platform (file storage, gzip, AES-256-GCM)', () => {
  let stack: Stack;
  let sourceUrl: string;

  beforeAll(async () => {
    sourceUrl = await testServices().createDatabase('fid_src');
    const c = new pg.Client({ connectionString: sourceUrl });
    await c.connect();
    await c.query(await readFile('packages/postgres/test/fixtures/fidelity.sql', 'utf8'));
    await c.end();
    stack = await startStack({
      label: 'fidelity',
      storage: 'file',
      sources: { 'pg-main': { kind: 'postgres', url: sourceUrl } },
      extra: {
        compression: { codec: 'gzip', level: 6 },
        encryption: { keys: { 'k-2026': randomBytes(32).toString('base64') } },
        // Early index builds (on by default) for every table, however small (earlyIndexMiB:
        // 0): each plain table gets its indexes and keys from a job after its load, the rest
        // of post-data from the finalize job; the copy must still be exact.
        postgres: { earlyIndexMiB: 0, binDir: testServices().postgres.binDir },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  let backupId = '';

  it('restores every table, row, sequence, view, function, index and constraint exactly', async () => {
    const b = await stack.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: stack.auth,
      payload: { source: 'pg-main', type: 'database' },
    });
    expect(b.statusCode).toBe(202);
    const backup = await waitFor<{ status: string; error?: string; encryption: { keyId: string } | null; compression: unknown }>(
      stack,
      `/v1/backups/${b.json().id}`,
      isFinal,
    );
    expect(backup.status, backup.error).toBe('succeeded');
    expect(backup.encryption).toEqual({ keyId: 'k-2026' });
    expect(backup.compression).toEqual({ codec: 'gzip', level: 6 });
    backupId = b.json().id;

    const r = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      headers: stack.auth,
      payload: { backupId: b.json().id, targetDatabase: 'fid_restored' },
    });
    expect(r.statusCode).toBe(202);
    const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal);
    expect(restore.status, restore.error).toBe('succeeded');
    const target = new URL(sourceUrl);
    target.pathname = '/fid_restored';
    expect(await compareDatabases(sourceUrl, target.toString())).toEqual([]);
    // Every object was written by libdeflate and says so, so the restore just read them
    // member by member with libdeflate too (decompressor() picks it from memberBytes).
    const manifest = parseManifest((await readAll(`backups/pg-main/${backupId}/manifest.json`)).toString(), 'test');
    expect(new Set(manifest.objects.map((o) => JSON.stringify(o.compression)))).toEqual(
      new Set([JSON.stringify({ codec: 'gzip', level: 6, memberBytes: GZIP_BLOCK_BYTES })]),
    );
    // Every table loaded whole had an early index job after its load, which built the
    // indexes and keys of plain tables.
    const jobs = (await stack.platform.queues.queues.restore.getJobs(['completed'])).filter(
      (j) => (j.data as { restoreId: string }).restoreId === r.json().id,
    );
    const loads = jobs.filter((j) => j.name === 'restore.pg-table');
    const indexJobs = jobs.filter((j) => j.name === 'restore.pg-indexes');
    expect(loads.length).toBeGreaterThan(10);
    expect(indexJobs.length).toBe(loads.length);
    // Plain tables only: partitions (whose entries reach up to the parent's primary key)
    // and inheritance trees are left to the finalize job. No job needed a second attempt.
    const built = (j: (typeof jobs)[number]) => (j.returnvalue as { built: boolean }).built;
    const key = (j: (typeof jobs)[number]) => (j.data as { objectKey: string }).objectKey;
    const inTrees = indexJobs.filter((j) => /\/measurements_|\/vehicle\.|\/amphibian\./.test(key(j)));
    const plain = indexJobs.filter((j) => /\/(texts|customer|orders|bookings)\./.test(key(j)));
    expect([inTrees.length >= 4, plain.length]).toEqual([true, 4]);
    expect(inTrees.some(built)).toBe(false);
    expect(plain.every(built)).toBe(true);
    // Each ran after its own table's load had finished.
    for (const j of indexJobs) {
      const load = loads.find((l) => key(l) === key(j));
      expect(load?.finishedOn).toBeLessThanOrEqual(j.processedOn ?? 0);
    }
    expect(jobs.map((j) => [key(j), j.attemptsMade]).filter(([, n]) => n !== 1)).toEqual([]);
  });

  async function readAll(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await stack.platform.store.get(key)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  it('detects a tampered encrypted object before any row reaches the database', async () => {
    const m = parseManifest((await readAll(`backups/pg-main/${backupId}/manifest.json`)).toString(), 'test');
    const obj = m.objects.find((o) => o.kind === 'data' && o.rows > 1);
    expect(obj?.encrypted).toBe(true);
    const original = await readAll(obj?.key as string);
    // Flip a byte AND fix up the manifest's size/hash check: only the GCM tag can catch it.
    const bad = Buffer.from(original);
    bad[40] = (bad[40] ?? 0) ^ 0x01;
    await stack.platform.store.put(obj?.key as string, Readable.from([bad]));
    const { createHash } = await import('node:crypto');
    const forged = {
      ...m,
      objects: m.objects.map((o) => (o.key === obj?.key ? { ...o, sha256: createHash('sha256').update(bad).digest('hex') } : o)),
    };
    await stack.platform.store.put(`backups/pg-main/${backupId}/manifest.json`, Readable.from([Buffer.from(JSON.stringify(forged))]));
    try {
      const r = await stack.app.inject({
        method: 'POST',
        url: '/v1/restores',
        headers: stack.auth,
        payload: { backupId, targetDatabase: 'fid_tampered', tables: [displayName(obj?.schemaName as string, obj?.tableName as string)] },
      });
      expect(r.statusCode, r.body).toBe(202);
      const restore = await waitFor<{ status: string; error?: string }>(stack, `/v1/restores/${r.json().id}`, isFinal);
      expect(restore.status).toBe('failed');
      expect(restore.error).toMatch(/failed authentication/);
      const target = new URL(sourceUrl);
      target.pathname = '/fid_tampered';
      const c = new pg.Client({ connectionString: target.toString() });
      await c.connect();
      try {
        const q = `SELECT count(*)::int AS n FROM "${obj?.schemaName?.replace(/"/g, '""')}"."${obj?.tableName?.replace(/"/g, '""')}"`;
        expect((await c.query(q)).rows[0].n).toBe(0);
      } finally {
        await c.end();
      }
    } finally {
      await stack.platform.store.put(obj?.key as string, Readable.from([original]));
      await stack.platform.store.put(
        `backups/pg-main/${backupId}/manifest.json`,
        Readable.from([Buffer.from(`${JSON.stringify(m, null, 2)}\n`)]),
      );
    }
  });

  it('names the missing key when the master key is no longer configured', async () => {
    const doc = parse(stack.yaml) as Record<string, unknown>;
    doc.encryption = { keys: {} };
    const platform = await createPlatform(
      loadConfig({ yamlText: stringify(doc), env: stack.env }),
      createLogger({ name: 'nokey', level: 'silent' }),
    );
    const app = await buildApp({ platform });
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/restores',
        headers: stack.auth,
        payload: { backupId, targetDatabase: 'fid_nokey' },
      });
      expect(r.statusCode).toBe(409);
      expect(r.json().error.message).toContain('encryption key "k-2026" is not configured');
    } finally {
      await app.close();
      await platform.close();
    }
  });
});

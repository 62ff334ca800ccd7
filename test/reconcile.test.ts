import { enqueue, jobIds } from '@bk/core';
import { reconcileRecords } from '@bk/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/**
 * Records whose jobs vanished from Redis (a flushed Redis without persistence) are found
 * and failed, saying why; records whose jobs are there are left alone.
 */
describe('reconciling records with their jobs', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: 'reconcile', storage: 'file', workers: false, sources: {} });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function insertBackup(id: string, status: string, ageMinutes: number) {
    await stack.platform.db.query(
      `INSERT INTO backups (id, source, source_kind, type, status, scope, compression, storage_prefix, created_at)
       VALUES ($1, 'gone', 'postgres', 'full', $2, '{}', '{"codec":"zstd","level":3}', 'backups/gone/' || $1 || '/', now() - $3 * interval '1 minute')`,
      [id, status, ageMinutes],
    );
  }
  const statusOf = async (id: string) =>
    (await stack.platform.db.query<{ status: string; error: string | null }>('SELECT status, error FROM backups WHERE id = $1', [id]))
      .rows[0];

  it('fails a queued or running record without jobs, and leaves one whose job exists or that is new', async () => {
    await insertBackup('bk_0000000000000000000a01', 'queued', 10);
    await insertBackup('bk_0000000000000000000a02', 'running', 10);
    await insertBackup('bk_0000000000000000000a03', 'queued', 10);
    await insertBackup('bk_0000000000000000000a04', 'queued', 0);
    await enqueue(
      stack.platform.queues,
      stack.config,
      'backup.coordinate',
      { backupId: 'bk_0000000000000000000a03' },
      jobIds.backupCoordinate('bk_0000000000000000000a03'),
    );

    const r = await reconcileRecords(stack.platform);
    expect(r.failed.sort()).toEqual(['bk_0000000000000000000a01', 'bk_0000000000000000000a02']);
    for (const id of ['bk_0000000000000000000a01', 'bk_0000000000000000000a02']) {
      const b = await statusOf(id);
      expect(b?.status).toBe('failed');
      expect(b?.error).toContain('gone from Redis');
    }
    expect((await statusOf('bk_0000000000000000000a03'))?.status).toBe('queued');
    expect((await statusOf('bk_0000000000000000000a04'))?.status).toBe('queued');
    // Idempotent: a second pass (another API process) changes nothing.
    expect((await reconcileRecords(stack.platform)).failed).toEqual([]);
  });
});

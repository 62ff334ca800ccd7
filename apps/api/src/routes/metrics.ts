import { QUEUES } from '@bk/core';
import { type Platform, pitrStatusOf } from '@bk/platform';
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Authenticator } from '../plugins/auth.ts';
import { presentedKey } from '../plugins/auth.ts';
import { errorBody } from '../plugins/errors.ts';

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children', 'prioritized'] as const;

/**
 * `/metrics` (Prometheus text format), read access (`Authorization: Bearer <key>`).
 * Figures come from the catalog and Redis at scrape time, so one API process reports for
 * every worker process of the deployment. A registry per app (not prom-client's global
 * one) keeps several apps in one process apart.
 */
export function metricsRoutes(platform: Platform, auth: Authenticator): FastifyPluginAsync {
  return async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'bk_api_' });
    const g = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
    const backups = g('bk_backups', 'Backups in the catalog by source, type and status', ['source', 'type', 'status']);
    const restores = g('bk_restores', 'Restores by source and outcome', ['source', 'status']);
    const lastSuccess = g('bk_backup_last_success_timestamp_seconds', 'When the newest successful backup of a source finished', ['source']);
    const lastDuration = g('bk_backup_last_duration_seconds', 'Duration of the newest successful backup', ['source']);
    const lastRows = g('bk_backup_last_rows', 'Rows in the newest successful backup', ['source']);
    const storedBytes = g('bk_backup_stored_bytes', 'Bytes stored by successful backups', ['source']);
    const restoreDuration = g('bk_restore_last_duration_seconds', 'Duration of the newest successful restore', ['source']);
    const verification = g('bk_backup_verification', 'Backups by verification result', ['source', 'status']);
    const jobs = g('bk_queue_jobs', 'Jobs per queue and state', ['queue', 'state']);
    const workers = g('bk_queue_workers', 'Workers connected per queue', ['queue']);
    // Point-in-time sources: the WAL archive's health.
    const walStreaming = g('bk_wal_streaming', 'Whether a WAL streamer is streaming the source (1) or not (0)', ['source']);
    const walLag = g('bk_wal_lag_seconds', 'Seconds from the newest moment the WAL archive covers to now (the RPO met right now)', [
      'source',
    ]);
    const walGaps = g('bk_wal_gaps', 'Gaps recorded in the WAL archive (WAL never stored)', ['source']);
    const walBytes = g('bk_wal_stored_bytes', 'Bytes of WAL stored', ['source']);
    const slotRetained = g('bk_wal_slot_retained_bytes', 'WAL the source server keeps for the replication slot', ['source']);

    async function collect(): Promise<void> {
      for (const m of [
        backups,
        restores,
        lastSuccess,
        lastDuration,
        lastRows,
        storedBytes,
        restoreDuration,
        verification,
        jobs,
        workers,
        walStreaming,
        walLag,
        walGaps,
        walBytes,
        slotRetained,
      ])
        m.reset();
      const db = platform.db;
      const [b, r, last, v, bytes, lastRestore] = await Promise.all([
        db.query('SELECT source, type, status, count(*)::int AS n FROM backups GROUP BY 1, 2, 3'),
        db.query('SELECT source, status, count(*)::int AS n FROM restores GROUP BY 1, 2'),
        db.query(`SELECT DISTINCT ON (source) source, extract(epoch FROM finished_at) AS t, extract(epoch FROM finished_at - started_at) AS d, rows
                  FROM backups WHERE status = 'succeeded' ORDER BY source, finished_at DESC`),
        db.query(
          `SELECT source, coalesce(verification->>'status', 'unverified') AS s, count(*)::int AS n FROM backups WHERE status = 'succeeded' GROUP BY 1, 2`,
        ),
        db.query(`SELECT source, coalesce(sum(bytes), 0)::bigint AS b FROM backups WHERE status = 'succeeded' GROUP BY 1`),
        db.query(`SELECT DISTINCT ON (source) source, extract(epoch FROM finished_at - started_at) AS d FROM restores
                  WHERE status = 'succeeded' AND NOT dry_run ORDER BY source, finished_at DESC`),
      ]);
      for (const x of b.rows) backups.set({ source: x.source, type: x.type, status: x.status }, x.n);
      for (const x of r.rows) restores.set({ source: x.source, status: x.status }, x.n);
      for (const x of last.rows) {
        lastSuccess.set({ source: x.source }, Number(x.t));
        lastDuration.set({ source: x.source }, Number(x.d));
        lastRows.set({ source: x.source }, Number(x.rows));
      }
      for (const x of v.rows) verification.set({ source: x.source, status: x.s }, x.n);
      for (const x of bytes.rows) storedBytes.set({ source: x.source }, Number(x.b));
      for (const x of lastRestore.rows) restoreDuration.set({ source: x.source }, Number(x.d));
      for (const name of platform.sources.names()) {
        const status = await pitrStatusOf(platform, name, platform.sources.forRequest(name), undefined, { checkSettings: false });
        if (!status) continue;
        walGaps.set({ source: name }, 0);
        walStreaming.set({ source: name }, status.streaming.state === 'streaming' ? 1 : 0);
        if (status.streaming.lagSeconds !== null) walLag.set({ source: name }, status.streaming.lagSeconds);
        if (status.slotRetainedBytes !== null) slotRetained.set({ source: name }, status.slotRetainedBytes);
      }
      const [gaps, walStored] = await Promise.all([
        db.query(`SELECT source, count(*)::int AS n FROM wal_events WHERE kind = 'gap' GROUP BY 1`),
        db.query(`SELECT source, coalesce(sum(bytes), 0)::bigint AS b FROM wal_segments GROUP BY 1`),
      ]);
      for (const x of gaps.rows) walGaps.set({ source: x.source }, x.n);
      for (const x of walStored.rows) walBytes.set({ source: x.source }, Number(x.b));
      await Promise.all(
        QUEUES.map(async (q) => {
          const queue = platform.queues.queues[q];
          const counts = await queue.getJobCounts(...JOB_STATES);
          for (const state of JOB_STATES) jobs.set({ queue: q, state }, counts[state] ?? 0);
          workers.set({ queue: q }, await queue.getWorkersCount());
        }),
      );
    }

    app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
      const key = presentedKey(req, false);
      if (!key || !(await auth.verify(key))) return reply.status(401).send(errorBody('unauthorized', 'send "Authorization: Bearer <key>"'));
      await collect();
      return reply.header('content-type', registry.contentType).send(await registry.metrics());
    });
  };
}

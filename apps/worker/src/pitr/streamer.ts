import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { insertWalEvent, updateWalStream, walStoredEnd } from '@bk/catalog';
import { type SourceConfig, errorMessage, pitrSlotOf, resolveCompression } from '@bk/core';
import { type Platform, emitEvent } from '@bk/platform';
import { dropPhysicalSlot, ensurePhysicalSlot, formatLsn, pitrNotes, pitrProblems, readWalSettings, streamWal } from '@bk/postgres';
import { createArchiveSink } from './archive-sink.ts';

export interface WalArchivers {
  /** Sources this process may stream (it streams those whose lock it holds). */
  readonly sources: readonly string[];
  /** Stops streaming (the slot keeps the WAL not yet stored) and releases the locks. */
  stop(): Promise<void>;
}

/**
 * Exactly one WAL streamer per point-in-time source in the whole fleet: every worker process
 * runs a loop per such source that tries to take a Redis lock (SET NX PX) and, while it
 * holds it, streams WAL into storage. The lock is renewed every third of its time; a worker
 * that loses it (Redis unreachable, or the lock taken over after a pause) stops streaming
 * at once. A SIGKILLed holder's lock expires after `postgres.walLockSeconds`, and another
 * worker takes the stream over from the slot's position: the server kept every byte not yet
 * confirmed, so the archive has no gap. Two streamers cannot run at once even if the locks
 * misbehave: the server lets one connection use a replication slot at a time.
 */
export function startWalArchivers(platform: Platform): WalArchivers {
  const sources = Object.entries(platform.config.sources).filter(
    (e): e is [string, Extract<SourceConfig, { kind: 'postgres' }>] => e[1].kind === 'postgres' && e[1].pitr?.enabled === true,
  );
  const stopping = new AbortController();
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const loops = sources.map(([name, source]) =>
    archiveLoop(platform, name, source, holder, stopping.signal).catch((e: unknown) =>
      platform.log.error({ source: name, err: errorMessage(e) }, 'WAL archiver loop ended unexpectedly'),
    ),
  );
  if (sources.length) platform.log.info({ sources: sources.map(([n]) => n), holder }, 'WAL archivers started');
  return {
    sources: sources.map(([n]) => n),
    async stop() {
      stopping.abort(new Error('worker shutting down'));
      await Promise.all(loops);
    },
  };
}

const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

async function archiveLoop(
  platform: Platform,
  name: string,
  source: Extract<SourceConfig, { kind: 'postgres' }>,
  holder: string,
  stopping: AbortSignal,
): Promise<void> {
  const { redis, config, log } = platform;
  const lockKey = `${config.redis.prefix}:wal-streamer:${name}`;
  const lockMs = config.postgres.walLockSeconds * 1000;
  const slot = pitrSlotOf(name, source);
  const partialUploadMs = (source.pitr?.partialUploadSeconds ?? 15) * 1000;
  await reportSetup(platform, name, source.url);
  let failures = 0;
  while (!stopping.aborted) {
    let got = false;
    try {
      got = (await redis.set(lockKey, holder, 'PX', lockMs, 'NX')) === 'OK';
    } catch (e) {
      log.warn({ source: name, err: errorMessage(e) }, 'cannot reach Redis for the WAL streamer lock');
    }
    if (!got) {
      // Someone else streams (or Redis is away): look again within a third of the lock time.
      await sleep(lockMs / 3 + Math.random() * 500, undefined, { signal: stopping }).catch(() => undefined);
      continue;
    }
    const run = new AbortController();
    const stop = () => run.abort(stopping.reason);
    stopping.addEventListener('abort', stop, { once: true });
    const renew = setInterval(() => {
      redis
        .eval(RENEW_SCRIPT, 1, lockKey, holder, String(lockMs))
        .then((ok) => {
          if (ok !== 1) run.abort(new Error('lost the WAL streamer lock'));
        })
        .catch(() => run.abort(new Error('cannot renew the WAL streamer lock (Redis unreachable)')));
    }, lockMs / 3);
    try {
      await updateWalStream(platform.db, name, { state: 'starting', holder, slot, started: true, lastError: null });
      await checkForGap(platform, name, source, slot, run.signal);
      log.info({ source: name, slot, holder }, 'WAL streamer started');
      const compression = resolveCompression(config.compression.codec, config.compression.level);
      await streamWal(
        {
          url: source.url,
          slot,
          partialUploadMs,
          signal: run.signal,
          log: { info: (o, m) => log.info({ source: name, ...o }, m), warn: (o, m) => log.warn({ source: name, ...o }, m) },
        },
        createArchiveSink(platform, name, slot, compression, run.signal),
      );
      failures = 0;
      if (!stopping.aborted) log.warn({ source: name, reason: errorMessage(run.signal.reason) }, 'WAL streamer stopped');
    } catch (e) {
      failures++;
      const permanent = (e as { permanent?: unknown }).permanent === true;
      log.error({ source: name, err: errorMessage(e), permanent }, 'WAL streamer failed');
      await updateWalStream(platform.db, name, { state: 'error', slot, lastError: errorMessage(e) }).catch(() => undefined);
    } finally {
      clearInterval(renew);
      stopping.removeEventListener('abort', stop);
      await redis.eval(RELEASE_SCRIPT, 1, lockKey, holder).catch(() => undefined);
    }
    if (stopping.aborted) {
      await updateWalStream(platform.db, name, { state: 'stopped', holder: null, slot }).catch(() => undefined);
      break;
    }
    // Back off after a failure (capped), so a broken source does not spin.
    if (failures) await sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)), undefined, { signal: stopping }).catch(() => undefined);
  }
}

/**
 * Before streaming: the slot must still hold what the archive does not. A slot created now
 * (first start, or someone dropped it) or invalidated (max_slot_wal_keep_size exceeded while
 * the fleet was down) after WAL was stored means WAL between the archive's end and the
 * slot's start is gone: that is recorded as a gap event, notified, and the recovery window
 * breaks there (restores need a base backup after it).
 */
async function checkForGap(platform: Platform, name: string, source: { url: string }, slot: string, signal: AbortSignal): Promise<void> {
  let s = await ensurePhysicalSlot(source.url, slot, signal);
  if (s.walStatus === 'lost') {
    await dropPhysicalSlot(source.url, slot, signal);
    s = await ensurePhysicalSlot(source.url, slot, signal);
  }
  const storedEnd = await walStoredEnd(platform.db, name);
  if (s.created)
    await insertWalEvent(platform.db, {
      source: name,
      kind: 'slot-created',
      timeline: null,
      fromLsn: null,
      toLsn: s.restartLsn,
      message: `replication slot ${slot} created at ${s.restartLsn === null ? '?' : formatLsn(s.restartLsn)}`,
    });
  if (storedEnd === undefined || s.restartLsn === null || s.restartLsn <= storedEnd) return;
  const message =
    `WAL from ${formatLsn(storedEnd)} to ${formatLsn(s.restartLsn)} of source ${name} was never stored ` +
    `(replication slot ${slot} ${s.created ? 'was missing and has been created again' : 'had moved past the archive'}): ` +
    'moments in that range cannot be restored; take a base backup';
  const event = await insertWalEvent(platform.db, {
    source: name,
    kind: 'gap',
    timeline: null,
    fromLsn: storedEnd,
    toLsn: s.restartLsn,
    message,
  });
  platform.log.error({ source: name, from: formatLsn(storedEnd), to: formatLsn(s.restartLsn) }, 'WAL gap');
  await emitEvent(platform, 'wal.gap', `${name}-${event.id}`, {
    source: name,
    from: formatLsn(storedEnd),
    to: formatLsn(s.restartLsn),
    message,
  });
}

/** Says at start-up, loudly, what the server lacks for streaming (the same check as GET /v1/sources/{name}). */
async function reportSetup(platform: Platform, name: string, url: string): Promise<void> {
  try {
    const settings = await readWalSettings(url);
    const problems = pitrProblems(settings);
    if (problems.length) platform.log.error({ source: name, problems }, 'point-in-time recovery cannot stream WAL from this server');
    for (const note of pitrNotes(settings)) platform.log.warn({ source: name }, note);
  } catch (e) {
    platform.log.warn({ source: name, err: errorMessage(e) }, 'cannot read the server settings point-in-time recovery needs');
  }
}

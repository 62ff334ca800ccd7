import {
  type JobName,
  PermanentJobError,
  QUEUES,
  type QueueName,
  JOB_QUEUE,
  cappedBackoff,
  createRedis,
  errorMessage,
  gzipImplementation,
  isJobName,
  jobPayloads,
} from '@bk/core';
import type { Platform } from '@bk/platform';
import { type Job as BullJob, DelayedError, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { hostname } from 'node:os';
import { ZodError } from 'zod';
import { subjectOf, watchCancellation } from './cancellation.ts';
import { handlers } from './handlers/index.ts';
import { startWalArchivers } from './pitr/streamer.ts';
import type { HandlerContext } from './handlers/types.ts';

export interface WorkerRuntime {
  workers: Worker[];
  /**
   * Graceful stop: running jobs are cancelled and handed back to the queue (another
   * worker picks them up and rewrites their objects whole), then connections close.
   */
  close(): Promise<void>;
}

export interface StartWorkersOptions {
  /** Only run these queues (default: all). */
  queues?: readonly QueueName[];
}

const SHUTDOWN = 'worker shutting down';

/**
 * Errors that retrying cannot fix become UnrecoverableError (BullMQ then fails the job at
 * once); everything else is retried with capped exponential backoff. One rule for every
 * error class: `permanent === true` on the error (both connectors' errors, integrity and
 * missing-key errors, PermanentJobError for the handlers' own), plus invalid payloads.
 */
export function isPermanent(e: unknown): boolean {
  if (e instanceof PermanentJobError || e instanceof ZodError || e instanceof UnrecoverableError) return true;
  return (e as { permanent?: unknown } | null)?.permanent === true;
}

export function startWorkers(platform: Platform, opts: StartWorkersOptions = {}): WorkerRuntime {
  const { config, log } = platform;
  const redisUrl = config.redis.url as string;
  let shuttingDown = false;
  const workers: Worker[] = [];
  const connections = [] as ReturnType<typeof createRedis>[];

  const queues = opts.queues ?? config.workers.queues ?? QUEUES;
  // Recorded on every job it takes (job.processedBy): who ran what, in Bull Board too.
  const workerName = `${hostname()}-${process.pid}`;
  for (const queue of queues) {
    const connection = createRedis(redisUrl, 'worker');
    connections.push(connection);
    const worker: Worker = new Worker(
      queue,
      async (job: BullJob, token?: string, signal?: AbortSignal) => {
        const name = job.name;
        if (!isJobName(name) || JOB_QUEUE[name] !== queue) {
          throw new UnrecoverableError(`no handler for job "${name}" on queue "${queue}"`);
        }
        const jobSignal = signal ?? new AbortController().signal;
        const subject = subjectOf(name, job.data);
        const jobLog = log.child({
          jobId: job.id,
          job: name,
          queue,
          attempt: job.attemptsMade + 1,
          ...(subject ? { [`${subject.kind}Id`]: subject.id } : {}),
        });
        const cancellation = watchCancellation(platform, subject, jobSignal);
        const ctx: HandlerContext = {
          job,
          token,
          signal: cancellation.signal,
          log: jobLog,
          isFinalAttempt: (err: unknown) =>
            cancellation.cancelled() || isPermanent(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
        };
        try {
          // Redis data is input, possibly written by an older version: validate again.
          const payload = jobPayloads[name].parse(job.data);
          return await (handlers[name] as (p: Platform, d: unknown, c: HandlerContext) => Promise<unknown>)(platform, payload, ctx);
        } catch (e) {
          // A job that moved itself back to delayed (e.g. waiting for a source slot).
          if (e instanceof DelayedError) throw e;
          if (cancellation.cancelled()) {
            jobLog.info('stopped: cancelled');
            throw new UnrecoverableError(`${subject?.kind} ${subject?.id} was cancelled`);
          }
          if (shuttingDown && jobSignal.aborted) {
            // Hand the job back rather than failing it: it restarts from scratch elsewhere.
            jobLog.warn('handing job back to the queue for another worker');
            await job.moveToWait(token);
            throw new WaitingError();
          }
          jobLog.error({ err: { message: errorMessage(e), name: (e as Error)?.name } }, 'job failed');
          if (isPermanent(e)) throw new UnrecoverableError(errorMessage(e));
          throw e;
        } finally {
          cancellation.stop();
        }
      },
      {
        connection,
        name: workerName,
        prefix: config.redis.prefix,
        concurrency: config.workers.concurrency[queue],
        lockDuration: config.workers.lockDurationMs,
        stalledInterval: config.workers.stalledIntervalMs,
        maxStalledCount: 2,
        settings: { backoffStrategy: cappedBackoff },
      },
    );
    worker.on('error', (err) => log.error({ err: { message: err.message }, queue }, 'worker error'));
    // A job whose lock could not be renewed may already run elsewhere (after the stalled
    // check): stop this copy rather than let two attempts write the same object.
    worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) {
        log.warn({ jobId: id, queue }, 'lock lost; stopping this attempt (another worker may have taken the job)');
        worker.cancelJob(id, 'lock lost');
      }
    });
    workers.push(worker);
  }
  const gzip = gzipImplementation();
  log.info({ worker: workerName, queues, concurrency: config.workers.concurrency, gzip }, 'workers started');
  // Same gzip format either way, but zlib is the slower one: say so where an operator looks.
  if (gzip !== 'libdeflate')
    log.warn({ gzip }, 'gzip runs on Node zlib, not libdeflate (install libdeflate-dev and rebuild @bk/libdeflate)');

  // Point-in-time sources: this process takes part in electing each one's WAL streamer.
  const archivers = startWalArchivers(platform);

  return {
    workers,
    async close() {
      shuttingDown = true;
      // The WAL streamer hands over at once: the slot keeps what it had not stored, and the
      // next holder starts from there.
      await archivers.stop();
      // Coordinators hold the source snapshot that running exports read from: they are
      // left to finish within the grace period instead of being handed back.
      for (const w of workers) if (w.name !== 'coordinate') w.cancelAllJobs(SHUTDOWN);
      const grace = config.workers.shutdownGraceSeconds * 1000;
      const closing = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), grace);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        log.warn('jobs did not stop within the grace period; forcing close (they will be retried after the stalled check)');
        await Promise.all(workers.map((w) => w.close(true)));
      }
      for (const c of connections) c.disconnect();
    },
  };
}

export type { JobName };

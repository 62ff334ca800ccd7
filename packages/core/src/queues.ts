import { FlowProducer, type JobsOptions, Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config/schema.ts';
import { JOB_QUEUE, type JobName, type JobPayload, NO_RETRY_JOBS, QUEUES, type QueueName, WEBHOOK_ATTEMPTS, jobPayloads } from './jobs.ts';

/**
 * Redis connections. Workers and event listeners need `maxRetriesPerRequest: null` (BullMQ
 * blocks on them); the API's producer connection fails fast instead, so an HTTP request
 * gets a 503 rather than hanging while Redis is down. RESP2 is a cheap hedge (see notes).
 */
export function createRedis(url: string, role: 'producer' | 'worker'): Redis {
  const opts: RedisOptions = {
    protocol: 2,
    lazyConnect: false,
    // Reconnect quickly: the default backoff grows to 20 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...(role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 2, enableOfflineQueue: true, connectTimeout: 5000 }),
  };
  const redis = new Redis(url, opts);
  // Connection errors are retried by ioredis; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  return redis;
}

export type QueueMap = Record<QueueName, Queue>;

export interface QueueSet {
  queues: QueueMap;
  flow: FlowProducer;
  prefix: string;
  close(): Promise<void>;
}

export function createQueueSet(connection: Redis, prefix: string): QueueSet {
  const queues = Object.fromEntries(
    QUEUES.map((name) => {
      const q = new Queue(name, { connection, prefix });
      q.on('error', () => {});
      return [name, q];
    }),
  ) as QueueMap;
  const flow = new FlowProducer({ connection, prefix });
  flow.on('error', () => {});
  return {
    queues,
    flow,
    prefix,
    async close() {
      await Promise.all([...Object.values(queues).map((q) => q.close()), flow.close()]);
    },
  };
}

/** Default options for a job by name: retries with capped exponential backoff. */
export function jobOptions(cfg: Pick<Config, 'workers'>, name: JobName, jobId: string): JobsOptions {
  const attempts = NO_RETRY_JOBS.has(name) ? 1 : name === 'notify.webhook' ? WEBHOOK_ATTEMPTS : cfg.workers.attempts;
  return {
    jobId,
    attempts,
    // Restores go ahead of backups where they share a queue (coordinators); BullMQ runs
    // lower numbers first, and jobs without a priority before any with one: early index
    // builds wait until no load is waiting.
    ...(name === 'restore.coordinate' ? { priority: 1 } : name === 'backup.coordinate' ? { priority: 5 } : {}),
    ...(name === 'restore.pg-indexes' ? { priority: 10 } : {}),
    backoff: { type: 'capped', delay: cfg.workers.backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** The backoff strategy registered on every worker: exponential, capped at 60 s. */
export function cappedBackoff(attemptsMade: number, _type?: string, _err?: Error, job?: { opts: JobsOptions }): number {
  const backoff = job?.opts.backoff;
  const base = typeof backoff === 'object' && backoff.delay ? backoff.delay : 2000;
  return Math.min(base * 2 ** Math.max(0, attemptsMade - 1), 60_000);
}

/**
 * Adds one job, validating its payload against the catalog first (a producer bug must
 * fail here, loudly, not in a worker later). Re-adding an existing job id returns the
 * existing job: enqueueing is idempotent.
 */
export async function enqueue<N extends JobName>(
  set: QueueSet,
  cfg: Pick<Config, 'workers'>,
  name: N,
  payload: JobPayload<N>,
  jobId: string,
): Promise<void> {
  const data = jobPayloads[name].parse(payload);
  const job = await set.queues[JOB_QUEUE[name]].add(name, data, jobOptions(cfg, name, jobId));
  if (!job.id) throw new Error(`enqueue ${name}: Redis returned no job id`);
}

export interface FlowChild<N extends JobName = JobName> {
  name: N;
  data: JobPayload<N>;
  jobId: string;
  /** Jobs this one waits for (it runs once they all completed; one failing fails it). */
  children?: FlowChild[];
}

type FlowJobSpec = Parameters<QueueSet['flow']['add']>[0];

function flowChildren(cfg: Pick<Config, 'workers'>, children: readonly FlowChild[]): FlowJobSpec[] {
  return children.map((c) => ({
    name: c.name,
    queueName: JOB_QUEUE[c.name],
    data: jobPayloads[c.name].parse(c.data),
    opts: { ...jobOptions(cfg, c.name, c.jobId), failParentOnFailure: true },
    ...(c.children?.length ? { children: flowChildren(cfg, c.children) } : {}),
  }));
}

/**
 * A parent job that runs once every child completed. Every child fails its parent when it
 * fails for good (a child failing with no failure option would leave the parent waiting
 * forever).
 */
export async function enqueueFlow<P extends JobName>(
  set: QueueSet,
  cfg: Pick<Config, 'workers'>,
  parent: FlowChild<P>,
  children: FlowChild[],
): Promise<void> {
  await set.flow.add({
    name: parent.name,
    queueName: JOB_QUEUE[parent.name],
    data: jobPayloads[parent.name].parse(parent.data),
    opts: jobOptions(cfg, parent.name, parent.jobId),
    children: flowChildren(cfg, children),
  });
}

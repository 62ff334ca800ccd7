import type { JobName, JobPayload, Logger } from '@bk/core';
import type { Platform } from '@bk/platform';
import type { Job } from 'bullmq';

export interface HandlerContext {
  job: Job;
  token: string | undefined;
  /** Aborted when the job is cancelled or the worker shuts down; reaches every I/O call. */
  signal: AbortSignal;
  log: Logger;
  /** Whether failing with this error ends the job for good (no retry left, or permanent). */
  isFinalAttempt(err: unknown): boolean;
  /**
   * Runs `work` while this process takes no other job from the queue: jobs already running
   * finish, no new one starts (but for one already being fetched). For a job that is its
   * run's critical path, so that it shares the machine with fewer jobs.
   */
  alone<T>(work: () => Promise<T>): Promise<T>;
}

/** Handlers are plain async functions of the platform, the validated payload and the context. */
export type Handler<N extends JobName> = (platform: Platform, payload: JobPayload<N>, ctx: HandlerContext) => Promise<unknown>;

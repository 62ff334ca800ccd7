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
}

/** Handlers are plain async functions of the platform, the validated payload and the context. */
export type Handler<N extends JobName> = (platform: Platform, payload: JobPayload<N>, ctx: HandlerContext) => Promise<unknown>;

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type App, buildApp } from '@bk/api';
import { type Config, createLogger, loadConfig } from '@bk/core';
import { type Platform, createPlatform, startScheduleSync } from '@bk/platform';
import { testServices } from '@bk/test-utils';
import { type WorkerRuntime, startWorkers } from '@bk/worker';
import { stringify } from 'yaml';

export interface StackOptions {
  label: string;
  storage: 's3' | 'file';
  /** Sources as in the config file. */
  sources?: Record<string, { kind: 'postgres' | 'tdengine'; url: string; [option: string]: unknown }>;
  /** Extra config (merged at the top level). */
  extra?: Record<string, unknown>;
  /** Start in-process workers (default true). */
  workers?: boolean;
  env?: Record<string, string>;
  /** Run the schedule sync as the API process does (default false). */
  scheduler?: boolean;
  /** Receives every log line (JSON) of the API and the in-process workers. */
  logLines?: string[];
}

export interface Stack {
  app: App;
  platform: Platform;
  runtime: WorkerRuntime | undefined;
  config: Readonly<Config>;
  apiKey: string;
  /** The environment a separate worker process needs to join this stack. */
  env: Record<string, string>;
  /** Resolves the configuration YAML so a child process can load the same config. */
  yaml: string;
  auth: { authorization: string };
  close(): Promise<void>;
}

/**
 * The real platform (catalog database, Redis prefix, bucket or directory of its own) with
 * the API built in-process and workers running in-process: what `npm start` runs, on the
 * harness services.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const svc = testServices();
  const catalogUrl = await svc.createDatabase(`${opts.label}_catalog`);
  const apiKey = randomBytes(24).toString('hex');
  const env: Record<string, string> = {
    REDIS_URL: svc.redis.url,
    CATALOG_DATABASE_URL: catalogUrl,
    API_KEYS: apiKey,
  };
  let fileRoot: string | undefined;
  if (opts.storage === 's3') {
    const bucket = await svc.createBucket(opts.label);
    Object.assign(env, {
      STORAGE_URL: `s3://${bucket}/backups-root`,
      S3_ENDPOINT: svc.s3.endpoint,
      S3_REGION: svc.s3.region,
      S3_ACCESS_KEY_ID: svc.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: svc.s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
  } else {
    fileRoot = await mkdtemp(join(tmpdir(), `bk-${opts.label}-`));
    env.STORAGE_URL = `file://${fileRoot}`;
  }
  Object.assign(env, opts.env);
  const doc = {
    redis: { prefix: `{${svc.redisPrefix(opts.label)}}` },
    workers: {
      lockDurationMs: 4000,
      stalledIntervalMs: 2000,
      attempts: 3,
      backoffMs: 200,
      shutdownGraceSeconds: 5,
      concurrency: { coordinate: 4, export: 2, finalize: 2, restore: 2, maintenance: 1 },
    },
    postgres: { binDir: svc.postgres.binDir },
    sources: opts.sources ?? {},
    ...opts.extra,
  };
  const yaml = stringify(doc);
  const config = loadConfig({ yamlText: yaml, env });
  const lines = opts.logLines;
  const log = lines
    ? createLogger({ name: `test-${opts.label}`, level: 'debug' }, { write: (line: string) => void lines.push(line) })
    : createLogger({ name: `test-${opts.label}`, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const platform = await createPlatform(config, log);
  const runtime = opts.workers === false ? undefined : startWorkers(platform);
  const app = await buildApp({ platform });
  await app.ready();
  const sync = opts.scheduler ? await startScheduleSync(platform) : undefined;
  return {
    app,
    platform,
    runtime,
    config,
    apiKey,
    env,
    yaml,
    auth: { authorization: `Bearer ${apiKey}` },
    async close() {
      sync?.stop();
      await app.close();
      await runtime?.close();
      for (const q of Object.values(platform.queues.queues)) await q.obliterate({ force: true }).catch(() => undefined);
      await platform.close();
      if (fileRoot && !process.env.BK_KEEP_TEST_FILES) await rm(fileRoot, { recursive: true, force: true });
    },
  };
}

/** Polls `GET path` until `done(body)` or the timeout; returns the last body. */
export async function waitFor<T>(stack: Stack, path: string, done: (body: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.app.inject({ method: 'GET', url: path, headers: stack.auth });
    const body = res.json() as T;
    if (done(body)) return body;
    if (Date.now() > until) throw new Error(`timed out waiting on ${path}: last answer ${res.body.slice(0, 2000)}`);
    await sleep(250);
  }
}

export const isFinal = (b: { status: string }) => ['succeeded', 'failed', 'cancelled'].includes(b.status);

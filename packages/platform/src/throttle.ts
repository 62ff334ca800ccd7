import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Platform } from './platform.ts';

/**
 * A token bucket in Redis, shared by every worker process. Reservation style: a request
 * takes its tokens at once (the balance may go negative) and is told how long to wait for
 * the balance to be paid back, so concurrent readers share the rate fairly. Redis's clock
 * is used, so worker clocks need not agree.
 */
const BUCKET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000) - tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 120000)
if tokens >= 0 then return 0 end
return math.ceil(-tokens * 1000 / rate)
`;

/** Bytes taken per Redis round trip. */
const GRAIN = 256 * 1024;

interface Bucket {
  key: string;
  rate: number;
}

/**
 * A pass-through stream limited to the configured bytes per second of its source and of
 * all sources together; undefined when no limit applies.
 */
export function createThrottle(platform: Platform, source: string, signal?: AbortSignal): Transform | undefined {
  const buckets: Bucket[] = [];
  const total = platform.config.throttle.totalBytesPerSecond;
  const perSource = platform.sources.find(source)?.maxBytesPerSecond;
  const prefix = platform.config.redis.prefix;
  if (total) buckets.push({ key: `${prefix}:throttle:total`, rate: total });
  if (perSource) buckets.push({ key: `${prefix}:throttle:source:${source}`, rate: perSource });
  if (!buckets.length) return undefined;
  const redis = platform.redis;
  let owed = 0;
  const take = async (bytes: number) => {
    const waits = await Promise.all(buckets.map((b) => redis.eval(BUCKET_LUA, 1, b.key, b.rate, b.rate, bytes) as Promise<number>));
    const wait = Math.max(0, ...waits);
    if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {});
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      owed += chunk.length;
      if (owed < GRAIN) return done(null, chunk);
      const bytes = owed;
      owed = 0;
      take(bytes).then(
        () => done(null, chunk),
        (e: unknown) => done(e as Error),
      );
    },
    flush(done: TransformCallback) {
      if (!owed) return done();
      take(owed).then(
        () => done(),
        (e: unknown) => done(e as Error),
      );
    },
  });
}

/**
 * A counting semaphore in Redis for "at most N export jobs of this source at once", across
 * all worker processes. Holders are members of a sorted set scored by lease expiry, so a
 * killed worker's slot frees itself when its lease runs out.
 */
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
`;

export interface Slot {
  release(): Promise<void>;
}

/** A slot, or undefined when the source is at its limit (the caller retries later). */
export async function acquireExportSlot(platform: Platform, source: string, holder: string): Promise<Slot | undefined | null> {
  const limit = platform.sources.find(source)?.maxConcurrentExports;
  if (!limit) return null;
  const key = `${platform.config.redis.prefix}:slots:${source}`;
  const lease = platform.config.workers.lockDurationMs * 2;
  const got = (await platform.redis.eval(ACQUIRE_LUA, 1, key, holder, limit, lease)) as number;
  if (!got) return undefined;
  // Renew the lease while the job runs.
  const timer = setInterval(() => {
    platform.redis.eval(ACQUIRE_LUA, 1, key, holder, limit, lease).catch(() => undefined);
  }, lease / 3);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await platform.redis.zrem(key, holder).catch(() => undefined);
    },
  };
}

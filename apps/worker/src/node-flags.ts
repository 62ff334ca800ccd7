/**
 * Node flags every worker process runs with: `npm run start:worker`, docker-compose, and the
 * worker processes the tests and benchmarks start (so they measure what we ship).
 *
 * `--single-threaded-gc`: a worker streams gigabytes through short-lived buffers, and V8's
 * parallel and concurrent GC threads then cost more CPU than they save. Measured on the
 * 2-core machine (bench/postgres/export-profile.ts, import-profile.ts, same data, runs
 * alternated): process CPU of an export 3.8 -> 3.3 CPU-s, of a load 1.4 -> 1.0 CPU-s, with
 * GC pauses on the main thread that stay short (~80 ms per 285 MB). Where cores sit idle
 * this gives up little; where they are all busy (the usual case for a backup) it is CPU that
 * the database and the compressor get instead.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/**
 * glibc malloc settings every worker process runs with (same places as the flags above).
 *
 * Each multipart upload holds up to three 8 MiB part buffers. glibc serves the first from
 * mmap, then, once it is freed, raises its mmap threshold to 8 MiB (the threshold is dynamic
 * by default), so later part buffers come from the heap arenas, and freed arena memory is
 * kept by the process instead of being returned: a worker's RSS climbed from ~193 to ~240 MiB
 * over a backup while its JS heap stayed near 30 MiB. A fixed 1 MiB threshold keeps every
 * large buffer on mmap (returned to the system when freed), and two arenas instead of
 * 8 x cores stop each libuv thread (zlib, hashing, fs) from growing its own. Measured with
 * bench/postgres.ts --scale 0.5 --scenario A: peak worker RSS 236 -> 203 MiB, wall times
 * unchanged within noise. Values already in the environment win, so they can be compared.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '1048576',
};

/**
 * Node arguments and environment for a worker process started as `npm run start:worker`
 * starts one (the tests and the bench spawn them this way). `env` wins over WORKER_ENV.
 */
export function workerSpawnOptions(
  env: NodeJS.ProcessEnv,
  extraNodeArgs: readonly string[] = [],
): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    args: [...WORKER_NODE_FLAGS, ...extraNodeArgs, '--import', 'tsx', 'apps/worker/src/main.ts'],
    env: { ...WORKER_ENV, ...env },
  };
}

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

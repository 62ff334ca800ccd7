export { startWorkers, type WorkerRuntime, type StartWorkersOptions } from './runtime.ts';
export { WORKER_ENV, WORKER_NODE_FLAGS } from './node-flags.ts';

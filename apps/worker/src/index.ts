export { startWorkers, type WorkerRuntime, type StartWorkersOptions } from './runtime.ts';

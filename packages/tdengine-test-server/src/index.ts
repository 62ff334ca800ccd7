/**
 * @bk/tdengine-test-server: an in-memory TDengine 3.x REST **test** server (taosAdapter's
 * `POST /rest/sql`) for tests and benchmarks. See README.md for what it implements.
 */
export { startTdengineTestServer } from './server.ts';
export type { TdengineTestServer, TdengineTestServerOptions } from './server.ts';
export { FaultSwitches, FAULT_KINDS, addFaultFromSpec, parseFaultSpec } from './faults.ts';
export type { FaultKind, FaultParams, FaultRule, FaultTrigger } from './faults.ts';
export type { TdengineTestServerStats } from './stats.ts';

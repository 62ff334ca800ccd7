export * from './ports.ts';
export * from './processes.ts';
export * from './redis.ts';
export * from './postgres.ts';
export * from './namespace.ts';
export * from './swift.ts';
export * from './storage-contract.ts';

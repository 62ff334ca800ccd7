export * from './ports.ts';
export * from './processes.ts';
export * from './redis.ts';
export * from './postgres.ts';

export * from './audit.ts';
export * from './backups.ts';
export * from './db.ts';
export * from './restores.ts';
export * from './schedules.ts';
export * from './reports.ts';
export * from './api-keys.ts';
export * from './rescan.ts';

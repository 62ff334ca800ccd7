// The package's public surface: re-exports only (modules import each other directly, never this file).
export * from './platform.ts';
export * from './sources.ts';
export * from './data-key.ts';
export * from './manifests.ts';
export * from './process.ts';
export * from './backups.ts';
export * from './restores.ts';
export * from './notify.ts';
export * from './outcomes.ts';
export * from './cleanup.ts';
export * from './retention.ts';
export * from './schedules.ts';
export * from './rescan.ts';
export * from './throttle.ts';
export * from './drills.ts';
export * from './discovery.ts';
export * from './tdengine.ts';

// Moved to @bk/local-services (the quick start uses them too); kept so test code can import by path.
export * from '../../local-services/src/redis.ts';

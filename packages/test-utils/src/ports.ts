// Lives in @bk/local-services (the quick start uses it too); kept because test/global-setup.ts
// and bench/ import this file by path.
export * from '@bk/local-services/ports';

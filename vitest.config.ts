import { defineConfig } from 'vitest/config';

// Two tiers by location (see STYLE.md): unit tests next to the code, without services;
// integration tests under test/ against the real services that test/global-setup.ts starts.
export default defineConfig({
  test: {
    // The machines have 2 cores: at most 2 test files run at once, across both projects.
    maxWorkers: 2,
    minWorkers: 1,
    // Room for the global teardown to stop Redis, PostgreSQL and Swift.
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          setupFiles: ['test/setup-leak-check.ts'],
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The leak check's afterAll must run after the file's own: "stack" runs after-hooks
          // in reverse order of registration, and the setup file registers first.
          sequence: { hooks: 'stack' },
        },
      },
    ],
  },
});

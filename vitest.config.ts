import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration tests that build namespaces and time traffic run better
    // without competing with each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/globalSetup.ts'],
    // Temporal's native worker runtime wants a process of its own, not a worker thread.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

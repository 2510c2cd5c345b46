import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores: the simulator suites are CPU-bound, so more workers only adds contention.
    maxWorkers: 2,
    testTimeout: 120_000,
  },
});

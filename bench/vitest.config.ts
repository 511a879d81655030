import { defineConfig } from 'vitest/config';

// Only the harness smoke test; the benchmark itself is `pnpm bench` and is never part of a test run.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});

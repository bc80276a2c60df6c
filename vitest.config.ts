import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // 2-core CI machines: a few files at a time keeps socket-heavy tests from starving each other.
    maxWorkers: 2,
  },
});

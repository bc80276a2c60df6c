import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module). Node, and so Apollo and graphql-ws, load the CJS copy;
    // without this alias Vite would hand our code the ESM copy and `instanceof GraphQLError` would fail across them.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // 2-core CI machines: a few files at a time keeps socket-heavy tests from starving each other.
    maxWorkers: 2,
  },
});

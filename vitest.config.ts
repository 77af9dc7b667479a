import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The engine's platform (issue 18): Node's, as src/index.ts and the CLI register it.
    setupFiles: ['test/support/node-platform.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts for its "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'build/test-results.json' },
  },
});

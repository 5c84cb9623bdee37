import { defineConfig } from 'vitest/config';

// One vitest run over the whole repo, so `npm test` prints one set of totals.
// Tests import the workspace packages from their built `dist/` (npm test builds first): the engine
// thread is a real worker_threads file and cannot be loaded from TypeScript sources.
export default defineConfig({
  test: {
    include: ['shared/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI reads the totals from the JSON report (.ci/run prints them as "N passed, N failed").
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});

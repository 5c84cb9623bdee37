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
    // The test processes load the AWS SDK as the CLI does: without its Node 20 warning (see
    // services/cli/bin/phudge.js for why nobody can act on it).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // s3rver (run inside the test processes) encrypts ListObjectsV2 continuation tokens with DES,
    // which OpenSSL 3 only offers through its legacy provider: without it a second page is a 500.
    execArgv: ['--openssl-legacy-provider'],
    // CI reads the totals from the JSON report (.ci/run prints them as "N passed, N failed").
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});

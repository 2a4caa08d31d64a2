import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Tests read @coconutpay/core's TypeScript sources, not its built dist/: the "source"
 * export condition (packages/core/package.json) comes first, for modules resolved for the
 * browser and for Node alike. Every project extends this root configuration.
 */
const readCoreSources = {
  resolve: { conditions: ['source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
};

/**
 * One test run for the whole repository, in projects by layer. Tests sit beside
 * the code they test (`x.test.ts` next to `x.ts`); HTTP tests of the server live in
 * apps/server/test, browser end-to-end tests in e2e/.
 */
export default defineConfig({
  ...readCoreSources,
  test: {
    projects: [
      { extends: true, test: { name: 'core', include: ['packages/core/src/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['apps/server/src/**/*.test.ts', 'apps/server/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      { extends: true, test: { name: 'cli', include: ['apps/cli/src/**/*.test.ts'], environment: 'node', testTimeout: 120_000 } },
      // The benchmark itself is `npm run bench`; this only checks its load generator still speaks the protocol.
      { extends: true, test: { name: 'bench', include: ['bench/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      { extends: true, test: { name: 'web', include: ['apps/web/src/**/*.test.ts'], environment: 'node' } },
      { extends: true, test: { name: 'e2e', include: ['e2e/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
    ],
  },
});

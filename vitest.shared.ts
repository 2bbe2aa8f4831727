import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

/**
 * Every package tests the same way: `test/**\/*.test.ts`, workspace imports resolved to TypeScript
 * sources through the `paxos-src` export condition (no build needed, except for tests of built
 * output, which turbo orders after `build`), a JSON report that `.ci/run` totals, and a temp
 * folder per run that must be empty at the end (vitest.tmpdir.ts).
 */
export function packageConfig(): ViteUserConfig {
  return defineConfig({
    resolve: { conditions: ['paxos-src'] },
    ssr: { resolve: { conditions: ['paxos-src'] } },
    test: {
      include: ['test/**/*.test.ts'],
      // A timeout guards against a hang, it measures nothing: 5 s (vitest's default) fails
      // property tests on a machine that other builds keep busy.
      testTimeout: 30_000,
      globalSetup: [fileURLToPath(new URL('./vitest.tmpdir.ts', import.meta.url))],
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    },
  });
}

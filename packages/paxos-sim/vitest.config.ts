import { defineConfig } from 'vitest/config';

// `paxos-src` points workspace imports at TypeScript sources, so tests need no build step
// (the vm test bundles dist on purpose and depends on `build` through turbo).
export default defineConfig({
  resolve: { conditions: ['paxos-src'] },
  ssr: { resolve: { conditions: ['paxos-src'] } },
  test: { include: ['test/**/*.test.ts'] },
});

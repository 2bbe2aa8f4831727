import { defineConfig } from 'vitest/config';

// `pnpm vitest` at the top level runs every package's tests as one project each.
export default defineConfig({ test: { projects: ['packages/*'] } });

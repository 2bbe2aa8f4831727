/**
 * Builds `pnpm sim:web`'s page into dist/web (run by `build`, after tsc): the app bundled for the
 * browser by esbuild, and its index.html. Imports resolve as a browser's bundler resolves them:
 * paxos-core through its `exports` to its built dist (what the CLI runs too), and a `node:`
 * import anywhere in the page's code is an error, so the simulation stays browser-pure.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'web', 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'src', 'web', 'index.html'), join(out, 'index.html'));

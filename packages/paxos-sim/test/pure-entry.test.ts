import { build } from 'esbuild';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

describe("paxos-sim's package entry", () => {
  it('bundles for a browser: the simulation, options, recorder and run commands import nothing from Node', async () => {
    // esbuild refuses `node:` imports and Node built-ins on the browser platform: the bundle
    // only builds if nothing reachable from the entry needs Node (the CLI and server do not count).
    const result = await build({ entryPoints: [join(SRC, 'index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.endsWith('src/simulation.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/recording.ts'))).toBe(true);
    expect(inputs.filter((f) => f.startsWith('node:') || /\/(cli|sim-web|web-server|web-build|bench-core)\.ts$/.test(f))).toEqual([]);
  });

  it('a Node-only module in the graph would fail that bundle (the check can fail)', async () => {
    await expect(
      build({ entryPoints: [join(SRC, 'web-server.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }),
    ).rejects.toThrow(/node:/);
  });
});

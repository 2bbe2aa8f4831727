import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerProject, devBinary, devVersion, expectSameDeliveries, nodeReference, runToEnd, type ClusterRun } from './runtimes/harness.js';

let consumer: ReturnType<typeof consumerProject> | undefined;
let reference: ClusterRun;
beforeAll(async () => {
  reference = await nodeReference();
  consumer = consumerProject();
}, 60_000);
afterAll(() => consumer?.remove());

describe('paxos-core in Bun', () => {
  it('the built package, imported through its exports, decides 1,000 values in a 3-acceptor cluster', async () => {
    const dir = (consumer as NonNullable<typeof consumer>).dir;
    // --no-install: resolve from the consumer's node_modules only, never fetch a package. No
    // transpiler cache either: Bun would keep one in ~/.bun, outside what the test removes.
    const stdout = await runToEnd(devBinary('bun'), ['--no-install', 'main.mjs'], {
      cwd: dir,
      env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' },
      timeoutMs: 60_000,
    });
    const run = JSON.parse(stdout) as ClusterRun & { resolved: string };
    expect(run.runtime).toEqual({ name: 'bun', version: devVersion('bun') });
    expect(run.resolved).toMatch(/\/paxos-core\/dist\/index\.js$/);
    expectSameDeliveries(run, reference);
  }, 90_000);
});

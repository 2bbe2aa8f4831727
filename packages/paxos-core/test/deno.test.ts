import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerProject, devBinary, devVersion, expectSameDeliveries, nodeReference, runToEnd, type ClusterRun } from './runtimes/harness.js';

let consumer: ReturnType<typeof consumerProject> | undefined;
let reference: ClusterRun;
beforeAll(async () => {
  reference = await nodeReference();
  consumer = consumerProject();
}, 60_000);
afterAll(() => consumer?.remove());

describe('paxos-core in Deno', () => {
  it('the built package, imported through its exports, decides 1,000 values in a 3-acceptor cluster', async () => {
    const dir = (consumer as NonNullable<typeof consumer>).dir;
    // Deno finds the consumer's package.json and resolves the bare specifier from its
    // node_modules. No permissions are granted: the core needs none. Its cache goes into the
    // consumer directory (removed afterwards) and it must not look for updates.
    const stdout = await runToEnd(devBinary('deno'), ['run', '--no-prompt', 'main.mjs'], {
      cwd: dir,
      env: { DENO_DIR: join(dir, '.deno'), DENO_NO_UPDATE_CHECK: '1' },
      timeoutMs: 60_000,
    });
    const run = JSON.parse(stdout) as ClusterRun & { resolved: string };
    expect(run.runtime).toEqual({ name: 'deno', version: devVersion('deno') });
    expect(run.resolved).toMatch(/\/paxos-core\/dist\/index\.js$/);
    expectSameDeliveries(run, reference);
  }, 90_000);
});

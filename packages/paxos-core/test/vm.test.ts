import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';

const DIST = join(import.meta.dirname, '..', 'dist', 'index.js');

/**
 * Runs inside the bare context: three acceptors, a proposer and a learner wired by direct calls,
 * using nothing but the bundle's exports and ECMAScript built-ins.
 */
const DRIVER = `
(() => {
  const P = PaxosCore;
  const acceptors = [0, 1, 2].map((id) => new P.Acceptor({ id }));
  const proposer = new P.Proposer({ id: 0, acceptors: 3 });
  const learner = new P.Learner({ acceptors: 3 });
  const PROPOSER = 10, LEARNER = 11;
  const queue = [];
  const out = P.newEffects();
  const route = (from) => {
    for (const env of out.send) {
      if (env.to === 'acceptors') for (let a = 0; a < 3; a++) queue.push([a, from, env.msg]);
      else if (env.to === 'subscribers') { queue.push([PROPOSER, from, env.msg]); queue.push([LEARNER, from, env.msg]); }
      else queue.push([env.peer, from, env.msg]);
    }
    const delivered = out.deliver.map((d) => ({ iid: d.iid, value: Array.from(d.value) }));
    P.clearEffects(out);
    return delivered;
  };
  const delivered = [];
  proposer.tick(0, out); route(PROPOSER);
  proposer.propose(new Uint8Array([104, 105, 0]), out); route(PROPOSER);
  for (let steps = 0; queue.length > 0 && steps < 10000; steps++) {
    const [to, from, msg] = queue.shift();
    if (to === PROPOSER) proposer.receive(from, msg, out);
    else if (to === LEARNER) learner.receive(from, msg, out);
    else acceptors[to].receive(from, msg, out);
    delivered.push(...route(to));
  }
  return JSON.stringify({ delivered, globals: Object.getOwnPropertyNames(globalThis).sort() });
})()
`;

describe('paxos-core in a bare JavaScript runtime', () => {
  it('the built bundle decides a value inside a node:vm context with only ECMAScript globals', async () => {
    expect(existsSync(DIST), 'dist/index.js is missing: run the build first (turbo runs it before test)').toBe(true);
    const bundle = await build({ entryPoints: [DIST], bundle: true, format: 'iife', globalName: 'PaxosCore', platform: 'neutral', write: false });
    const code = bundle.outputFiles[0]?.text ?? '';
    const context = vm.createContext({});
    // V8 gives every context its own console; remove it so the core provably never logs.
    vm.runInContext('delete globalThis.console', context);
    expect(vm.runInContext('typeof TextEncoder + typeof process + typeof setTimeout + typeof Buffer + typeof require', context)).toBe(
      'undefinedundefinedundefinedundefinedundefined',
    );
    vm.runInContext(code, context, { filename: 'paxos-core.bundle.js' });
    const result = JSON.parse(vm.runInContext(DRIVER, context) as string) as { delivered: unknown; globals: string[] };
    expect(result.delivered).toEqual([{ iid: 1, value: [104, 105, 0] }]);
    expect(result.globals).not.toContain('console');
  });
});

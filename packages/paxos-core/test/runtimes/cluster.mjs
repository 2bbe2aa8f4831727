// @ts-check
/**
 * The cluster that every runtime test runs — in Node, Bun, Deno, a browser page and a Web Worker:
 * three acceptors, one proposer and one learner of paxos-core, wired by a small in-memory router
 * that reorders messages (seeded, so every runtime sees the same schedule), deciding 1,000
 * values. Plain JavaScript, so that every runtime loads this file as it is. The caller passes in
 * paxos-core's module namespace, imported the way that runtime imports a published package.
 */

export const VALUES = 1000;

/** Client value number `i`: ASCII text of varying length (the core sees only bytes). */
export function valueText(i) {
  return `value ${i} ${'x'.repeat(i % 17)}`;
}

const toBytes = (/** @type {string} */ s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const toText = (/** @type {Uint8Array} */ b) => String.fromCharCode(...b);

/**
 * Which runtime this is, from what it alone defines (Bun and Deno also define `process`, so they
 * are asked first), with its own version string.
 */
export function describeRuntime() {
  /** @type {any} */
  const g = globalThis;
  if (g.Bun !== undefined) return { name: 'bun', version: String(g.Bun.version) };
  if (g.Deno !== undefined) return { name: 'deno', version: String(g.Deno.version.deno) };
  if (g.WorkerGlobalScope !== undefined && g instanceof g.WorkerGlobalScope) return { name: 'web-worker', version: String(g.navigator.userAgent) };
  if (g.window !== undefined && g.document !== undefined) return { name: 'browser-main-thread', version: String(g.navigator.userAgent) };
  if (g.process?.versions?.node !== undefined) return { name: 'node', version: String(g.process.versions.node) };
  return { name: 'unknown', version: '' };
}

/**
 * Runs the cluster until the learner has delivered `values` values.
 * @param {any} core the module namespace of @libpaxos/paxos-core
 * @returns {{ runtime: { name: string, version: string }, delivered: { iid: number, value: string }[], steps: number }}
 */
export function runCluster(core, values = VALUES) {
  const { Acceptor, Proposer, Learner, Prng, newEffects, clearEffects } = core;
  const ACCEPTORS = 3;
  const PROPOSER = 3;
  const LEARNER = 4;
  const acceptors = [0, 1, 2].map((id) => new Acceptor({ id }));
  const proposer = new Proposer({ id: 0, acceptors: ACCEPTORS });
  const learner = new Learner({ acceptors: ACCEPTORS });
  /** @type {any[]} index = peer id: acceptors 0–2, the proposer, the learner */
  const nodes = [...acceptors, proposer, learner];
  /** Messages in flight: [to, from, message]. */
  /** @type {[number, number, unknown][]} */
  const inFlight = [];
  const network = new Prng(15);
  const out = newEffects();
  /** @type {{ iid: number, value: string }[]} */
  const delivered = [];

  /** Carries out what node `from` just returned: its messages go in flight, its deliveries are kept. */
  const route = (/** @type {number} */ from) => {
    for (const env of out.send) {
      if (env.to === 'acceptors') for (let a = 0; a < ACCEPTORS; a++) inFlight.push([a, from, env.msg]);
      else if (env.to === 'subscribers') inFlight.push([PROPOSER, from, env.msg], [LEARNER, from, env.msg]);
      else inFlight.push([env.peer, from, env.msg]);
    }
    for (const d of out.deliver) delivered.push({ iid: d.iid, value: toText(d.value) });
    // Nothing persists across a crash here (no crashes), so the records need no storage.
    clearEffects(out);
  };

  let now = 0;
  const tickAll = () => {
    now += 5;
    nodes.forEach((node, id) => {
      node.tick(now, out);
      route(id);
    });
  };

  tickAll();
  for (let i = 0; i < values; i++) {
    proposer.propose(toBytes(valueText(i)), out);
    route(PROPOSER);
  }
  const maxSteps = 100 * values;
  let steps = 0;
  while (delivered.length < values) {
    if (++steps > maxSteps) throw new Error(`no progress: ${delivered.length} of ${values} values delivered after ${maxSteps} steps`);
    // Time passes now and then (and whenever the network is idle), so timeouts and the
    // learner's hole repair run as they would in a real process.
    if (inFlight.length === 0 || steps % 64 === 0) tickAll();
    if (inFlight.length === 0) continue;
    // The network delivers any of the eight oldest messages next: reordering, never loss.
    const [to, from, msg] = /** @type {[number, number, unknown]} */ (inFlight.splice(network.below(Math.min(8, inFlight.length)), 1)[0]);
    nodes[to].receive(from, msg, out);
    route(to);
  }
  return { runtime: describeRuntime(), delivered, steps };
}

/**
 * What must hold of a learner's deliveries: instances 1, 2, 3… in order, each once, and every
 * proposed value exactly once. Returns the problems found (none when all is well).
 * @param {{ iid: number, value: string }[]} delivered
 */
export function checkDeliveries(delivered, values = VALUES) {
  const problems = [];
  if (delivered.length !== values) problems.push(`delivered ${delivered.length} values, expected ${values}`);
  const expected = new Set(Array.from({ length: values }, (_, i) => valueText(i)));
  delivered.forEach((d, i) => {
    if (d.iid !== i + 1) problems.push(`delivery ${i} is instance ${d.iid}, expected ${i + 1}`);
    if (!expected.delete(d.value)) problems.push(`instance ${d.iid} delivered '${d.value}', which was not proposed or was delivered before`);
  });
  if (expected.size > 0) problems.push(`${expected.size} proposed values were never delivered`);
  return problems;
}

#!/usr/bin/env node
/**
 * How fast the linearizability checker is: generated memcached histories (every single-key command
 * and multi-key gets, 10% outputs lost where asked), checked with the memcached model, split per
 * key. Prints one line per run; the figures are wall-clock times, so run it on a quiet machine.
 *
 *   pnpm --filter @libpaxos/paxos-kv build && node packages/paxos-kv/scripts/bench-checker.mjs [--ops N] [--keys N]
 */
import { checkOperations, generateHistory, injectStaleRead, memcachedModel, Rng } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ops = opt('--ops', 10_000);
const keys = opt('--keys', 100);
// maxLatency is in ticks, and operations run ~2 ticks apart: with latency L about min(clients, L)
// operations are in flight at once, so about that many over `keys` overlap on each key.
const runs = [
  { clients: 10, latency: 10, unknownRate: 0, mix: 'full' },
  { clients: 50, latency: 100, unknownRate: 0, mix: 'full' },
  { clients: 200, latency: 1000, unknownRate: 0, mix: 'full' },
  { clients: 200, latency: 1000, unknownRate: 0.01, mix: 'full' },
  { clients: 50, latency: 100, unknownRate: 0.1, mix: 'full' },
  { clients: 50, latency: 100, unknownRate: 0, mix: 'register' },
  { clients: 50, latency: 100, unknownRate: 0, mix: 'register', stale: true },
  { clients: 200, latency: 1000, unknownRate: 0, mix: 'register' },
  { clients: 200, latency: 1000, unknownRate: 0, mix: 'register', stale: true },
];
// Warm the JIT up first, so the first run's figures are not mostly compilation.
checkOperations(memcachedModel, generateHistory({ seed: 99, operations: ops, keys, clients: 20 }));
for (const r of runs) {
  const times = [];
  let result;
  for (let seed = 1; seed <= 5; seed++) {
    let h = generateHistory({ seed, operations: ops, keys, clients: r.clients, unknownRate: r.unknownRate, mix: r.mix, maxLatency: r.latency });
    if (r.stale) h = injectStaleRead(h, new Rng(seed)) ?? h;
    const t0 = performance.now();
    result = checkOperations(memcachedModel, h, { budget: { maxCacheEntries: 2_000_000 } });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[2];
  console.log(
    `${ops} ops, ${keys} keys, ${r.clients} clients, latency ${r.latency}, ${r.mix}${r.unknownRate ? `, ${r.unknownRate * 100}% lost` : ''}${r.stale ? ', one stale read injected' : ''}: ` +
      `${result.result}${result.result === 'unknown' ? ` (${result.reason})` : ''}, ${result.steps} model steps, median ${median.toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[4].toFixed(1)}) over 5 seeds, ` +
      `${Math.round((ops / median) * 1000).toLocaleString('en')} ops/s`,
  );
}

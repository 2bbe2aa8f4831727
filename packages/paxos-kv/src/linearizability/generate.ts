/**
 * Histories that are linearizable by construction, for testing the checker and for benchmarks:
 * operations run one at a time against the real store (KvStore), and each gets a random real-time
 * interval around the moment it ran, with several clients' intervals overlapping. The order they
 * ran in is then a linearization, whatever the overlaps. Seeded: same options, same history.
 */
import { keyToBytes, type Key } from '../bytes.js';
import type { KvCommand } from '../command.js';
import { KvStore } from '../store.js';
import { UNKNOWN, type Operation } from './model.js';
import { modelInput, modelOutput, type McInput, type McOutput } from './memcached-model.js';

export interface HistoryOptions {
  readonly seed: number;
  readonly operations: number;
  readonly keys: number;
  readonly clients: number;
  /** Most ticks from a call to the moment it runs, and from then to its return; default 10. */
  readonly maxLatency?: number;
  /** Share of operations whose outputs are lost (timed out); default 0. */
  readonly unknownRate?: number;
  /** 'full': every single-key command and multi-key gets; 'register': get and set only. Default full. */
  readonly mix?: 'full' | 'register';
}

/** A small deterministic PRNG (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
}

export function generateHistory(o: HistoryOptions): Operation<McInput, McOutput>[] {
  const rng = new Rng(o.seed);
  const store = new KvStore();
  const maxLatency = o.maxLatency ?? 10;
  const keys: Key[] = Array.from({ length: o.keys }, (_, i) => `key${i}`);
  const free = new Array<number>(o.clients).fill(0);
  const history: Operation<McInput, McOutput>[] = [];
  let t = 0;
  for (let n = 0; n < o.operations; n++) {
    // The next moment an operation runs, on a client that is free by then.
    t += 1 + rng.int(3);
    let client = rng.int(o.clients);
    if ((free[client] as number) >= t) {
      client = free.indexOf(Math.min(...free));
      t = Math.max(t, (free[client] as number) + 1);
    }
    const call = Math.max((free[client] as number) + 1, t - rng.int(maxLatency + 1));
    const ret = t + rng.int(maxLatency + 1);
    free[client] = ret;
    const command = o.mix === 'register' ? registerCommand(rng, keys, n) : fullCommand(rng, store, keys, n);
    const result = store.apply({ now: t, command });
    const input = modelInput(command) as McInput;
    const showsCas = rng.next() < 0.5;
    const output = modelOutput(result, showsCas) as McOutput;
    const lost = rng.next() < (o.unknownRate ?? 0);
    history.push({ client, input, call, output: lost ? UNKNOWN : output, return: lost ? Infinity : ret });
  }
  return history;
}

function registerCommand(rng: Rng, keys: readonly Key[], n: number): KvCommand {
  const key = rng.pick(keys);
  // Values are unique, so a read shows exactly which write it saw.
  if (rng.next() < 0.5) return { op: 'get', keys: [key] };
  return { op: 'set', key, flags: 0, exptime: 0, value: keyToBytes(`v${n}`) };
}

function fullCommand(rng: Rng, store: KvStore, keys: readonly Key[], n: number): KvCommand {
  const key = rng.pick(keys);
  const value = (): Uint8Array => keyToBytes(rng.next() < 0.3 ? String(rng.int(1000)) : `v${n}`);
  const r = rng.int(100);
  if (r < 35) return rng.next() < 0.1 ? { op: 'get', keys: [key, rng.pick(keys), rng.pick(keys)] } : { op: 'get', keys: [key] };
  if (r < 52) return { op: 'set', key, flags: rng.int(3), exptime: 0, value: value() };
  if (r < 56) return { op: 'add', key, flags: 0, exptime: 0, value: value() };
  if (r < 60) return { op: 'replace', key, flags: 1, exptime: 0, value: value() };
  if (r < 64) return { op: 'append', key, flags: 0, exptime: 0, value: keyToBytes(String(rng.int(10))) };
  if (r < 67) return { op: 'prepend', key, flags: 0, exptime: 0, value: keyToBytes(String(rng.int(10))) };
  if (r < 76) {
    // Mostly the current unique (a client that just read it), sometimes a stale one.
    const cur = store.peek(key)?.cas ?? 1;
    return { op: 'cas', key, flags: 0, exptime: 0, value: value(), cas: BigInt(rng.next() < 0.6 ? cur : Math.max(1, cur - 1 - rng.int(3))) };
  }
  if (r < 82) return { op: 'delete', key };
  if (r < 90) return rng.next() < 0.2 ? { op: 'incr', key, delta: BigInt(rng.int(5)), initial: { value: 0n, exptime: 0 } } : { op: 'incr', key, delta: BigInt(rng.int(5)) };
  if (r < 96) return { op: 'decr', key, delta: BigInt(rng.int(5)) };
  return { op: 'touch', key, exptime: 0 };
}

/**
 * Makes one read stale: a get that started after a write w2 ended, where w2 overwrote a write w1
 * that had ended before w2 started, now returns w1's value. Every linearization orders
 * w1 < w2 < the read, and values are unique, so the history is no longer linearizable. Needs a
 * 'register' history; returns null when it has no such triple.
 */
export function injectStaleRead(history: readonly Operation<McInput, McOutput>[], rng: Rng): Operation<McInput, McOutput>[] | null {
  const candidates: [number, string][] = [];
  const byKey = new Map<Key, number[]>();
  history.forEach((op, i) => {
    const k = op.input.op === 'get' ? (op.input.keys[0] as Key) : op.input.key;
    let l = byKey.get(k);
    if (l === undefined) byKey.set(k, (l = []));
    l.push(i);
  });
  for (const ids of byKey.values()) {
    const writes = ids.filter((i) => history[i]?.input.op === 'set' && history[i]?.output !== UNKNOWN).map((i) => history[i] as Operation<McInput, McOutput>);
    if (writes.length < 2) continue;
    // The write that ended first is the best w1: it is before the most other writes.
    const first = writes.reduce((a, b) => (b.return < a.return ? b : a));
    for (const r of ids) {
      const read = history[r] as Operation<McInput, McOutput>;
      if (read.input.op !== 'get' || read.output === UNKNOWN) continue;
      // w2: of the writes that ended before the read began, the one that began last.
      let w2: Operation<McInput, McOutput> | undefined;
      for (const w of writes) if (w.return < read.call && (w2 === undefined || w.call > w2.call)) w2 = w;
      if (w2 !== undefined && w2 !== first && first.return < w2.call && first.input.op === 'set') candidates.push([r, first.input.value]);
    }
  }
  if (candidates.length === 0) return null;
  const [r, stale] = rng.pick(candidates);
  const read = history[r] as Operation<McInput, McOutput>;
  const key = (read.input as { keys: readonly Key[] }).keys[0] as Key;
  const out = history.slice();
  out[r] = { ...read, output: { status: 'values', hits: [{ key, value: stale }] } };
  return out;
}

/**
 * Lowe's just-in-time linearization ("Testing for linearizability", 2017, §4), for one part of a
 * partitioned history: where Wing & Gong's search linearizes an operation as soon as it is called,
 * this one walks the events in time order and linearizes nothing until it must — at the return of
 * an operation not yet linearized. There it linearizes that operation, or first any other pending
 * one (called, not yet linearized) and looks again. Every linearization can be reordered so that
 * each operation takes effect either at its return or just before one that does, so this misses
 * none, and it never tries an order only to undo it because a later call could have gone first.
 *
 * An operation whose output is unknown has no return event: it is never forced, and stays pending
 * to the end of the history, linearized only if some later operation needs its effect — Knossos's
 * and Porcupine's "return at +∞", with "never took effect" as the default rather than a branch.
 *
 * Lowe's memoisation applies as for Wing & Gong: a configuration — the next event, the model
 * state, the pending set (which, with the next event, fixes the linearized set) — that was
 * explored once failed, since a success ends the search. The search is iterative (a stack of
 * frames, no recursion) so long histories cannot overflow the call stack.
 */
import { UNKNOWN, type Model, type Operation } from './model.js';

/** Thrown when the budget runs out; the caller turns it into an "unknown" verdict. */
export class JitOutOfBudget {
  constructor(readonly reason: string) {}
}

export interface JitBudget {
  readonly maxSteps?: number;
  readonly maxCacheEntries?: number;
  readonly deadline?: number;
  readonly now?: () => number;
}

interface Frame<S> {
  readonly event: number;
  readonly state: S;
  readonly pending: readonly number[];
  /** The operation whose return forces this configuration; candidates[0]. */
  readonly candidates: readonly number[];
  cursor: number;
}

interface CacheEntry<S> {
  readonly event: number;
  readonly state: S;
  /** The pending set, sorted. */
  readonly pending: Int32Array;
}

const DEFAULT_MAX_CACHE = 2_000_000;

/** Decides one part: 'ok' if it has a linearization, 'illegal' if not; throws JitOutOfBudget. */
export function jitSearch<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: JitBudget, counter: { steps: number }): 'ok' | 'illegal' {
  const n = ops.length;
  // Events: op i's call is 2i, its return 2i+1; unknown outputs have no return. Time order, calls
  // before returns at equal times (closed intervals: touching operations are concurrent).
  const events: number[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i] as Operation<I, O>;
    if (op.output !== UNKNOWN && !(op.return >= op.call)) throw new RangeError(`operation ${i} returns (${op.return}) before it is called (${op.call})`);
    events.push(2 * i);
    if (op.output !== UNKNOWN) events.push(2 * i + 1);
  }
  const time = (e: number): number => {
    const op = ops[e >> 1] as Operation<I, O>;
    return (e & 1) === 0 ? op.call : op.return;
  };
  events.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);

  const zobrist = new Uint32Array(n);
  let seed = 0x2545f491;
  for (let i = 0; i < n; i++) {
    seed = (seed + 0x9e3779b9) | 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    zobrist[i] = (z ^ (z >>> 16)) >>> 0;
  }
  const cache = new Map<number, CacheEntry<S>[]>();
  let entries = 0;
  const maxEntries = budget.maxCacheEntries ?? DEFAULT_MAX_CACHE;

  /** Adds the configuration to the cache; false if it was there (explored, and failed). */
  const remember = (event: number, state: S, pending: readonly number[]): boolean => {
    let h = Math.imul(event + 1, 0x9e3779b1) ^ Math.imul(model.hash(state) | 0, 0x85ebca6b);
    for (const p of pending) h ^= zobrist[p] as number;
    const sorted = Int32Array.from(pending).sort();
    const bucket = cache.get(h);
    if (bucket !== undefined) {
      for (const e of bucket) {
        if (e.event === event && e.pending.length === sorted.length && e.pending.every((p, k) => p === sorted[k]) && model.equal(e.state, state)) return false;
      }
    }
    if (++entries > maxEntries) throw new JitOutOfBudget(`the cache outgrew its budget of ${maxEntries} configurations`);
    const entry = { event, state, pending: sorted };
    if (bucket === undefined) cache.set(h, [entry]);
    else bucket.push(entry);
    return true;
  };

  const tick = (): void => {
    const c = ++counter.steps;
    if (budget.maxSteps !== undefined && c > budget.maxSteps) throw new JitOutOfBudget(`the search took more than its budget of ${budget.maxSteps} model steps`);
    if ((c & 255) === 0 && budget.deadline !== undefined && budget.now !== undefined && budget.now() > budget.deadline) throw new JitOutOfBudget('the search ran past its deadline');
  };

  /**
   * Walks from `event` with `pending` (taken over, extended in place) to the next return of an
   * operation still pending: the frame that must linearize it. undefined: the history ended, with
   * every known operation linearized — success.
   */
  const advance = (event: number, state: S, pending: number[]): Frame<S> | undefined => {
    for (let e = event; e < events.length; e++) {
      const ev = events[e] as number;
      const op = ev >> 1;
      if ((ev & 1) === 0) {
        pending.push(op);
        continue;
      }
      if (!pending.includes(op)) continue; // linearized before its return
      return { event: e, state, pending, candidates: [op, ...pending.filter((p) => p !== op)], cursor: 0 };
    }
    return undefined;
  };

  const first = advance(0, model.init(), []);
  if (first === undefined) return 'ok';
  remember(first.event, first.state, first.pending);
  const stack: Frame<S>[] = [first];
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame<S>;
    if (f.cursor >= f.candidates.length) {
      stack.pop();
      continue;
    }
    const c = f.candidates[f.cursor++] as number;
    const op = ops[c] as Operation<I, O>;
    tick();
    const [ok, next] = model.step(f.state, op.input, op.output);
    if (!ok) continue;
    const pending = f.pending.filter((p) => p !== c);
    // Linearizing the forced operation passes its return; any other stays before it.
    const child = advance(c === f.candidates[0] ? f.event + 1 : f.event, next, pending);
    if (child === undefined) return 'ok';
    if (!remember(child.event, child.state, child.pending)) continue;
    stack.push(child);
  }
  return 'illegal';
}

/**
 * A linearizability checker: Wing & Gong's search for a linearization, with Lowe's improvements
 * ("Testing for linearizability", 2017) — a cache of configurations already explored, keyed by the
 * set of operations linearized so far and the model state they led to, and P-compositionality
 * (each part of a partitioned history, e.g. each key, is checked on its own).
 *
 * The search walks the history's call and return events in time order as a doubly linked list. At
 * a call it tries to linearize that operation next: if the model accepts its output in the current
 * state and the (linearized set, new state) pair has not been seen, the operation's call and return
 * are lifted out of the list, the step is pushed on a stack and the walk restarts from the front.
 * Reaching a return means the operation that returns there cannot be put off any longer, yet
 * nothing linearized it: pop the last step, put its events back and try the next candidate after
 * it. An empty list is a linearization; an empty stack at a return means there is none.
 *
 * Pure: no clock. A time budget works through a `now()` the caller passes.
 */
import { UNKNOWN, type Model, type Operation } from './model.js';

export interface CheckBudget {
  /** At most this many model steps over the whole history. */
  readonly maxSteps?: number;
  /**
   * At most this many cached configurations per part; default 2,000,000 (each takes its state and
   * one bit per operation of its part).
   */
  readonly maxCacheEntries?: number;
  /** Give up when `now()` passes this (any unit, as long as `now` uses it too). */
  readonly deadline?: number;
  readonly now?: () => number;
}

export interface CheckOptions {
  readonly budget?: CheckBudget;
}

/** An operation of a counterexample, with where it sits in the history. */
export interface Step<I, O> {
  /** Index in the part's operations. */
  readonly index: number;
  readonly op: Operation<I, O>;
  readonly description: string;
}

export interface Counterexample<S, I, O> {
  /** The part (e.g. key) whose history has no linearization. */
  readonly partition: string;
  /** How many operations that part has. */
  readonly operations: number;
  /** The longest prefix the search could linearize, in order, with the state after each. */
  readonly linearized: readonly (Step<I, O> & { readonly state: string })[];
  readonly state: S;
  /**
   * The operations that could come next after that prefix (their calls precede the earliest
   * pending return) and why none can: the model refuses its output in that state.
   */
  readonly blocked: readonly (Step<I, O> & { readonly reason: string })[];
  /** A few sentences for a person. */
  readonly explanation: string;
}

export type CheckResult<S, I, O> =
  | { readonly result: 'ok'; readonly partitions: number; readonly steps: number }
  | { readonly result: 'illegal'; readonly partitions: number; readonly steps: number; readonly counterexample: Counterexample<S, I, O> }
  | { readonly result: 'unknown'; readonly partitions: number; readonly steps: number; readonly reason: string };

class OutOfBudget {
  constructor(readonly reason: string) {}
}

interface Counter {
  steps: number;
}

export function checkOperations<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], options: CheckOptions = {}): CheckResult<S, I, O> {
  const parts = model.partition !== undefined ? model.partition(history) : [{ key: '', ops: [...history] }];
  const counter: Counter = { steps: 0 };
  const budget = options.budget ?? {};
  // Small parts first: an illegal one is found sooner, and a budget runs out on the big ones.
  const order = parts.map((_p, i) => i).sort((a, b) => (parts[a] as { ops: unknown[] }).ops.length - (parts[b] as { ops: unknown[] }).ops.length || a - b);
  for (const i of order) {
    const part = parts[i] as { key: string; ops: Operation<I, O>[] };
    let verdict: 'ok' | 'illegal';
    try {
      verdict = new Search(model, part.ops, budget, counter, false).run();
    } catch (e) {
      if (e instanceof OutOfBudget) return { result: 'unknown', partitions: parts.length, steps: counter.steps, reason: `${e.reason} (in part ${JSON.stringify(part.key)}, ${part.ops.length} operations)` };
      throw e;
    }
    if (verdict === 'illegal') {
      // Search again recording the longest prefix: free when the history is fine, as it usually is.
      const again = new Search(model, part.ops, { maxCacheEntries: budget.maxCacheEntries ?? DEFAULT_MAX_CACHE }, { steps: 0 }, true);
      again.run();
      return { result: 'illegal', partitions: parts.length, steps: counter.steps, counterexample: again.counterexample(part.key) };
    }
  }
  return { result: 'ok', partitions: parts.length, steps: counter.steps };
}

const NONE = -1;
const DEFAULT_MAX_CACHE = 2_000_000;

/** The search over one part. Events are numbered: op i has call event 2i and return event 2i+1. */
class Search<S, I, O> {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** The head sentinel's index in next/prev. */
  private readonly head: number;
  private readonly bits: Uint32Array;
  private bitsHash = 0;
  private readonly zobrist: Uint32Array;
  /**
   * The cache: hash → entry numbers (a single number, or a list when hashes collide); entry e's
   * linearized set is words [e·w, (e+1)·w) of `pool`, its state `states[e]`. One pooled array
   * keeps an entry to its bits plus a pointer, which matters at millions of entries.
   */
  private readonly cache = new Map<number, number | number[]>();
  private readonly words: number;
  private pool: Uint32Array;
  private readonly states: S[] = [];
  private best: number[] = [];
  private bestStates: S[] = [];

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly ops: readonly Operation<I, O>[],
    private readonly budget: CheckBudget,
    private readonly counter: Counter,
    private readonly recordBest: boolean,
  ) {
    const n = ops.length;
    this.head = 2 * n;
    this.next = new Int32Array(2 * n + 1);
    this.prev = new Int32Array(2 * n + 1);
    this.words = (n + 31) >>> 5;
    this.bits = new Uint32Array(this.words);
    this.pool = new Uint32Array(Math.max(1, this.words) * 1024);
    this.zobrist = new Uint32Array(n);
    let seed = 0x9e3779b9;
    for (let i = 0; i < n; i++) {
      // splitmix32: fixed, so runs are reproducible.
      seed = (seed + 0x9e3779b9) | 0;
      let z = seed;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.zobrist[i] = (z ^ (z >>> 16)) >>> 0;
    }
    // Events in time order; at equal times calls come first (closed intervals), then by op order.
    const events: number[] = [];
    for (let i = 0; i < n; i++) events.push(2 * i, 2 * i + 1);
    const time = (e: number): number => {
      const op = ops[e >> 1] as Operation<I, O>;
      if ((e & 1) === 0) return op.call;
      return op.output === UNKNOWN ? Infinity : op.return;
    };
    for (let i = 0; i < n; i++) {
      const op = ops[i] as Operation<I, O>;
      if (op.output !== UNKNOWN && !(op.return >= op.call)) {
        throw new RangeError(`operation ${i} returns (${op.return}) before it is called (${op.call})`);
      }
    }
    events.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);
    let last = this.head;
    for (const e of events) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
    this.next[last] = NONE;
  }

  private lift(call: number): void {
    const { next, prev } = this;
    next[prev[call] as number] = next[call] as number;
    const nc = next[call] as number;
    if (nc !== NONE) prev[nc] = prev[call] as number;
    const ret = call + 1;
    next[prev[ret] as number] = next[ret] as number;
    const nr = next[ret] as number;
    if (nr !== NONE) prev[nr] = prev[ret] as number;
  }

  private unlift(call: number): void {
    const { next, prev } = this;
    const ret = call + 1;
    next[prev[ret] as number] = ret;
    const nr = next[ret] as number;
    if (nr !== NONE) prev[nr] = ret;
    next[prev[call] as number] = call;
    const nc = next[call] as number;
    if (nc !== NONE) prev[nc] = call;
  }

  private toggle(op: number): void {
    this.bits[op >>> 5] = ((this.bits[op >>> 5] as number) ^ (1 << (op & 31))) >>> 0;
    this.bitsHash ^= this.zobrist[op] as number;
  }

  /** Adds (linearized set, state) to the cache; false if it was there. */
  private remember(state: S): boolean {
    const key = (this.bitsHash ^ Math.imul(this.model.hash(state) | 0, 0x9e3779b1)) | 0;
    const found = this.cache.get(key);
    if (found !== undefined) {
      if (typeof found === 'number') {
        if (this.same(found, state)) return false;
      } else {
        for (const e of found) if (this.same(e, state)) return false;
      }
    }
    const e = this.states.length;
    if (e >= (this.budget.maxCacheEntries ?? DEFAULT_MAX_CACHE)) {
      throw new OutOfBudget(`the cache outgrew its budget of ${this.budget.maxCacheEntries ?? DEFAULT_MAX_CACHE} configurations`);
    }
    const w = this.words;
    if ((e + 1) * w > this.pool.length) {
      const bigger = new Uint32Array(this.pool.length * 2);
      bigger.set(this.pool);
      this.pool = bigger;
    }
    this.pool.set(this.bits, e * w);
    this.states.push(state);
    if (found === undefined) this.cache.set(key, e);
    else if (typeof found === 'number') this.cache.set(key, [found, e]);
    else found.push(e);
    return true;
  }

  private same(e: number, state: S): boolean {
    const { pool, bits, words } = this;
    const at = e * words;
    for (let i = 0; i < words; i++) if (pool[at + i] !== bits[i]) return false;
    return this.model.equal(this.states[e] as S, state);
  }

  private tick(): void {
    const c = ++this.counter.steps;
    const b = this.budget;
    if (b.maxSteps !== undefined && c > b.maxSteps) throw new OutOfBudget(`the search took more than its budget of ${b.maxSteps} model steps`);
    if ((c & 255) === 0 && b.deadline !== undefined && b.now !== undefined && b.now() > b.deadline) {
      throw new OutOfBudget('the search ran past its deadline');
    }
  }

  run(): 'ok' | 'illegal' {
    const { next, head, ops, model } = this;
    const readOnly = model.readOnly?.bind(model);
    const stack: { call: number; state: S; settles: boolean }[] = [];
    let state = model.init();
    let entry = next[head] as number;
    let failing = false;
    while (next[head] !== NONE) {
      if (!failing && (entry & 1) === 0) {
        const op = ops[entry >> 1] as Operation<I, O>;
        this.tick();
        const [ok, after] = model.step(state, op.input, op.output);
        if (ok) {
          // A read-only operation (model.readOnly) that may come next and leaves the state as it
          // is can always go first: in any linearization of the rest, moving it to the front keeps
          // every step valid (where it stood it only ruled states out). So if the configuration
          // with it fails, so does this one, and its alternatives need no search.
          const settles = readOnly !== undefined && readOnly(op.input, op.output) && model.equal(after, state);
          this.toggle(entry >> 1);
          if (this.remember(after)) {
            stack.push({ call: entry, state, settles });
            state = after;
            this.lift(entry);
            if (this.recordBest && stack.length > this.best.length) this.noteBest(stack, state);
            entry = next[head] as number;
            continue;
          }
          this.toggle(entry >> 1);
          // Seen before means explored and failed (a success would have ended the search).
          if (settles) {
            failing = true;
            continue;
          }
        }
        entry = next[entry] as number;
      } else {
        // A return no linearized operation covers, or a configuration known to fail: backtrack.
        failing = false;
        const top = stack.pop();
        if (top === undefined) return 'illegal';
        state = top.state;
        this.toggle(top.call >> 1);
        this.unlift(top.call);
        if (top.settles) {
          failing = true;
          continue;
        }
        entry = next[top.call] as number;
      }
    }
    return 'ok';
  }

  private noteBest(stack: readonly { call: number; state: S; settles: boolean }[], state: S): void {
    this.best = stack.map((s) => s.call >> 1);
    this.bestStates = stack.map((_s, i) => (i + 1 < stack.length ? (stack[i + 1] as { state: S }).state : state));
  }

  counterexample(partition: string): Counterexample<S, I, O> {
    const { model, ops } = this;
    const desc = (i: number): string => {
      const op = ops[i] as Operation<I, O>;
      const what = model.describeOperation !== undefined ? model.describeOperation(op.input, op.output) : `${JSON.stringify(op.input, bigints)} → ${op.output === UNKNOWN ? 'unknown' : JSON.stringify(op.output, bigints)}`;
      const when = op.output === UNKNOWN ? `[${op.call}, …)` : `[${op.call}, ${op.return}]`;
      return `${what} ${when}${op.client !== undefined ? ` by client ${op.client}` : ''}`;
    };
    const showState = (s: S): string => (model.describeState !== undefined ? model.describeState(s) : JSON.stringify(s, bigints));
    const state = this.bestStates.length > 0 ? (this.bestStates[this.bestStates.length - 1] as S) : model.init();
    const linearized = this.best.map((i, k) => ({ index: i, op: ops[i] as Operation<I, O>, description: desc(i), state: showState(this.bestStates[k] as S) }));
    // The candidates after the prefix: pending operations called before the earliest pending return.
    const done = new Set(this.best);
    let earliestReturn = Infinity;
    for (let i = 0; i < ops.length; i++) {
      if (done.has(i)) continue;
      const op = ops[i] as Operation<I, O>;
      earliestReturn = Math.min(earliestReturn, op.output === UNKNOWN ? Infinity : op.return);
    }
    const blocked: (Step<I, O> & { reason: string })[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as Operation<I, O>;
      if (done.has(i) || op.call > earliestReturn) continue;
      const [ok] = model.step(state, op.input, op.output);
      blocked.push({
        index: i,
        op,
        description: desc(i),
        reason: ok ? 'its output fits this state, but every order of the operations after it fails' : 'its output is impossible in this state',
      });
    }
    const lines = [
      `The operations on ${JSON.stringify(partition)} (${ops.length} of them) have no linearization.`,
      linearized.length === 0
        ? 'Not even the first operation can be linearized from the initial state.'
        : `The longest linearizable prefix has ${linearized.length} operation(s), ending with ${(linearized[linearized.length - 1] as { description: string }).description}, leaving the state ${showState(state)}.`,
      'None of these can come next:',
      ...blocked.map((b) => `  - ${b.description}: ${b.reason}`),
    ];
    return { partition, operations: ops.length, linearized, state, blocked, explanation: lines.join('\n') };
  }
}

function bigints(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/**
 * What the linearizability checker checks against: a sequential specification (a model) and a
 * history of operations with real-time intervals.
 */

/** The output of an operation whose client never learned it (a timeout, a dropped connection). */
export const UNKNOWN: unique symbol = Symbol('unknown output');
export type Unknown = typeof UNKNOWN;

/**
 * One operation: invoked at `call`, answered at `return` (closed interval: operations whose
 * intervals touch are concurrent). An UNKNOWN output may have taken effect at any point after its
 * call or never: its return is taken as the end of the history whatever `return` says.
 */
export interface Operation<I, O> {
  readonly client?: number;
  readonly input: I;
  readonly call: number;
  readonly output: O | Unknown;
  readonly return: number;
}

/**
 * A sequential specification. `step` must be pure (never change `state`), and say whether `output`
 * is a possible answer to `input` in `state` and what state follows; with an UNKNOWN output, every
 * answer is possible. Equal states must have equal hashes.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, input: I, output: O | Unknown): [ok: boolean, next: S];
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  /**
   * Splits a history into independent parts (P-compositionality: a history is linearizable iff
   * every part is), e.g. per key; operations may be split too (a multi-key read into one read per
   * key). Default: one part.
   */
  partition?(history: readonly Operation<I, O>[]): { key: string; ops: Operation<I, O>[] }[];
  /**
   * Whether this operation, with this output, only observes: in every state where its step
   * succeeds, whatever can follow the state after it could also follow the state before it (a
   * read, or a write whose output says it did nothing). The checker then linearizes such an
   * operation as soon as it may and fits, without trying the alternatives. Optional: without it
   * the search tries everything. A write whose output is unknown must not be called read-only: it
   * may do nothing now and something later.
   */
  readOnly?(input: I, output: O | Unknown): boolean;
  describeOperation?(input: I, output: O | Unknown): string;
  describeState?(state: S): string;
}

/** A model whose step may lead to several states (e.g. an unknown output that hides which branch ran). */
export interface NondeterministicModel<S, I, O> {
  init(): S;
  /** Every state that can follow; none when `output` is impossible. Pure. */
  step(state: S, input: I, output: O | Unknown): S[];
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  partition?: Model<S, I, O>['partition'];
  readOnly?: Model<S, I, O>['readOnly'];
  describeOperation?(input: I, output: O | Unknown): string;
  describeState?(state: S): string;
}

/**
 * The deterministic model over sets of states (the power-set construction): its state is every
 * state the nondeterministic model could be in, duplicates merged.
 */
export function determinize<S, I, O>(m: NondeterministicModel<S, I, O>): Model<readonly S[], I, O> {
  const hashSet = (states: readonly S[]): number => {
    // Order-independent: a sum of mixed element hashes.
    let h = 0;
    for (const s of states) h = (h + mix32(m.hash(s))) | 0;
    return h;
  };
  const model: Model<readonly S[], I, O> = {
    init: () => [m.init()],
    step(states, input, output) {
      const next: S[] = [];
      for (const s of states) {
        for (const t of m.step(s, input, output)) {
          if (!next.some((u) => m.equal(u, t))) next.push(t);
        }
      }
      return [next.length > 0, next];
    },
    hash: hashSet,
    equal(a, b) {
      if (a.length !== b.length) return false;
      return a.every((s) => b.some((t) => m.equal(s, t)));
    },
    describeState: (states) => (states.length === 1 ? describe(m, states[0] as S) : `one of: ${states.map((s) => describe(m, s)).join(' | ')}`),
  };
  if (m.partition !== undefined) model.partition = m.partition.bind(m);
  // Read-only for every state is read-only for every set of states: the set can only shrink or
  // its members only allow less.
  if (m.readOnly !== undefined) model.readOnly = m.readOnly.bind(m);
  if (m.describeOperation !== undefined) model.describeOperation = m.describeOperation.bind(m);
  return model;
}

function describe<S, I, O>(m: NondeterministicModel<S, I, O>, s: S): string {
  return m.describeState !== undefined ? m.describeState(s) : JSON.stringify(s);
}

/** A 32-bit finalizer (murmur3's): spreads hash bits. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over a string's char codes, for model hashes. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * memcached's single-key commands as a sequential specification for the checker, one key per
 * part (a multi-key get is split into one get per key).
 *
 * CAS uniques: a client learns some of them (gets, binary replies) but not all (a text set does not
 * say which it got), and a server draws them from one counter, so on any key each new version has
 * a larger CAS unique than the one before. The model keeps the current version's CAS when a reply
 * revealed it and otherwise a floor it must exceed; that is exact enough to catch a cas that
 * succeeds with a stale unique (it is at most the floor) without refusing any real history.
 *
 * Items never expire here: histories for this model use exptime 0 (touch only checks existence).
 * Values are byte strings (one char per byte).
 */
import { bytesToKey, keyToBytes, type Key } from '../bytes.js';
import { assertNever, type KvCommand, type KvResult } from '../command.js';
import { parseU64 } from '../numbers.js';
import { determinize, hashString, mix32, UNKNOWN, type Model, type NondeterministicModel, type Operation, type Unknown } from './model.js';

export type McInput =
  | { readonly op: 'get'; readonly keys: readonly Key[] }
  | { readonly op: 'set' | 'add' | 'replace' | 'append' | 'prepend'; readonly key: Key; readonly value: string; readonly flags?: number }
  | { readonly op: 'cas'; readonly key: Key; readonly value: string; readonly cas: number; readonly flags?: number }
  | { readonly op: 'delete'; readonly key: Key }
  | { readonly op: 'incr' | 'decr'; readonly key: Key; readonly delta: bigint; readonly initial?: bigint }
  | { readonly op: 'touch'; readonly key: Key };

export interface McHit {
  readonly key: Key;
  readonly value: string;
  readonly flags?: number;
  /** Known for gets and the binary protocol's get. */
  readonly cas?: number;
}

export type McOutput =
  | { readonly status: 'values'; readonly hits: readonly McHit[] }
  | { readonly status: 'stored'; readonly cas?: number }
  | { readonly status: 'not_stored' }
  | { readonly status: 'exists' }
  | { readonly status: 'not_found' }
  | { readonly status: 'deleted' }
  | { readonly status: 'touched' }
  | { readonly status: 'number'; readonly value: bigint; readonly cas?: number }
  | { readonly status: 'non_numeric' };

/** One key's state. */
export interface KeyState {
  readonly exists: boolean;
  readonly value: string;
  readonly flags: number;
  /** The current version's CAS unique if a reply showed it, else 0. */
  readonly cas: number;
  /** Every CAS unique handed out on this key so far is at most this (the current one above it if unknown). */
  readonly floor: number;
}

const ABSENT: KeyState = { exists: false, value: '', flags: 0, cas: 0, floor: 0 };

/** The highest CAS unique known to have been used on the key. */
function top(s: KeyState): number {
  return Math.max(s.cas, s.floor);
}

/** A new version: its CAS unique, when the reply told it, must exceed every earlier one. */
function version(s: KeyState, value: string, flags: number, cas: number | undefined, floor = top(s)): KeyState[] {
  if (cas !== undefined && cas <= floor) return [];
  return [{ exists: true, value, flags, cas: cas ?? 0, floor }];
}

function keyOf(input: McInput): Key {
  return input.op === 'get' ? (input.keys[0] as Key) : input.key;
}

function status(o: McOutput | Unknown): McOutput['status'] | 'unknown' {
  return o === UNKNOWN ? 'unknown' : o.status;
}

const nondeterministic: NondeterministicModel<KeyState, McInput, McOutput> = {
  init: () => ABSENT,

  step(s, input, output): KeyState[] {
    const st = status(output);
    const unknown = st === 'unknown';
    const out = output === UNKNOWN ? undefined : output;
    switch (input.op) {
      case 'get': {
        if (unknown) return [s];
        if (out?.status !== 'values') return [];
        const key = input.keys[0] as Key;
        const hit = out.hits.find((h) => h.key === key);
        if (hit === undefined) return s.exists ? [] : [s];
        if (!s.exists || hit.value !== s.value) return [];
        if (hit.flags !== undefined && hit.flags !== s.flags) return [];
        if (hit.cas === undefined) return [s];
        if (s.cas !== 0) return hit.cas === s.cas ? [s] : [];
        return hit.cas > s.floor ? [{ ...s, cas: hit.cas }] : [];
      }
      case 'set':
        if (unknown) return version(s, input.value, input.flags ?? 0, undefined);
        return out?.status === 'stored' ? version(s, input.value, input.flags ?? 0, out.cas) : [];
      case 'add':
      case 'replace':
      case 'append':
      case 'prepend': {
        const stores = input.op === 'add' ? !s.exists : s.exists;
        const value = input.op === 'append' ? s.value + input.value : input.op === 'prepend' ? input.value + s.value : input.value;
        // append/prepend keep the item's flags.
        const flags = input.op === 'append' || input.op === 'prepend' ? s.flags : (input.flags ?? 0);
        if (unknown) return stores ? version(s, value, flags, undefined) : [s];
        if (out?.status === 'stored') return stores ? version(s, value, flags, out.cas) : [];
        return out?.status === 'not_stored' && !stores ? [s] : [];
      }
      case 'cas': {
        if (!s.exists) return unknown || st === 'not_found' ? [s] : [];
        const canSucceed = s.cas !== 0 ? input.cas === s.cas : input.cas > s.floor;
        const canFail = s.cas !== 0 ? input.cas !== s.cas : true;
        // On success the old version's unique was input.cas, so the new one is above it.
        const success = canSucceed ? version(s, input.value, input.flags ?? 0, out?.status === 'stored' ? out.cas : undefined, Math.max(top(s), input.cas)) : [];
        if (unknown) return canFail ? [s, ...success] : success;
        if (st === 'stored') return success;
        return st === 'exists' && canFail ? [s] : [];
      }
      case 'delete':
        if (!s.exists) return unknown || st === 'not_found' ? [s] : [];
        return unknown || st === 'deleted' ? [{ ...ABSENT, floor: top(s) }] : [];
      case 'touch':
        if (unknown) return [s];
        return (s.exists ? st === 'touched' : st === 'not_found') ? [s] : [];
      case 'incr':
      case 'decr': {
        if (!s.exists) {
          if (input.initial === undefined) return unknown || st === 'not_found' ? [s] : [];
          if (unknown) return version(s, input.initial.toString(), 0, undefined);
          if (out?.status !== 'number' || out.value !== input.initial) return [];
          return version(s, input.initial.toString(), 0, out.cas);
        }
        const current = s.value.length === 0 ? null : parseU64(keyToBytes(s.value));
        if (current === null) return unknown || st === 'non_numeric' ? [s] : [];
        const next = input.op === 'incr' ? BigInt.asUintN(64, current + input.delta) : input.delta > current ? 0n : current - input.delta;
        const digits = next.toString();
        // memcached rewrites a number that got no longer in place, padded with spaces.
        const value = digits.length <= s.value.length ? digits.padEnd(s.value.length, ' ') : digits;
        if (unknown) return version(s, value, s.flags, undefined);
        if (out?.status !== 'number' || out.value !== next) return [];
        return version(s, value, s.flags, out.cas);
      }
      default:
        return assertNever(input);
    }
  },

  hash(s) {
    return mix32(hashString(s.value) ^ Math.imul(s.flags, 0x27d4eb2d) ^ (s.exists ? 0x5bd1e995 : 0) ^ Math.imul(s.cas, 0x165667b1) ^ Math.imul(s.floor + 1, 0x61c88647));
  },

  equal(a, b) {
    return a.exists === b.exists && a.value === b.value && a.flags === b.flags && a.cas === b.cas && a.floor === b.floor;
  },

  partition(history) {
    const parts = new Map<Key, Operation<McInput, McOutput>[]>();
    const add = (key: Key, op: Operation<McInput, McOutput>): void => {
      let list = parts.get(key);
      if (list === undefined) parts.set(key, (list = []));
      list.push(op);
    };
    for (const op of history) {
      const input = op.input;
      if (input.op !== 'get' || input.keys.length === 1) {
        add(keyOf(input), op);
        continue;
      }
      // A multi-key get is one get per (distinct) key, over the same interval.
      for (const key of new Set(input.keys)) {
        const out = op.output;
        const output: McOutput | Unknown =
          out === UNKNOWN || out.status !== 'values' ? out : { status: 'values', hits: out.hits.filter((h) => h.key === key).slice(0, 1) };
        add(key, { ...op, input: { op: 'get', keys: [key] }, output });
      }
    }
    return [...parts.entries()].map(([key, ops]) => ({ key, ops }));
  },

  readOnly(input, output) {
    if (input.op === 'get' || input.op === 'touch') return true;
    if (output === UNKNOWN) return false;
    const st = output.status;
    return st === 'not_stored' || st === 'exists' || st === 'not_found' || st === 'non_numeric';
  },

  describeOperation(input, output) {
    const k = JSON.stringify(input.op === 'get' ? input.keys.join(' ') : input.key);
    let call: string;
    switch (input.op) {
      case 'get':
        call = `get ${k}`;
        break;
      case 'cas':
        call = `cas ${k} ${JSON.stringify(input.value)} unique ${input.cas}`;
        break;
      case 'incr':
      case 'decr':
        call = `${input.op} ${k} ${input.delta}${input.initial !== undefined ? ` initial ${input.initial}` : ''}`;
        break;
      case 'delete':
      case 'touch':
        call = `${input.op} ${k}`;
        break;
      default:
        call = `${input.op} ${k} ${JSON.stringify(input.value)}`;
    }
    return `${call} → ${describeOutput(output)}`;
  },

  describeState(s) {
    if (!s.exists) return 'absent';
    return `${JSON.stringify(s.value)} (flags ${s.flags}, CAS ${s.cas !== 0 ? s.cas : `above ${s.floor}`})`;
  },
};

function describeOutput(o: McOutput | Unknown): string {
  if (o === UNKNOWN) return 'unknown (timed out)';
  switch (o.status) {
    case 'values':
      return o.hits.length === 0 ? 'miss' : o.hits.map((h) => `${JSON.stringify(h.value)}${h.cas !== undefined ? ` CAS ${h.cas}` : ''}`).join(', ');
    case 'stored':
      return o.cas !== undefined ? `stored (CAS ${o.cas})` : 'stored';
    case 'number':
      return `${o.value}`;
    default:
      return o.status;
  }
}

/** The memcached model (per key; states are sets of KeyState, for outputs that hide a branch). */
export const memcachedModel: Model<readonly KeyState[], McInput, McOutput> = determinize(nondeterministic);

/**
 * A KV command as the model's input, or null for what the model does not cover (flush_all,
 * sessions, an oversized set). A gat counts as a get (the model has no expiry).
 */
export function modelInput(cmd: KvCommand): McInput | null {
  switch (cmd.op) {
    case 'get':
    case 'gat':
      return { op: 'get', keys: cmd.keys };
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
      return { op: cmd.op, key: cmd.key, value: bytesToKey(cmd.value), flags: cmd.flags };
    case 'cas':
      return { op: 'cas', key: cmd.key, value: bytesToKey(cmd.value), cas: Number(cmd.cas), flags: cmd.flags };
    case 'delete':
    case 'touch':
      return { op: cmd.op, key: cmd.key };
    case 'incr':
    case 'decr':
      return cmd.initial !== undefined ? { op: cmd.op, key: cmd.key, delta: cmd.delta, initial: cmd.initial.value } : { op: cmd.op, key: cmd.key, delta: cmd.delta };
    case 'flush_all':
    case 'register':
    case 'oversized_set':
      return null;
    default:
      return assertNever(cmd);
  }
}

/**
 * A KV result as the model's output, or null for results that are not answers (session and
 * validity failures: nothing was applied). `showsCas` false drops CAS uniques a text client would
 * not see (get, set).
 */
export function modelOutput(r: KvResult, showsCas = true): McOutput | null {
  switch (r.status) {
    case 'values':
      return { status: 'values', hits: r.hits.map((h) => (showsCas ? { key: h.key, value: bytesToKey(h.value), flags: h.flags, cas: h.cas } : { key: h.key, value: bytesToKey(h.value), flags: h.flags })) };
    case 'stored':
      return showsCas ? { status: 'stored', cas: r.cas } : { status: 'stored' };
    case 'number':
      return showsCas ? { status: 'number', value: r.value, cas: r.cas } : { status: 'number', value: r.value };
    case 'not_stored':
    case 'exists':
    case 'not_found':
    case 'deleted':
    case 'touched':
    case 'non_numeric':
      return { status: r.status };
    case 'too_large':
    case 'out_of_memory':
    case 'ok':
    case 'session':
    case 'session_unknown':
    case 'session_stale':
    case 'session_busy':
    case 'invalid':
      return null;
    default:
      return assertNever(r);
  }
}

import { bytesEqual, decodeBatch, isControlValue, type CoreEvent } from '@libpaxos/paxos-core';

/**
 * Where a proposed value was delivered: its instance and its position in that instance's batch,
 * and what the replica's state machine returned for it (undefined without one).
 */
export interface Proposed<R = undefined> {
  readonly iid: number;
  readonly index: number;
  readonly result: R;
}

/**
 * Whether `value` is one the core keeps for itself (a control value: paxos-core's
 * `isControlValue`), so no client may propose it: a client value equal to the no-op (or the empty
 * no-op of earlier builds) would be skipped by every learner and vanish, and one equal to a master
 * operation or a checkpoint report would be acted on instead of delivered.
 */
export function isReservedValue(value: Uint8Array): boolean {
  return isControlValue(value);
}

interface Entry<R> {
  readonly value: Uint8Array;
  readonly resolve: (p: Proposed<R>) => void;
  readonly reject: (e: Error) => void;
}

/**
 * The proposals a process waits to see delivered, matched to deliveries by bytes (the only value
 * equality LibPaxos3 knows; among equal bytes, first proposed, first matched). Bounded: beyond
 * `limit` waiting proposals a new one is refused, so an application that proposes faster than the
 * cluster decides, or whose values go to a replica that dies, cannot grow this without end.
 */
export class PendingProposals<R = undefined> {
  /** By a hash of the bytes; each bucket in proposal order. */
  private readonly buckets = new Map<number, Entry<R>[]>();
  private count = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Waits for `value`; undefined (nothing added) when `limit` proposals are already waiting. */
  add(value: Uint8Array): Promise<Proposed<R>> | undefined {
    if (this.count >= this.limit) return undefined;
    return new Promise<Proposed<R>>((resolve, reject) => {
      const key = hash(value);
      const bucket = this.buckets.get(key);
      const entry = { value, resolve, reject };
      if (bucket === undefined) this.buckets.set(key, [entry]);
      else bucket.push(entry);
      this.count++;
    });
  }

  /** A value this process delivered: resolves the oldest proposal with the same bytes. */
  delivered(iid: number, index: number, value: Uint8Array, result?: R): void {
    if (this.count === 0) return;
    this.take(value)?.resolve({ iid, index, result: result as R });
  }

  /**
   * A core event: a `value-lost` event means the local proposer refused or gave up a value (or a
   * batch of them); each matching proposal is rejected with the reason.
   */
  event(e: CoreEvent): void {
    if (this.count === 0 || e.kind !== 'value-lost') return;
    const reason = LOSS[e.reason];
    // A value given up after it had an instance is the batch it travelled in when batching is on.
    const values = e.iid > 0 ? (decodeBatch(e.value) ?? [e.value]) : [e.value];
    for (const v of values) this.take(v)?.reject(new Error(reason));
  }

  /** Rejects every waiting proposal (the process closes or failed). */
  rejectAll(reason: string): void {
    const all = [...this.buckets.values()].flat();
    this.buckets.clear();
    this.count = 0;
    for (const e of all) e.reject(new Error(reason));
  }

  private take(value: Uint8Array): Entry<R> | undefined {
    const key = hash(value);
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return undefined;
    const at = bucket.findIndex((e) => bytesEqual(e.value, value));
    if (at < 0) return undefined;
    const [entry] = bucket.splice(at, 1);
    if (bucket.length === 0) this.buckets.delete(key);
    this.count--;
    return entry;
  }
}

const LOSS: Record<Extract<CoreEvent, { kind: 'value-lost' }>['reason'], string> = {
  'queue-full': "the local proposer's queue is full; propose again later",
  reserved: 'the value is reserved (an empty value, the no-op, a master operation or a checkpoint report); propose another value',
  'iid-space-exhausted': 'every instance id up to 4294967295 (LibPaxos3 uses 32 bits) is in use; start a new cluster',
  'outcome-unknown': 'its instance was trimmed before this replica learned whether it was chosen; it may or may not have been',
  'ballot-exhausted': 'a peer claimed a ballot so high that no higher one fits in 32 bits; the value was not proposed further',
};

/** FNV-1a over the bytes: equal bytes, equal hash (buckets then compare the bytes). */
function hash(value: Uint8Array): number {
  let h = 0x811c9dc5 ^ value.length;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ (value[i] as number), 0x01000193);
  return h >>> 0;
}

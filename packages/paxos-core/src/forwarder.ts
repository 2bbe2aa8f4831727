import { decodeBatch } from './batch.js';
import { bytesEqual, hashBytes as hashOf } from './bytes.js';
import type { Effects } from './effects.js';

interface Entry {
  readonly value: Uint8Array;
  readonly hash: number;
  /** The leader it was last sent to (−1: not sent yet), and when. */
  to: number;
  at: number;
  /** Times it was sent again to the same leader: each wait doubles. */
  resent: number;
}

/**
 * Client values a node that does not lead has forwarded to the leader (LibPaxos3's
 * `client_value` message), kept until this node sees them decided. When the leader changes they
 * go to the new one (or to this node's own proposer, if it is the new leader), and a value not
 * decided for `reforwardMs` is sent again (its message may have died with a connection). So
 * nothing is lost at a change of leader; a value can be decided twice when its first leader
 * still had it chosen after all (clients that need exactly-once put an id in their values).
 *
 * Values are matched to decisions by bytes, oldest first among equal bytes, through a hash of
 * their bytes, so a follower that forwards many values pays O(1) per decided value.
 */
export class Forwarder {
  private readonly entries = new Map<number, Entry[]>();
  private count = 0;

  constructor(
    private readonly maxValues: number,
    private readonly reforwardMs: number,
    /** Batching is on: decided values are batches of client values. */
    private readonly batched: boolean,
  ) {}

  get size(): number {
    return this.count;
  }

  *values(): IterableIterator<Uint8Array> {
    for (const list of this.entries.values()) for (const e of list) yield e.value;
  }

  /**
   * Keeps `value`; false when full (the caller reports it lost). With `once`, a value equal to one
   * kept already is not kept again: a `client_value` from the network may be one this node
   * forwarded itself, bounced back by a node that thought this one led (two nodes whose views of
   * the leader differ for a moment would otherwise pass values back and forth, each keeping
   * another copy). Values submitted here (`propose`) are always kept: equal ones may be meant.
   */
  add(value: Uint8Array, once = false): boolean {
    const hash = hashOf(value);
    const list = this.entries.get(hash);
    if (once && list !== undefined && list.some((e) => bytesEqual(e.value, value))) return true;
    if (this.count >= this.maxValues) return false;
    const entry: Entry = { value, hash, to: -1, at: 0, resent: 0 };
    if (list === undefined) this.entries.set(hash, [entry]);
    else list.push(entry);
    this.count++;
    return true;
  }

  /** A decided Paxos value: the client values in it are done. */
  decided(value: Uint8Array): void {
    if (this.count === 0) return;
    if (!this.batched) return this.done(value);
    for (const v of decodeBatch(value) ?? [value]) this.done(v);
  }

  /** Sends every value not yet sent to `leader`, or all of them with `all` (a new leader). */
  forward(leader: number, now: number, all: boolean, out: Effects): void {
    for (const list of this.entries.values()) {
      for (const e of list) if (all || e.to !== leader) this.send(e, leader, now, out);
    }
  }

  /**
   * Sends again what `leader` has not decided for `reforwardMs` (its message may have died with a
   * connection), waiting twice as long after each time: a leader that is merely slow must not get
   * every value again and again, its queue filling with copies faster than it decides them.
   */
  tick(leader: number, now: number, out: Effects): void {
    if (this.count === 0) return;
    for (const list of this.entries.values()) {
      for (const e of list) {
        if (e.to !== leader) this.send(e, leader, now, out);
        else if (now - e.at >= this.reforwardMs * 2 ** Math.min(e.resent, 6)) {
          e.resent++;
          this.send(e, leader, now, out);
        }
      }
    }
  }

  /** Takes every value out (this node became leader: its proposer takes them). */
  takeAll(): Uint8Array[] {
    const values = [...this.values()];
    this.entries.clear();
    this.count = 0;
    return values;
  }

  private send(e: Entry, leader: number, now: number, out: Effects): void {
    if (e.to !== leader) e.resent = 0;
    e.to = leader;
    e.at = now;
    out.send.push({ to: 'proposer', proposer: leader, msg: { type: 'client_value', value: e.value } });
  }

  private done(value: Uint8Array): void {
    const hash = hashOf(value);
    const list = this.entries.get(hash);
    if (list === undefined) return;
    const i = list.findIndex((e) => bytesEqual(e.value, value));
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.entries.delete(hash);
    this.count--;
  }
}

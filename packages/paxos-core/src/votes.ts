import { bytesEqual } from './bytes.js';

/** One (value ballot, value) pair and the acceptors known to have accepted it. */
interface Vote {
  readonly vb: number;
  readonly value: Uint8Array;
  mask: number;
  count: number;
}

/**
 * The accepted votes for one instance: every (value ballot, value) pair some acceptor reported
 * accepting, with the set of acceptors that did. A value is chosen once a quorum accepted it under
 * one ballot (B1: the value ballot, never the promised one). Paxos votes are never withdrawn, so a
 * vote still counts after its acceptor reports a newer one: re-proposals of a chosen value that
 * reach only some acceptors leave them at different value ballots, and only the earlier votes
 * (which acceptors repeat, see `AcceptorRecord.earlierBallots`) still show the quorum.
 * Learners and proposers count the same way.
 *
 * Fast path: the first pair lives in fields; the list is allocated only once acceptors report a
 * second pair (competing proposers, re-proposals).
 */
export class InstanceVotes {
  private vb0 = 0;
  private value0: Uint8Array | undefined;
  private mask0 = 0;
  private count0 = 0;
  private others: Vote[] | null = null;
  /** At most this many pairs besides the first: a broken or hostile peer cannot grow it further. */
  private readonly maxOthers: number;
  /** Set by `add` when an acceptor reported other bytes under the same value ballot. */
  conflict = false;

  constructor(acceptors: number) {
    this.maxOthers = 2 * acceptors + 2;
  }

  /**
   * Records that `aid` accepted `value` under `vb`. Returns how many acceptors are now known to
   * have accepted that pair, or −1 when this adds nothing (a duplicate, or an old pair no longer
   * kept).
   */
  add(aid: number, vb: number, value: Uint8Array): number {
    this.conflict = false;
    const bit = 1 << aid;
    if (this.count0 === 0) {
      this.vb0 = vb;
      this.value0 = value;
      this.mask0 = bit;
      this.count0 = 1;
      return 1;
    }
    if (vb === this.vb0) {
      if (bytesEqual(value, this.value0 as Uint8Array)) {
        if ((this.mask0 & bit) !== 0) return -1;
        this.mask0 |= bit;
        return ++this.count0;
      }
      this.conflict = true;
    }
    return this.addOther(bit, vb, value);
  }

  private addOther(bit: number, vb: number, value: Uint8Array): number {
    const others = (this.others ??= []);
    for (const v of others) {
      if (v.vb !== vb) continue;
      if (!bytesEqual(v.value, value)) {
        this.conflict = true;
        continue;
      }
      if ((v.mask & bit) !== 0) return -1;
      v.mask |= bit;
      return ++v.count;
    }
    if (others.length < this.maxOthers) {
      others.push({ vb, value, mask: bit, count: 1 });
      return 1;
    }
    // Full: replace the lowest ballot if this one is higher. Only liveness rests on old pairs.
    let low = 0;
    for (let i = 1; i < others.length; i++) if ((others[i] as Vote).vb < (others[low] as Vote).vb) low = i;
    if ((others[low] as Vote).vb >= vb) return -1;
    others[low] = { vb, value, mask: bit, count: 1 };
    return 1;
  }
}

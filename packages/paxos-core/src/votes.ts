import { bytesEqual } from './bytes.js';

/**
 * The accepted votes for one instance: per acceptor, the latest (value ballot, value) it reported.
 * A value is chosen when a quorum's latest votes agree on both (B1: never on the promised
 * ballot). Learners and proposers count the same way.
 *
 * Fast path: while every vote agrees, only a bit mask is kept; arrays are allocated only once
 * acceptors disagree (competing proposers, stale repeats).
 */
export class InstanceVotes {
  private vb0 = 0;
  private value0: Uint8Array | undefined;
  private mask0 = 0;
  private count0 = 0;
  private vbs: number[] | null = null;
  private values: (Uint8Array | undefined)[] | null = null;
  /** Set by `add` when an acceptor reported other bytes under the same value ballot. */
  conflict = false;

  constructor(private readonly acceptors: number) {}

  /**
   * Records `aid`'s vote. Returns how many acceptors' latest votes now equal (vb, value), or −1
   * when this vote is not newer than what `aid` reported before (a duplicate or a stale repeat).
   */
  add(aid: number, vb: number, value: Uint8Array): number {
    this.conflict = false;
    if (this.vbs === null) {
      const bit = 1 << aid;
      if ((this.mask0 & bit) !== 0) {
        if (this.vb0 >= vb) return -1;
      } else if (this.count0 === 0) {
        this.vb0 = vb;
        this.value0 = value;
        this.mask0 = bit;
        this.count0 = 1;
        return 1;
      } else if (vb === this.vb0 && bytesEqual(value, this.value0 as Uint8Array)) {
        this.mask0 |= bit;
        return ++this.count0;
      }
      this.spill();
    }
    const vbs = this.vbs as number[];
    const values = this.values as (Uint8Array | undefined)[];
    if ((vbs[aid] as number) >= vb) return -1;
    vbs[aid] = vb;
    values[aid] = value;
    let count = 0;
    for (let a = 0; a < this.acceptors; a++) {
      if (vbs[a] !== vb) continue;
      if (bytesEqual(values[a] as Uint8Array, value)) count++;
      else this.conflict = true;
    }
    return count;
  }

  private spill(): void {
    const vbs = new Array<number>(this.acceptors).fill(0);
    const values = new Array<Uint8Array | undefined>(this.acceptors);
    for (let a = 0; a < this.acceptors; a++) {
      if ((this.mask0 & (1 << a)) === 0) continue;
      vbs[a] = this.vb0;
      values[a] = this.value0;
    }
    this.vbs = vbs;
    this.values = values;
  }
}

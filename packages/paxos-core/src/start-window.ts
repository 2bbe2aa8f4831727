import type { AcceptorRecord } from './effects.js';

/**
 * What a storage with an archive gives its acceptor at start (`AcceptorRecovered`): of the records
 * above the trim point, read newest first, the newest within `memoryWindow` instances of the
 * highest, and of those no more than `memoryBytes` of values (the highest always), as the acceptor
 * keeps them; `recordsAbove` is where that cut falls. `push` says when to stop reading, so a start
 * reads the window and not the log (LibPaxos3's LMDB acceptor reads nothing at start; a log of a
 * million instances took 1.8 s to read whole). The highest ballot is of the records kept: the
 * archive gives the older records' (`AcceptorArchive.olderMaxBallot`). LMDB storage's `load`
 * streams its records through it, and the simulator's restarted acceptors are given the same.
 */
export class StartWindow {
  /** The records kept, newest first. */
  private readonly kept: AcceptorRecord[] = [];
  private bytes = 0;
  private cut = 0;
  private maxBallot = 0;
  private full = false;

  constructor(
    private readonly memoryWindow: number,
    private readonly memoryBytes: number,
    private readonly trimIid: number,
  ) {}

  /**
   * The next record, in descending instance order. False once the window is full, or the trim point
   * reached (this record is not kept): read no more.
   */
  push(r: AcceptorRecord): boolean {
    if (this.full) return false;
    if (r.iid <= this.trimIid) {
      this.full = true;
      return false;
    }
    const highest = this.kept[0];
    if (highest !== undefined && (highest.iid - r.iid >= this.memoryWindow || this.bytes + r.value.length > this.memoryBytes)) {
      this.cut = r.iid;
      this.full = true;
      return false;
    }
    this.kept.push(r);
    this.bytes += r.value.length;
    if (r.ballot > this.maxBallot) this.maxBallot = r.ballot;
    return true;
  }

  /**
   * The records kept (ascending), the cut (never below the trim point), the highest instance and the
   * highest ballot of the records kept.
   */
  result(): { records: AcceptorRecord[]; recordsAbove: number; highestIid: number; maxBallot: number } {
    // The highest is always kept, first.
    const highestIid = this.kept[0]?.iid ?? 0;
    return {
      records: this.kept.slice().reverse(),
      recordsAbove: Math.max(this.trimIid, highestIid - this.memoryWindow, this.cut),
      highestIid,
      maxBallot: this.maxBallot,
    };
  }
}

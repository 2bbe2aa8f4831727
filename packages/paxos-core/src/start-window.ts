import type { AcceptorRecord } from './effects.js';

/**
 * What a storage with an archive gives its acceptor at start (`AcceptorRecovered`): of every record
 * above the trim point, read once in ascending instance order, the newest within `memoryWindow`
 * instances of the highest, and of those no more than `memoryBytes` of values (the highest always),
 * as the acceptor keeps them; `recordsAbove` is where that cut falls, and the highest instance and
 * ballot are of all of them. LMDB storage's `load` streams its records through it, and the
 * simulator's restarted acceptors are given the same.
 */
export class StartWindow {
  /** The newest records: a queue whose front is dropped as it leaves the window or the bytes. */
  private kept: AcceptorRecord[] = [];
  private head = 0;
  private bytes = 0;
  private cut = 0;
  private highestIid = 0;
  private maxBallot = 0;

  constructor(
    private readonly memoryWindow: number,
    private readonly memoryBytes: number,
  ) {}

  /** The next record, in ascending instance order (O(1) a record). */
  push(r: AcceptorRecord): void {
    this.highestIid = r.iid;
    if (r.ballot > this.maxBallot) this.maxBallot = r.ballot;
    const kept = this.kept;
    kept.push(r);
    this.bytes += r.value.length;
    for (let first = kept[this.head] as AcceptorRecord; this.head < kept.length - 1 && (r.iid - first.iid >= this.memoryWindow || this.bytes > this.memoryBytes); first = kept[this.head] as AcceptorRecord) {
      this.bytes -= first.value.length;
      this.cut = first.iid;
      this.head++;
    }
    if (this.head > 4096 && 2 * this.head > kept.length) {
      this.kept = kept.slice(this.head);
      this.head = 0;
    }
  }

  /** The records kept, the cut (never below `trimIid`), and the highest instance and ballot of all. */
  result(trimIid: number): { records: AcceptorRecord[]; recordsAbove: number; highestIid: number; maxBallot: number } {
    return {
      records: this.kept.slice(this.head),
      recordsAbove: Math.max(trimIid, this.highestIid - this.memoryWindow, this.cut),
      highestIid: this.highestIid,
      maxBallot: this.maxBallot,
    };
  }
}

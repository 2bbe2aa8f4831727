import { bytesEqual } from './bytes.js';
import { MAX_EARLIER_BALLOTS } from './effects.js';

/** One acceptor's current run: the bytes of its newest vote, and the ballots it voted for them in. */
interface Run {
  value: Uint8Array;
  /** Ascending: the oldest {@link MAX_EARLIER_BALLOTS} of the run and its newest (see below). */
  ballots: number[];
}

/**
 * The accepted votes for one instance. A value is chosen once a quorum of acceptors accepted it
 * under one ballot (B1: the value ballot, never the promised one, and the same bytes). Paxos votes
 * are never withdrawn, so a vote still counts after its acceptor reports a newer one.
 *
 * Why old votes matter: re-proposals of a chosen value that reach only some acceptors (proposers
 * killed half-way) leave them at different value ballots, and only the earlier votes, which
 * acceptors repeat (`AcceptorRecord.earlierBallots`), still show the quorum that chose it.
 *
 * What is kept, and why that is enough (a bound, not a hope). Let `b0` be the lowest ballot at
 * which a quorum Q accepted value v.
 * 1. After b0 every accept, at any ballot, carries v (Paxos P2c). So no member of Q ever accepts
 *    other bytes again: its current run of v (the ballots at which it accepted v with nothing else
 *    in between) contains b0 and never ends.
 * 2. A vote for other bytes w at a ballot below an acceptor's newest vote for v is useless: had w
 *    been chosen at that ballot, the later vote would be w, not v. So per acceptor only the current
 *    run is kept, and a report of older bytes is ignored.
 * 3. Acceptors keep the oldest {@link MAX_EARLIER_BALLOTS} ballots of the run plus the newest, and
 *    learners keep the same per acceptor. Re-proposals after b0, however many, interrupted or not,
 *    are all newer than b0 and never push it out. So a learner that asks for repeats counts the
 *    quorum at (b0, v) for ever — provided each member of Q accepted v at most
 *    MAX_EARLIER_BALLOTS − 1 times in that run *before* b0 (a value adopted in phase 1 whose
 *    accepts then failed to reach a quorum, that many times over, at that acceptor).
 * State per instance is bounded: an acceptor keeps at most MAX_EARLIER_BALLOTS + 1 ballots, this
 * table at most that many per acceptor.
 *
 * Fast path: while every report agrees on one (ballot, value), it lives in four fields; the
 * per-acceptor runs are allocated only when a second pair appears (competing proposers,
 * re-proposals). Learners and proposers count the same way.
 */
export class InstanceVotes {
  private vb0 = 0;
  private value0: Uint8Array | undefined;
  private mask0 = 0;
  private count0 = 0;
  private runs: (Run | undefined)[] | null = null;
  /**
   * Set by `add` when two different values were reported under one ballot: two proposers used the
   * same ballot (LibPaxos3 B2, or two proposers configured with one id) or an acceptor is broken.
   */
  conflict = false;

  /**
   * Records that `aid` accepted `value` under `vb`. Returns how many acceptors are now known to
   * have accepted that pair, or −1 when this adds nothing (a duplicate, or a vote that can no
   * longer matter).
   */
  add(aid: number, vb: number, value: Uint8Array): number {
    this.conflict = false;
    if (this.runs === null) {
      const bit = 1 << aid;
      if (this.count0 === 0) {
        this.vb0 = vb;
        this.value0 = value;
        this.mask0 = bit;
        this.count0 = 1;
        return 1;
      }
      if (vb === this.vb0 && bytesEqual(value, this.value0 as Uint8Array)) {
        if ((this.mask0 & bit) !== 0) return -1;
        this.mask0 |= bit;
        return ++this.count0;
      }
      this.spill();
    }
    return this.addToRuns(this.runs as (Run | undefined)[], aid, vb, value);
  }

  /**
   * The bytes some acceptor reported accepting under `vb`, if this table still has such a vote
   * (under one ballot only one value is ever accepted, so any such vote names it).
   */
  valueAt(vb: number): Uint8Array | undefined {
    if (this.runs === null) return this.count0 > 0 && this.vb0 === vb ? this.value0 : undefined;
    for (const r of this.runs) if (r !== undefined && r.ballots.includes(vb)) return r.value;
    return undefined;
  }

  /** Moves the fast-path pair into per-acceptor runs. */
  private spill(): void {
    const runs: (Run | undefined)[] = [];
    for (let aid = 0, mask = this.mask0; mask !== 0; aid++, mask >>>= 1) {
      if ((mask & 1) !== 0) runs[aid] = { value: this.value0 as Uint8Array, ballots: [this.vb0] };
    }
    this.runs = runs;
  }

  private addToRuns(runs: (Run | undefined)[], aid: number, vb: number, value: Uint8Array): number {
    const run = runs[aid];
    if (run === undefined) {
      runs[aid] = { value, ballots: [vb] };
    } else if (bytesEqual(run.value, value)) {
      const ballots = run.ballots;
      let at = ballots.length;
      while (at > 0 && (ballots[at - 1] as number) > vb) at--;
      if (at > 0 && ballots[at - 1] === vb) return -1;
      ballots.splice(at, 0, vb);
    } else {
      const newest = run.ballots[run.ballots.length - 1] as number;
      if (vb === newest || run.ballots.includes(vb)) {
        // One acceptor, one ballot, two values.
        this.conflict = true;
        return -1;
      }
      // Older bytes than the run: useless (point 2 above). Newer: a new run starts.
      if (vb < newest) return -1;
      runs[aid] = { value, ballots: [vb] };
    }
    let count = 0;
    for (const r of runs) {
      if (r === undefined || !r.ballots.includes(vb)) continue;
      if (bytesEqual(r.value, value)) count++;
      else this.conflict = true;
    }
    // Counted first, then the run is cut to what acceptors keep (point 3 above): the newest and
    // the oldest MAX_EARLIER_BALLOTS.
    const kept = runs[aid] as Run;
    if (kept.ballots.length > MAX_EARLIER_BALLOTS + 1) kept.ballots.splice(MAX_EARLIER_BALLOTS, kept.ballots.length - MAX_EARLIER_BALLOTS - 1);
    return count;
  }
}

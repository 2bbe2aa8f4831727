import type { AcceptorRecord } from '@libpaxos/paxos-core';
import { sameBytes } from './oracle-values.js';

/** One durable vote: the acceptor accepted `value` under ballot `vb` and that write reached its disk. */
export interface DurableVote {
  readonly vb: number;
  readonly value: Uint8Array;
}

/** What one acceptor ever made durable for one instance. Survives trims (the oracle's memory, not the disk's). */
export interface AcceptorHistory {
  /** Highest promise ever durable. */
  promise: number;
  /** Value ballot of the latest durable record. */
  vb: number;
  /** Every (value ballot, bytes) pair ever durable, in the order written, each once. */
  readonly votes: DurableVote[];
}

interface Tally {
  readonly value: Uint8Array;
  aids: Set<number>;
}

/**
 * The ground truth for votes: each acceptor's durable writes, nothing it says. A write whose value
 * ballot is above 0 is a vote for its bytes under that ballot; fields such as `earlierBallots` are
 * claims that create no vote. A value is chosen in an instance once a quorum of distinct acceptors
 * have a durable vote for the same bytes under the same ballot (Paxos: votes are never withdrawn,
 * so a later write does not undo an earlier vote; a crash loses only writes that never reached
 * the disk, and those never get here).
 */
export class DurableVotes {
  private readonly quorum: number;
  private readonly fail: (what: string) => void;
  private readonly onChosen: (iid: number, value: Uint8Array) => void;
  /** iid → acceptor id → history. */
  private readonly histories = new Map<number, Map<number, AcceptorHistory>>();
  /** iid → ballot → the acceptors with a durable vote under it (and its bytes). */
  private readonly tallies = new Map<number, Map<number, Tally>>();
  /** iid → the chosen value. */
  readonly chosen = new Map<number, Uint8Array>();
  /** iid → the ballot it was first chosen under. */
  readonly chosenBallot = new Map<number, number>();

  constructor(quorum: number, report: { fail(what: string): void; chosen(iid: number, value: Uint8Array): void }) {
    this.quorum = quorum;
    this.fail = (what) => report.fail(what);
    this.onChosen = (iid, value) => report.chosen(iid, value);
  }

  history(aid: number, iid: number): AcceptorHistory | undefined {
    return this.histories.get(iid)?.get(aid);
  }

  /** The durable vote of `aid` in `iid` under ballot `vb`, if there is one. */
  vote(aid: number, iid: number, vb: number): DurableVote | undefined {
    return this.history(aid, iid)?.votes.find((v) => v.vb === vb);
  }

  /**
   * Acceptor `aid`'s record reached its disk. Checks the acceptor's own rules (Paxos P1b/P2b:
   * promises never go down, nothing is accepted below a durable promise or above the record's
   * own promise, one ballot never carries two values) and returns the new vote, if the write
   * made one.
   */
  write(aid: number, rec: AcceptorRecord): DurableVote | undefined {
    const at = `acceptor ${aid} iid ${rec.iid}`;
    let byAid = this.histories.get(rec.iid);
    if (byAid === undefined) this.histories.set(rec.iid, (byAid = new Map()));
    let h = byAid.get(aid);
    if (h === undefined) byAid.set(aid, (h = { promise: 0, vb: 0, votes: [] }));
    const promiseBefore = h.promise;
    if (rec.ballot < promiseBefore) this.fail(`${at}: durable promise went down from ${promiseBefore} to ${rec.ballot}`);
    if (rec.valueBallot > rec.ballot) this.fail(`${at}: durable record accepts ballot ${rec.valueBallot} above its own promise ${rec.ballot}`);
    if (rec.valueBallot < h.vb) this.fail(`${at}: durable value ballot went down from ${h.vb} to ${rec.valueBallot}`);
    h.promise = Math.max(h.promise, rec.ballot);
    h.vb = rec.valueBallot;
    if (rec.valueBallot === 0) return undefined;
    const earlier = h.votes.find((v) => v.vb === rec.valueBallot);
    if (earlier !== undefined) {
      if (!sameBytes(earlier.value, rec.value)) this.fail(`${at}: durably accepted two different values under ballot ${rec.valueBallot}`);
      return undefined;
    }
    // Paxos P2b: an acceptor accepts ballot b only if it has not promised anything higher. Its
    // durable promise is a lower bound of what it promised, so a new vote below it breaks P2b.
    if (rec.valueBallot < promiseBefore) {
      this.fail(`${at}: durably accepted ballot ${rec.valueBallot} below its durable promise ${promiseBefore}`);
    }
    const vote: DurableVote = { vb: rec.valueBallot, value: rec.value.slice() };
    h.votes.push(vote);
    this.tally(aid, rec.iid, vote);
    return vote;
  }

  private tally(aid: number, iid: number, vote: DurableVote): void {
    let byBallot = this.tallies.get(iid);
    if (byBallot === undefined) this.tallies.set(iid, (byBallot = new Map()));
    let t = byBallot.get(vote.vb);
    if (t === undefined) byBallot.set(vote.vb, (t = { value: vote.value, aids: new Set() }));
    else if (!sameBytes(t.value, vote.value)) {
      this.fail(`iid ${iid}: acceptors durably accepted two different values under ballot ${vote.vb}`);
      return;
    }
    t.aids.add(aid);
    if (t.aids.size < this.quorum) return;
    const earlier = this.chosen.get(iid);
    if (earlier === undefined) {
      this.chosen.set(iid, t.value);
      this.chosenBallot.set(iid, vote.vb);
      this.onChosen(iid, t.value);
    } else if (!sameBytes(earlier, t.value)) {
      this.fail(`iid ${iid}: two different values chosen (ballot ${this.chosenBallot.get(iid) ?? '?'} and ballot ${vote.vb})`);
    }
  }
}

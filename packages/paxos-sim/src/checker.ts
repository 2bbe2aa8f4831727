import { MAX_UINT32, bytesEqual, isNoop, type AcceptorRecord, type Message } from '@libpaxos/paxos-core';
import { describeValueId, valueId } from './workload.js';

/** What the checker needs to know about an acceptor's disk. */
export interface DurableView {
  record(aid: number, iid: number): AcceptorRecord | undefined;
  trimIid(aid: number): number;
}

interface Votes {
  readonly value: Uint8Array;
  aids: number;
  count: number;
}

/**
 * Safety invariants, checked as each event happens (ARCHITECTURE.md, Tests):
 * one chosen value per instance (bytes), delivered values were submitted and chosen, each learner
 * delivers 1, 2, 3… once and in order (so all learners deliver the same sequence), no value is
 * decided in two instances, durable promises never go down, every promise/accepted sent was
 * durable, no ballot carries two values, no ballot above 2^32 − 1.
 */
export class Checker {
  readonly violations: string[] = [];
  private readonly quorum: number;
  /** iid → ballot → votes (acceptances by distinct acceptors for that ballot's value). */
  private readonly votes = new Map<number, Map<number, Votes>>();
  /** iid → the chosen value. */
  readonly chosen = new Map<number, Uint8Array>();
  /** iid → ballot → the value a proposer sent in an accept. */
  private readonly proposals = new Map<number, Map<number, Uint8Array>>();
  readonly submitted = new Set<number>();
  /** value id → the iid it was decided in. */
  readonly decidedAt = new Map<number, number>();
  /** Highest instance any learner decided. */
  maxDecided = 0;
  now = 0;

  /** Splits a decided Paxos value into the client values in it (a batch, or just itself). */
  private readonly unpack: (value: Uint8Array) => readonly Uint8Array[] | undefined;

  constructor(quorum: number, unpack: (value: Uint8Array) => readonly Uint8Array[] | undefined = (v) => [v]) {
    this.quorum = quorum;
    this.unpack = unpack;
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  fail(what: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.now}ms: ${what}`);
  }

  submittedValue(v: Uint8Array): void {
    const id = valueId(v);
    if (id !== undefined) this.submitted.add(id);
  }

  /** An acceptor's write reached its disk. */
  durableWrite(aid: number, before: AcceptorRecord | undefined, after: AcceptorRecord): void {
    if (before !== undefined && after.ballot < before.ballot) {
      this.fail(`acceptor ${aid} iid ${after.iid}: durable promise went down from ${before.ballot} to ${after.ballot}`);
    }
    if (after.valueBallot > after.ballot) {
      this.fail(`acceptor ${aid} iid ${after.iid}: accepted ballot ${after.valueBallot} above its promise ${after.ballot}`);
    }
    if (after.valueBallot > 0) this.vote(aid, after.iid, after.valueBallot, after.value);
  }

  /** A message leaves node `fromKind` (persist-before-send already happened, or should have). */
  sent(fromKind: 'acceptor' | 'proposer' | 'learner', msg: Message, disk: DurableView): void {
    switch (msg.type) {
      case 'prepare':
      case 'preempted':
        this.ballotInRange(msg.type, msg.ballot);
        return;
      case 'accept': {
        this.ballotInRange('accept', msg.ballot);
        let byBallot = this.proposals.get(msg.iid);
        if (byBallot === undefined) this.proposals.set(msg.iid, (byBallot = new Map()));
        const earlier = byBallot.get(msg.ballot);
        if (earlier === undefined) byBallot.set(msg.ballot, msg.value);
        else if (!bytesEqual(earlier, msg.value)) {
          this.fail(`iid ${msg.iid}: ballot ${msg.ballot} was used for two different values`);
        }
        return;
      }
      case 'promise': {
        this.ballotInRange('promise', msg.ballot);
        if (msg.iid <= disk.trimIid(msg.aid)) return;
        const rec = disk.record(msg.aid, msg.iid);
        if (rec === undefined || rec.ballot < msg.ballot) {
          this.fail(`acceptor ${msg.aid} sent promise(iid ${msg.iid}, ballot ${msg.ballot}) before it was durable (disk has ${rec?.ballot ?? 'nothing'})`);
        }
        return;
      }
      case 'accepted': {
        this.ballotInRange('accepted', msg.ballot);
        if (fromKind !== 'acceptor') return;
        if (msg.iid > disk.trimIid(msg.aid)) {
          const rec = disk.record(msg.aid, msg.iid);
          if (rec === undefined || rec.valueBallot < msg.valueBallot) {
            this.fail(`acceptor ${msg.aid} sent accepted(iid ${msg.iid}, ballot ${msg.valueBallot}) before it was durable`);
          }
        }
        this.vote(msg.aid, msg.iid, msg.valueBallot, msg.value);
        return;
      }
      case 'repeat':
      case 'trim':
      case 'acceptor_state':
      case 'client_value':
        return;
    }
  }

  /** Learner `who` decided `iid`; `expected` is the iid it had to decide next. */
  decided(who: string, expected: number, iid: number, value: Uint8Array): void {
    if (iid !== expected) this.fail(`${who} decided iid ${iid} but the next in order is ${expected}`);
    const chosen = this.chosen.get(iid);
    if (chosen === undefined) this.fail(`${who} decided iid ${iid}, for which no value was chosen by a quorum`);
    else if (!bytesEqual(chosen, value)) this.fail(`${who} decided iid ${iid} with a value other than the chosen one`);
    if (iid > this.maxDecided) this.maxDecided = iid;
    if (isNoop(value)) return;
    const values = this.unpack(value);
    if (values === undefined) {
      this.fail(`${who} decided iid ${iid} with a value that is not a well-formed batch`);
      return;
    }
    for (const v of values) {
      const id = valueId(v);
      if (id === undefined || !this.submitted.has(id)) {
        this.fail(`${who} decided iid ${iid} with a value no client submitted`);
        return;
      }
      const at = this.decidedAt.get(id);
      if (at === undefined) this.decidedAt.set(id, iid);
      else if (at !== iid) this.fail(`value ${describeValueId(id)} was decided twice, in iid ${at} and iid ${iid}`);
    }
  }

  /** The client values in a Paxos value (none for a no-op or a malformed batch). */
  clientValues(value: Uint8Array): readonly Uint8Array[] {
    return isNoop(value) ? [] : (this.unpack(value) ?? []);
  }

  private vote(aid: number, iid: number, ballot: number, value: Uint8Array): void {
    let byBallot = this.votes.get(iid);
    if (byBallot === undefined) this.votes.set(iid, (byBallot = new Map()));
    let v = byBallot.get(ballot);
    if (v === undefined) byBallot.set(ballot, (v = { value, aids: 0, count: 0 }));
    else if (!bytesEqual(v.value, value)) {
      this.fail(`iid ${iid}: acceptors accepted two different values under ballot ${ballot}`);
      return;
    }
    const bit = 2 ** aid;
    if (Math.floor(v.aids / bit) % 2 === 1) return;
    v.aids += bit;
    v.count++;
    if (v.count < this.quorum) return;
    const earlier = this.chosen.get(iid);
    if (earlier === undefined) this.chosen.set(iid, value);
    else if (!bytesEqual(earlier, value)) this.fail(`iid ${iid}: two different values chosen (the second under ballot ${ballot})`);
  }

  private ballotInRange(what: string, ballot: number): void {
    if (!Number.isInteger(ballot) || ballot < 0 || ballot > MAX_UINT32) this.fail(`${what} carries ballot ${ballot}, outside uint32`);
  }
}

import { MAX_UINT32, assertNever, type AcceptorRecord, type Message } from '@libpaxos/paxos-core';
import { DeliveryStream } from './delivery-stream.js';
import { DurableVotes } from './durable-votes.js';
import { controlDisagreement, deliverableElements, isProtocolValue, sameBytes, unpackBatch } from './oracle-values.js';
import { describeValueId, valueId } from './workload.js';

/** Who sent a message: its role, and for acceptors (and replicas' acceptor replies) their id. */
export interface Sender {
  readonly kind: 'acceptor' | 'proposer' | 'learner';
  readonly name: string;
  /** Which life of the node: it counts up at every restart. */
  readonly incarnation: number;
  /** The acceptor id of the sending node (acceptors and replicas). */
  readonly aid?: number;
}

export interface CheckerOptions {
  readonly quorum: number;
  /** Batching is on: every chosen value other than a no-op is a batch of client values. */
  readonly batched: boolean;
  /**
   * Leadership is on: a client value may be chosen in two instances (re-forwarded at a change of
   * leader while its first leader still had it chosen); such duplicates are counted, not failed.
   */
  readonly duplicatesAllowed?: boolean;
}

/** How the values submitted and never delivered are accounted for, at the end of a run. */
export interface LossAccount {
  /** Never delivered, and held by a proposer at the moment it crashed. */
  readonly lostWithCrash: number;
  /** Never delivered, and reported by a `value-lost` event (and not held at a crash). */
  readonly reportedLost: number;
}

/**
 * The oracle (ARCHITECTURE.md, Tests), checked as each event happens. It believes disks and
 * deliveries, never what a role says about itself:
 * - votes are the acceptors' durable writes only (`DurableVotes`), and a value is chosen when a
 *   quorum has a durable vote for it under one ballot: one chosen value per instance (bytes), no
 *   value chosen in two instances, client values chosen with their clients' bytes, no vote
 *   without a proposer's accept of that ballot and bytes;
 * - every promise, accepted and preempted an acceptor sends must be backed by its durable state:
 *   an `accepted` matches one of its durable votes exactly (iid, value ballot, bytes) and claims no
 *   promise above its durable one; a `promise` claims no more than its durable promise and reports
 *   a durable vote, and no newer one below the promise;
 * - promises never go down, nothing is accepted below a durable promise, no ballot carries two
 *   values or is used by two proposer incarnations (B2), ballots stay within uint32;
 * - each learner decides (`lastDecided`) its next instance in order, the chosen value;
 * - what each learner and replica incarnation hands its application follows the chosen values
 *   exactly (`DeliveryStream`), batch positions included, each client value once;
 * - at the end, every submitted value never delivered was held by a proposer when it crashed or
 *   was reported lost (`account`).
 */
export class Checker {
  readonly violations: string[] = [];
  readonly batched: boolean;
  private readonly duplicatesAllowed: boolean;
  /** Client values chosen in a second instance (allowed only with leadership on). */
  duplicates = 0;
  private readonly votes: DurableVotes;
  /** iid → ballot → the value a proposer sent in an accept. */
  private readonly proposals = new Map<number, Map<number, Uint8Array>>();
  /** iid → ballot → the proposer incarnation that first used it (prepare or accept). */
  private readonly ballotUsers = new Map<number, Map<number, Sender>>();
  /** value id → the bytes the client submitted. */
  readonly submitted = new Map<number, Uint8Array>();
  /** Client values some application received. */
  readonly delivered = new Set<number>();
  /** value id → the instance that chose it. */
  private readonly chosenAt = new Map<number, number>();
  /** iid → the simulated time its value was chosen (its quorum's last vote became durable). */
  readonly chosenTime = new Map<number, number>();
  private readonly heldAtCrashIds = new Set<number>();
  private readonly reportedLostIds = new Set<number>();
  /** Highest instance any learner decided. */
  maxDecided = 0;
  now = 0;

  constructor(options: CheckerOptions) {
    this.batched = options.batched;
    this.duplicatesAllowed = options.duplicatesAllowed ?? false;
    this.votes = new DurableVotes(options.quorum, {
      fail: (what) => this.fail(what),
      chosen: (iid, value) => this.noteChosen(iid, value),
    });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** iid → the value chosen there (by durable votes). */
  get chosen(): ReadonlyMap<number, Uint8Array> {
    return this.votes.chosen;
  }

  fail(what: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.now}ms: ${what}`);
  }

  submittedValue(v: Uint8Array): void {
    const id = valueId(v);
    if (id !== undefined) this.submitted.set(id, v.slice());
  }

  // ---- acceptors' disks ----

  /** Acceptor `aid`'s record reached its disk: the only way a vote comes into being. */
  durableWrite(aid: number, rec: AcceptorRecord): void {
    const vote = this.votes.write(aid, rec);
    if (vote === undefined) return;
    const proposed = this.proposals.get(rec.iid)?.get(vote.vb);
    if (proposed === undefined || !sameBytes(proposed, vote.value)) {
      this.fail(`acceptor ${aid} iid ${rec.iid}: durably accepted, under ballot ${vote.vb}, a value no proposer sent under that ballot`);
    }
  }

  /** An instance was chosen: each client value in it may be chosen in no other instance. */
  private noteChosen(iid: number, value: Uint8Array): void {
    this.chosenTime.set(iid, this.now);
    // The control-value predicate the learners, evpaxos and this oracle share, held to the layouts.
    const disagreement = controlDisagreement(value);
    if (disagreement !== undefined) this.fail(`iid ${iid}: ${disagreement}`);
    if (this.batched && !isProtocolValue(value)) {
      const elements = unpackBatch(value);
      if (elements === undefined) this.fail(`iid ${iid} chose a value that is not a well-formed batch although batching is on`);
      else if (elements.some(isProtocolValue)) this.fail(`iid ${iid} chose a batch holding a control value (a no-op, a master operation or a checkpoint report): proposers never batch one`);
    }
    for (const { value: v } of deliverableElements(value, this.batched)) {
      const id = valueId(v);
      const submitted = id === undefined ? undefined : this.submitted.get(id);
      if (id === undefined || submitted === undefined) {
        this.fail(`iid ${iid} chose a value no client submitted`);
        continue;
      }
      // Ids name values; the bytes must still be the client's, to the last byte.
      if (!sameBytes(submitted, v)) this.fail(`iid ${iid} chose value ${describeValueId(id)} with bytes other than its client submitted`);
      const at = this.chosenAt.get(id);
      if (at === undefined) this.chosenAt.set(id, iid);
      else if (at === iid) continue;
      else if (this.duplicatesAllowed) this.duplicates++;
      else this.fail(`value ${describeValueId(id)} was chosen twice, in iid ${at} and iid ${iid}`);
    }
  }

  // ---- messages ----

  /**
   * Whether `value` was proposed in `iid` under a ballot ≤ `ballot` before: a proposer that does
   * not lead may still re-send its own accept, or propose a value phase 1 found there (P2c).
   */
  proposedBefore(iid: number, ballot: number, value: Uint8Array): boolean {
    const byBallot = this.proposals.get(iid);
    if (byBallot === undefined) return false;
    for (const [b, v] of byBallot) if (b <= ballot && sameBytes(v, value)) return true;
    return false;
  }

  /** A message leaves `from` (after the writes of its step were durable, or so they should be). */
  sent(from: Sender, msg: Message): void {
    switch (msg.type) {
      case 'prepare':
        this.ballotInRange('prepare', msg.ballot);
        this.notFromAcceptor(from, msg.type);
        this.ballotUsed(from, msg.iid, msg.ballot);
        return;
      case 'accept': {
        this.ballotInRange('accept', msg.ballot);
        this.notFromAcceptor(from, msg.type);
        this.ballotUsed(from, msg.iid, msg.ballot);
        let byBallot = this.proposals.get(msg.iid);
        if (byBallot === undefined) this.proposals.set(msg.iid, (byBallot = new Map()));
        const earlier = byBallot.get(msg.ballot);
        if (earlier === undefined) byBallot.set(msg.ballot, msg.value.slice());
        else if (!sameBytes(earlier, msg.value)) this.fail(`iid ${msg.iid}: ballot ${msg.ballot} was used for two different values`);
        return;
      }
      case 'promise':
        this.ballotInRange('promise', msg.ballot);
        if (this.fromAcceptor(from, msg.type, msg.aid)) this.promiseSent(msg.aid, msg.iid, msg.ballot, msg.valueBallot, msg.value);
        return;
      case 'accepted':
        this.ballotInRange('accepted', msg.ballot);
        if (this.fromAcceptor(from, msg.type, msg.aid)) this.acceptedSent(msg.aid, msg.iid, msg.ballot, msg.valueBallot, msg.value);
        return;
      case 'preempted': {
        this.ballotInRange('preempted', msg.ballot);
        if (!this.fromAcceptor(from, msg.type, msg.aid)) return;
        const promise = this.votes.history(msg.aid, msg.iid)?.promise ?? 0;
        if (msg.ballot > promise) {
          this.fail(`acceptor ${msg.aid} sent preempted(iid ${msg.iid}, ballot ${msg.ballot}) claiming more than its durable promise ${promise}`);
        }
        return;
      }
      case 'acceptor_state':
        this.fromAcceptor(from, msg.type, msg.aid);
        return;
      case 'repeat':
      case 'trim':
      case 'client_value':
        this.notFromAcceptor(from, msg.type);
        return;
      default:
        assertNever(msg);
    }
  }

  private promiseSent(aid: number, iid: number, ballot: number, vb: number, value: Uint8Array): void {
    const what = `acceptor ${aid} sent promise(iid ${iid}, ballot ${ballot}, value ballot ${vb})`;
    const h = this.votes.history(aid, iid);
    if (h === undefined || h.promise < ballot) {
      this.fail(`${what} before it was durable (disk has ${h?.promise ?? 'nothing'})`);
      return;
    }
    if (vb > ballot) this.fail(`${what}: value ballot above the promise`);
    if (vb > 0) {
      const vote = this.votes.vote(aid, iid, vb);
      if (vote === undefined || !sameBytes(vote.value, value)) {
        this.fail(`${what} reporting a vote that matches none of its durable writes`);
        return;
      }
    }
    // Paxos P1b: a promise reports the highest-ballot vote. Votes below `ballot` were all cast
    // before this promise was made (after it, only ballots ≥ `ballot` can be accepted), so a
    // durable one between the reported ballot and the promise was hidden.
    const hidden = h.votes.find((v) => v.vb > vb && v.vb < ballot);
    if (hidden !== undefined) this.fail(`${what} hiding its durable vote under ballot ${hidden.vb}`);
  }

  private acceptedSent(aid: number, iid: number, ballot: number, vb: number, value: Uint8Array): void {
    const what = `acceptor ${aid} sent accepted(iid ${iid}, ballot ${ballot}, value ballot ${vb})`;
    const vote = this.votes.vote(aid, iid, vb);
    if (vote === undefined) {
      this.fail(`${what}, but it never durably accepted anything under ballot ${vb} there`);
      return;
    }
    if (!sameBytes(vote.value, value)) {
      this.fail(`${what} with bytes other than those it durably accepted under ballot ${vb}`);
      return;
    }
    const promise = (this.votes.history(aid, iid) as { promise: number }).promise;
    if (ballot > promise) this.fail(`${what} claiming more than its durable promise ${promise}`);
    if (ballot < vb) this.fail(`${what}: ballot below the value ballot`);
  }

  /**
   * B2: a ballot belongs to one proposer incarnation. Another proposer, or the same one after a
   * restart, that prepares or proposes under it may get a second value accepted under one ballot
   * (the incarnation that used it first may have had its accept accepted anywhere).
   */
  private ballotUsed(from: Sender, iid: number, ballot: number): void {
    let byBallot = this.ballotUsers.get(iid);
    if (byBallot === undefined) this.ballotUsers.set(iid, (byBallot = new Map()));
    const first = byBallot.get(ballot);
    if (first === undefined) byBallot.set(ballot, from);
    else if (first !== from && (first.name !== from.name || first.incarnation !== from.incarnation)) {
      const who = (s: Sender) => `${s.name} (incarnation ${s.incarnation})`;
      this.fail(`iid ${iid}: ballot ${ballot} was used by ${who(first)} and again by ${who(from)}`);
    }
  }

  /** An acceptor message must come from that acceptor; returns whether it did. */
  private fromAcceptor(from: Sender, type: Message['type'], aid: number): boolean {
    if (from.kind !== 'acceptor') {
      this.fail(`${from.name} sent ${type}, which only acceptors send`);
      return false;
    }
    if (from.aid !== aid) {
      this.fail(`${from.name} sent ${type} in the name of acceptor ${aid}`);
      return false;
    }
    return true;
  }

  private notFromAcceptor(from: Sender, type: Message['type']): void {
    if (from.kind === 'acceptor') this.fail(`${from.name} sent ${type}, which acceptors never send`);
  }

  // ---- learners and applications ----

  /** Learner `who` decided `iid`; `expected` is the iid it had to decide next. */
  decided(who: string, expected: number, iid: number, value: Uint8Array): void {
    if (iid !== expected) this.fail(`${who} decided iid ${iid} but the next in order is ${expected}`);
    const chosen = this.votes.chosen.get(iid);
    if (chosen === undefined) this.fail(`${who} decided iid ${iid}, for which no value was chosen by a quorum`);
    else if (!sameBytes(chosen, value)) this.fail(`${who} decided iid ${iid} with a value other than the chosen one`);
    if (iid > this.maxDecided) this.maxDecided = iid;
  }

  /** A learner or replica incarnation starts, its application having everything up to `from`. */
  openStream(who: string, from: number): DeliveryStream {
    return new DeliveryStream(who, from, {
      chosen: (iid) => this.votes.chosen.get(iid),
      batched: this.batched,
      duplicatesAllowed: this.duplicatesAllowed,
      isSubmitted: (id) => this.submitted.has(id),
      delivered: (id) => this.delivered.add(id),
      fail: (what) => this.fail(what),
    });
  }

  /** The client values in a Paxos value: itself, or a batch's elements; none for a no-op or junk. */
  clientValues(value: Uint8Array): readonly Uint8Array[] {
    if (isProtocolValue(value)) return [];
    if (valueId(value) !== undefined) return [value];
    return unpackBatch(value) ?? [];
  }

  // ---- lost values ----

  /** A proposer crashed while holding `value` (a client value). */
  heldAtCrash(value: Uint8Array): void {
    const id = valueId(value);
    if (id !== undefined) this.heldAtCrashIds.add(id);
  }

  /** A `value-lost` event gave up `value` (a client value, or a batch of them). */
  reportedLost(value: Uint8Array): void {
    for (const v of this.clientValues(value)) {
      const id = valueId(v);
      if (id !== undefined) this.reportedLostIds.add(id);
    }
  }

  /**
   * At the end of a run: every value submitted and never delivered must have been held by a
   * proposer at the moment it crashed, or reported lost; anything else vanished silently (a
   * violation once the run is `complete`, i.e. healed and everything owed delivered).
   */
  account(complete: boolean): LossAccount {
    let lostWithCrash = 0;
    let reportedLost = 0;
    const silent: number[] = [];
    for (const id of this.submitted.keys()) {
      if (this.delivered.has(id)) continue;
      if (this.heldAtCrashIds.has(id)) lostWithCrash++;
      else if (this.reportedLostIds.has(id)) reportedLost++;
      else silent.push(id);
    }
    if (complete && silent.length > 0) {
      const some = silent.slice(0, 5).map(describeValueId).join(', ');
      this.fail(`${silent.length} submitted value(s) never delivered, neither held by a proposer when it crashed nor reported lost: ${some}${silent.length > 5 ? ', …' : ''}`);
    }
    return { lostWithCrash, reportedLost };
  }

  private ballotInRange(what: string, ballot: number): void {
    if (!Number.isInteger(ballot) || ballot < 0 || ballot > MAX_UINT32) this.fail(`${what} carries ballot ${ballot}, outside uint32`);
  }
}

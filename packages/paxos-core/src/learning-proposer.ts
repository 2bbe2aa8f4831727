import { requireInt } from './config-error.js';
import { emptyArray, newEffects, truncate, type Decision, type Effects, type PeerId } from './effects.js';
import { Forwarder } from './forwarder.js';
import { dispatchInput, type Input } from './input.js';
import { Leadership, type LeaderView, type LeadershipOptions, type MasterState } from './leadership.js';
import { Learner, type LearnerOptions } from './learner.js';
import { controlValue } from './control-value.js';
import type { Message } from './messages.js';
import { digestMatches, type AcceptedDigestMsg } from './accepted-digest.js';
import { Proposer, type ProposerOptions, type ProposerRecovered } from './proposer.js';
import type { SnapshotIoResult, SnapshotMessage } from './snapshot-messages.js';

/** A split-mode proposer writes how far it learned at most this often (a `learned` record). */
const LEARNED_EVERY_MS = 1000;

export interface LearningProposerOptions extends ProposerOptions {
  readonly learner?: Omit<LearnerOptions, 'acceptors'>;
  /**
   * Hand the learner's deliveries to the application (a replica). Without it, the learner only
   * informs the proposer and `out.deliver` stays untouched (a split-mode proposer).
   */
  readonly deliver?: boolean;
  /**
   * Leader election with a lease (leadership.ts): only the leader proposes client values, the
   * others forward them to it. Absent: every proposer proposes, as in LibPaxos3.
   */
  readonly leadership?: LeadershipOptions;
}

/**
 * A proposer fed by a learner that listens to the same accepted messages (acceptors broadcast them
 * to proposers anyway). Knowing which instances are decided, the proposer re-queues displaced
 * values safely (B11) and re-runs instances whose decisions stall (holes, split ballots). It is
 * the split-mode proposer; a `Replica` adds an acceptor and delivers.
 *
 * With leadership on it also takes part in leader election: it campaigns and renews through
 * master operations in the log, proposes client values only while it holds the lease, and
 * otherwise forwards them to the leader (`Forwarder`), keeping them until they are decided.
 */
export class LearningProposer {
  readonly proposer: Proposer;
  readonly learner: Learner;
  /** Instances decided by the last input, in order, no-ops included (as `Learner.lastDecided`). */
  readonly lastDecided: Decision[] = [];
  private readonly deliver: boolean;
  private readonly leadership: Leadership | undefined;
  private readonly forwarder: Forwarder | undefined;
  private now = 0;
  /** The leader this node last forwarded to (−1: none). */
  private forwardingTo = -1;
  /** The instance a snapshot installed by the last input moved this node to (0: none). */
  private installed = 0;
  /** Split mode: the last `learned` record written, and when. */
  private learnedWritten = 0;
  private learnedAt = Number.NEGATIVE_INFINITY;

  constructor(options: LearningProposerOptions, recovered?: ProposerRecovered) {
    const { learner, deliver, leadership, ...proposer } = options;
    this.deliver = deliver ?? false;
    this.proposer = new Proposer({ ...proposer, fedDecisions: true, led: leadership !== undefined }, recovered);
    // A learner that only informs the proposer wants whole Paxos values: no unpacking.
    this.learner = new Learner({ ...learner, acceptors: options.acceptors, ...(this.deliver ? {} : { batched: false }) });
    if (leadership !== undefined) {
      this.leadership = new Leadership(leadership, this.proposer.id, options.seed ?? this.proposer.id);
      const maxQueue = requireInt('maxQueue', options.maxQueue ?? 1 << 17, 1, 1 << 26);
      this.forwarder = new Forwarder(maxQueue, 2 * leadership.leaseMs, (options.batchMaxValues ?? 0) > 0);
    }
    const learned = recovered?.learned ?? 0;
    if (!this.deliver && learned > 0) {
      // A split-mode proposer restarts where it had learned to, not at instance 1: what lies
      // below is decided, and it holds no value of its own there any more.
      this.learnedWritten = learned;
      this.learner.setInstanceId(learned);
      this.proposer.setInstanceId(learned, newEffects());
      this.proposer.decided(learned, new Uint8Array(0), newEffects());
    }
  }

  get id(): number {
    return this.proposer.id;
  }

  /** Client values this node still holds: in its proposer, or forwarded and not yet decided. */
  *heldValues(): IterableIterator<Uint8Array> {
    yield* this.proposer.heldValues();
    if (this.forwarder !== undefined) yield* this.forwarder.values();
  }

  // ---- leadership (all false/undefined with leadership off) ----

  /** The election state (for inspection: the simulator's checks, metrics), if leadership is on. */
  get leadershipState(): Leadership | undefined {
    return this.leadership;
  }

  /** Whether this node holds the leader lease at `now` (its monotonic clock, as in ticks). */
  isLeader(now: number): boolean {
    return this.leadership?.isLeader(now) ?? false;
  }

  /** The leader as this node sees it at `now`, or undefined (none known, or leadership off). */
  leader(now: number): LeaderView | undefined {
    return this.leadership?.leader(now);
  }

  /**
   * The linearizable-read hook: true when this node holds the lease at `now`, has recovered every
   * instance an earlier leader may have started, and has applied everything it proposed — so the
   * state it has applied includes every write any client was told about, and a read of it now
   * is linearizable without a round trip through the log. Ask with a fresh clock.
   */
  canReadLocally(now: number): boolean {
    return (
      this.isLeader(now) &&
      this.proposer.isLeading &&
      this.proposer.recovered &&
      this.learner.nextIid > Math.max(this.proposer.readBarrier, this.leadership?.version ?? 0)
    );
  }

  /**
   * A planned handover (before a restart, say): give up the lease now and tell the others. This
   * node does not campaign for three leases unless another takes over first (`Leadership.resign`).
   */
  dropLeadership(out: Effects): void {
    this.clearLast();
    const op = this.leadership?.resign(this.now, this.proposer.openLimit, out);
    if (op === undefined) return;
    // Proposed while the proposer still leads, so it takes the next prepared instance, right
    // after the accepts in flight; then client values go to the forwarder until a new leader.
    this.proposer.proposeControl(op, out);
    this.follow(out);
  }

  // ---- inputs ----

  step(input: Input, out: Effects): void {
    this.clearLast();
    dispatchInput('a learning proposer', this, input, out);
  }

  decided(iid: number, value: Uint8Array, out: Effects): void {
    this.clearLast();
    this.proposer.decided(iid, value, out);
    this.settle(out);
  }

  setInstanceId(iid: number, out: Effects, master?: MasterState): void {
    this.clearLast();
    const skips = iid >= this.learner.nextIid;
    this.proposer.setInstanceId(iid, out);
    this.learn({ kind: 'set-instance-id', iid }, out);
    if (this.leadership !== undefined && skips) this.rejudge(master, out);
    this.settle(out);
  }

  /** Leadership's log-determined state as of the last instance learned (see `Leadership.state`). */
  masterState(): MasterState | undefined {
    return this.leadership?.state();
  }

  /** Leadership's state as of instance `iid`, for an application checkpoint of it (see `Leadership.stateAsOf`). */
  masterStateAsOf(iid: number): MasterState | undefined {
    return this.leadership?.stateAsOf(iid);
  }

  /**
   * A connection to acceptor `peer` came up: its proposer sends it again what it has not answered
   * (`Proposer.acceptorConnected`), its learner asks it for what it missed (`Learner.acceptorConnected`).
   */
  acceptorConnected(peer: PeerId, out: Effects): void {
    this.clearLast();
    this.proposer.acceptorConnected(peer, out);
    this.learn({ kind: 'acceptor-connected', peer }, out);
  }

  /** Ask every acceptor to trim instances ≤ iid. */
  trim(iid: number, out: Effects): void {
    this.clearLast();
    this.learn({ kind: 'trim', iid }, out);
  }

  tick(now: number, out: Effects): void {
    this.clearLast();
    this.now = now;
    // A lease that ran out stops the proposer before it acts on this tick (resends included).
    if (this.leadership !== undefined && this.proposer.isLeading && !this.leadership.isLeader(now)) this.changed(out);
    this.proposer.tick(now, out);
    this.learn({ kind: 'tick', now }, out);
    const learned = this.learner.nextIid - 1;
    if (!this.deliver && learned > this.learnedWritten && now - this.learnedAt >= LEARNED_EVERY_MS) {
      this.learnedWritten = learned;
      this.learnedAt = now;
      out.persist.push({ kind: 'learned', iid: learned });
    }
    const leadership = this.leadership;
    if (leadership === undefined) return;
    // A rejoined replica does not campaign before it learned past its fence: a leader must
    // recover what earlier leaders started, and its proposer opens nothing at or below it. Not
    // even after a lease of being behind (the escape for holes only a leader fills): its campaign
    // would go to fence + 1, up to its window plus phase-2 limit (over a thousand instances)
    // above the log, and leave every instance in between for the real leader to fill (its
    // renewals filled them one by one: sim seed 6 with acceptor wipes forced). The holes below
    // its fence are the other replicas' to fill; one of them leads meanwhile.
    const pastFence = this.learner.nextIid > this.proposer.fenceIid;
    const caughtUp = this.learner.highestSeen < this.learner.nextIid && pastFence;
    const action = leadership.tick(now, caughtUp, this.proposer.openLimit, out, pastFence);
    this.changed(out);
    if (action.propose !== undefined) this.proposer.proposeControl(action.propose, out);
    const leader = leadership.leader(now);
    if (leader !== undefined && leader.id !== this.id) this.forwarder?.tick(leader.id, now, out);
    this.settle(out);
  }

  /** A snapshot transfer message from a peer, for this node's learner. */
  receiveSnapshot(from: PeerId, msg: SnapshotMessage, out: Effects): void {
    this.clearLast();
    this.learn({ kind: 'snapshot', from, msg }, out);
    this.settle(out);
  }

  /** A snapshot file step finished (see `Learner.snapshotIo`). */
  snapshotIo(result: SnapshotIoResult, out: Effects): void {
    this.clearLast();
    this.learn({ kind: 'snapshot-io', result }, out);
    this.settle(out);
  }

  /** The instance a snapshot installed by the last input moved this node to (0: none). */
  get lastInstalled(): number {
    return this.installed;
  }

  /** Forgets what the last input reported (`lastDecided`, `lastInstalled`): a replica's acceptor input. */
  clearLast(): void {
    emptyArray(this.lastDecided);
    this.installed = 0;
  }

  /** Submit a client value. */
  propose(value: Uint8Array, out: Effects): void {
    this.clearLast();
    this.route(value, false, out);
  }

  /** The shell's turn ends (see the proposer's `bindAtEndOfBatch`). */
  endOfBatch(out: Effects): void {
    this.clearLast();
    this.proposer.endOfBatch(out);
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    this.clearLast();
    if (msg.type === 'client_value' && this.leadership !== undefined) {
      this.route(msg.value, true, out);
      return;
    }
    // Moving past a trim point makes the master operations in between unknown: stop leading first,
    // before the proposer acts on the trim point.
    const jumps = msg.type === 'acceptor_state' && !this.deliver && msg.trimIid >= this.learner.nextIid;
    if (jumps && this.leadership !== undefined) this.rejudge(undefined, out);
    this.proposer.receive(from, msg, out);
    if (msg.type === 'accepted' || (msg.type === 'acceptor_state' && this.deliver)) {
      const delivered = out.deliver.length;
      this.learner.receive(from, msg, out);
      this.learned(delivered, out);
    } else if (jumps) {
      // This learner only informs the proposer: it may skip what acceptors trimmed (and decide an
      // instance it had closed just above them).
      this.learn({ kind: 'set-instance-id', iid: msg.trimIid }, out);
    }
    this.settle(out);
  }

  /** A digest vote (accepted-digest.ts): the learner counts it only with a value it holds and checked. */
  receiveDigest(from: PeerId, msg: AcceptedDigestMsg, out: Effects): void {
    this.clearLast();
    const delivered = out.deliver.length;
    this.learner.receiveDigest(from, msg, out);
    this.learned(delivered, out);
    // The learner may be done with the instance (delivered, or closed on other votes) while the
    // proposer still waits for its own accepts to reach a quorum (see Proposer.decided): the value
    // of its own accept for that ballot is the one the vote is for, once the digest matches.
    if (this.learner.lastResolved.length === 0) {
      const value = this.proposer.acceptValue(msg.iid, msg.valueBallot);
      if (value !== undefined) {
        if (digestMatches(value, msg)) this.proposer.receive(from, { type: 'accepted', aid: msg.aid, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.valueBallot, value }, out);
        else out.events.push({ kind: 'digest-mismatch', iid: msg.iid, ballot: msg.valueBallot, aid: msg.aid });
      }
    }
    this.settle(out);
  }

  /**
   * The value of an accept this node's acceptor received (a replica that takes digest votes: see
   * `Learner.holdValue`). Does not clear what the acceptor's input reported.
   */
  holdValue(iid: number, ballot: number, value: Uint8Array, out: Effects): void {
    const delivered = out.deliver.length;
    this.learner.holdValue(iid, ballot, value, out);
    this.learned(delivered, out);
    this.settle(out);
  }

  /**
   * A proposer that does not lead may still get client values back (a displaced value re-queued,
   * an accept abandoned to the new leader): they go to the forwarder, never into an instance.
   */
  private settle(out: Effects): void {
    if (this.leadership !== undefined && !this.proposer.isLeading && this.proposer.queueLength > 0) this.follow(out);
  }

  /**
   * A client value: proposed here while this node leads (or without leadership), else forwarded.
   * `fromNetwork`: it came in a client_value message (from a client, or forwarded by a peer).
   */
  private route(value: Uint8Array, fromNetwork: boolean, out: Effects): void {
    if (this.leadership === undefined || this.proposer.isLeading) {
      this.proposer.propose(value, out, fromNetwork && this.leadership !== undefined);
      return;
    }
    const forwarder = this.forwarder as Forwarder;
    if (!forwarder.add(value, fromNetwork)) {
      out.events.push({ kind: 'value-lost', reason: 'queue-full', iid: 0, value });
      return;
    }
    const leader = this.leadership.leader(this.now);
    if (leader !== undefined && leader.id !== this.id) forwarder.forward(leader.id, this.now, false, out);
  }

  private learn(input: Input, out: Effects): void {
    const delivered = out.deliver.length;
    this.learner.step(input, out);
    this.learned(delivered, out);
  }

  /**
   * After the learner took an input (its deliveries start at `delivered` in `out`). The hot inputs
   * (accepted, digest votes, held values) call the learner directly and then this: an Input object
   * or a closure for each was garbage for every message.
   */
  private learned(delivered: number, out: Effects): void {
    if (!this.deliver) truncate(out.deliver, delivered);
    // Digest votes the learner counted are accepted messages like any other for the proposer.
    for (const m of this.learner.lastResolved) this.proposer.receive(m.aid, m, out);
    // A checkpoint was installed: everything up to it is decided, the proposer moves past it, and
    // leadership takes the state the checkpoint carried (as a restart from it does), or, without
    // one, knows it skipped master operations it cannot judge.
    if (this.learner.lastInstalled > 0) {
      this.installed = this.learner.lastInstalled;
      if (this.leadership !== undefined) this.rejudge(this.learner.lastInstalledMaster, out);
      this.proposer.setInstanceId(this.installed, out);
    }
    for (const d of this.learner.lastDecided) {
      this.lastDecided.push(d);
      const control = this.leadership !== undefined ? controlValue(d.value) : undefined;
      // Another node's master operation, effective or not, moves the last operation past the
      // version a campaign or resignation of this node's still under way carries: that can only
      // be decided in vain now, and on its way it completes whatever values its phase 1 finds
      // (P2c), instance after instance, preempting a new leader there: after the leader's
      // recovery, a value it never saw chosen under its lease (sim seed 5019 with planned
      // handovers: a lease read missed it). Dropped before the proposer takes the decision, which
      // would move a displaced campaign on to the next instance; and again once leadership has
      // moved (a renewal of a leader that just lost the lease).
      const othersOp = control?.kind === 'master-op' && control.op.node !== this.id;
      if (othersOp) this.proposer.abandonControl();
      this.proposer.decided(d.iid, d.value, out);
      if (this.leadership === undefined) continue;
      if (control?.kind === 'master-op') {
        if (this.leadership.learn(d.iid, control.op, out)) this.changed(out);
        if (othersOp) this.proposer.abandonControl();
      } else {
        // Client values, and a checkpoint report this node forwarded to the leader: done.
        this.forwarder?.decided(d.value);
      }
    }
  }

  /**
   * The learner skipped instances (a trim point, a checkpoint): leadership takes the state `master`
   * carries, or knows it cannot judge the operations it skipped. A master operation of this node's
   * under way was made on what it knew before them, which may have made it void; and past the skip
   * it would never learn the other node's operation that drops it (`learned`), so it would go on
   * from instance to instance above the skip point completing what it finds there: it is dropped.
   */
  private rejudge(master: MasterState | undefined, out: Effects): void {
    const leadership = this.leadership as Leadership;
    if (master !== undefined) leadership.restore(master, this.now, out);
    else leadership.jump(this.now, out);
    this.changed(out);
    this.proposer.abandonControl();
  }

  /** After leadership may have changed hands: move the proposer and the forwarded values along. */
  private changed(out: Effects): void {
    const leadership = this.leadership as Leadership;
    const forwarder = this.forwarder as Forwarder;
    if (leadership.isLeader(this.now)) {
      if (this.proposer.isLeading) return;
      this.forwardingTo = -1;
      // Complete whatever earlier leaders may have started (see Proposer.takeover), then
      // propose what this node was holding for them.
      this.proposer.takeover(leadership.version + leadership.maxOpenLimit, out);
      for (const v of forwarder.takeAll()) this.proposer.propose(v, out);
      return;
    }
    this.follow(out);
  }

  /** This node does not lead: hand its proposer's queue to the forwarder, and forward to the leader. */
  private follow(out: Effects): void {
    const forwarder = this.forwarder as Forwarder;
    this.proposer.stopLeading();
    // Kept once each: copies forwarded here by several peers around a change of leader collapse,
    // or every change would multiply them.
    for (const v of this.proposer.drainQueue()) {
      if (!forwarder.add(v, true)) out.events.push({ kind: 'value-lost', reason: 'queue-full', iid: 0, value: v });
    }
    const leader = (this.leadership as Leadership).leader(this.now);
    if (leader === undefined || leader.id === this.id) return;
    // A new leader gets everything this node holds; the same one only what it has not had.
    forwarder.forward(leader.id, this.now, leader.id !== this.forwardingTo, out);
    this.forwardingTo = leader.id;
  }
}

import { Acceptor, type AcceptorOptions, type AcceptorRecovered } from './acceptor.js';
import type { Decision, Effects, PeerId } from './effects.js';
import type { Input } from './input.js';
import type { LeaderView, LeadershipOptions, MasterState } from './leadership.js';
import { assertNever } from './assert.js';
import { LearningProposer } from './learning-proposer.js';
import type { Learner, LearnerOptions } from './learner.js';
import type { Message } from './messages.js';
import type { AcceptedDigestMsg } from './accepted-digest.js';
import type { Proposer, ProposerOptions, ProposerRecovered } from './proposer.js';
import type { SnapshotIoResult, SnapshotMessage } from './snapshot-messages.js';

export interface ReplicaOptions {
  /** Replica id: acceptor id and proposer id at once (LibPaxos3 §4.5). */
  readonly id: number;
  /** Number of replicas (each one is an acceptor). */
  readonly replicas: number;
  readonly acceptor?: Omit<AcceptorOptions, 'id'>;
  readonly proposer?: Omit<ProposerOptions, 'id' | 'acceptors'>;
  readonly learner?: Omit<LearnerOptions, 'acceptors'>;
  /** Leader election with a lease (leadership.ts); absent, every replica proposes, as in LibPaxos3. */
  readonly leadership?: LeadershipOptions;
  /**
   * This replica takes digest votes (accepted-digest.ts) from peers it told so: its learner holds
   * the value of every accept its acceptor accepts, which is what those votes are checked
   * against. Default false (LibPaxos3's full accepted messages only).
   */
  readonly acceptedDigests?: boolean;
}

export interface ReplicaRecovered {
  readonly acceptor?: AcceptorRecovered;
  readonly proposer?: ProposerRecovered;
}

/**
 * Acceptor + proposer + learner in one state machine, as LibPaxos3's replica: messages go to every
 * role subscribed to their type (acceptor, then proposer, then learner), and every instance the
 * learner decides is fed to the proposer (LibPaxos3's deliver hook calls set-instance-id), which
 * is also how the proposer learns whether a displaced value was chosen (B11).
 */
export class Replica {
  readonly id: number;
  readonly acceptor: Acceptor;
  private readonly lp: LearningProposer;
  private readonly holdsValues: boolean;

  constructor(options: ReplicaOptions, recovered?: ReplicaRecovered) {
    this.id = options.id;
    this.holdsValues = options.acceptedDigests ?? false;
    this.acceptor = new Acceptor({ ...options.acceptor, id: options.id }, recovered?.acceptor);
    this.lp = new LearningProposer(
      {
        ...options.proposer,
        id: options.id,
        acceptors: options.replicas,
        deliver: true,
        ...(options.learner ? { learner: withReporterIds(options.learner, options.replicas) } : {}),
        ...(options.leadership ? { leadership: options.leadership } : {}),
      },
      recovered?.proposer,
    );
  }

  get proposer(): Proposer {
    return this.lp.proposer;
  }

  get learner(): Learner {
    return this.lp.learner;
  }

  /** Instances decided by the last input, in order, no-ops included (as `Learner.lastDecided`). */
  get lastDecided(): readonly Decision[] {
    return this.lp.lastDecided;
  }

  step(input: Input, out: Effects): void {
    if (input.kind === 'message') this.receive(input.from, input.msg, out);
    else if (input.kind === 'tick') this.tick(input.now, out);
    else this.lp.step(input, out);
  }

  tick(now: number, out: Effects): void {
    this.acceptor.tick(now, out);
    this.lp.tick(now, out);
  }

  /** A digest vote from a peer acceptor (accepted-digest.ts), for this replica's learner and proposer. */
  receiveDigest(from: PeerId, msg: AcceptedDigestMsg, out: Effects): void {
    this.lp.receiveDigest(from, msg, out);
  }

  /** A connection to a peer replica's acceptor came up, for this replica's proposer and learner (`LearningProposer.acceptorConnected`). */
  acceptorConnected(peer: PeerId, out: Effects): void {
    this.lp.acceptorConnected(peer, out);
  }

  /** A snapshot transfer message from a peer, for this replica's learner. */
  receiveSnapshot(from: PeerId, msg: SnapshotMessage, out: Effects): void {
    this.lp.receiveSnapshot(from, msg, out);
  }

  /** A snapshot file step finished (see `Learner.snapshotIo`). */
  snapshotIo(result: SnapshotIoResult, out: Effects): void {
    this.lp.snapshotIo(result, out);
  }

  /** At a restart from a checkpoint of instance `iid`: the checkpoint reports it carries (see `Learner.restoreReports`). */
  restoreReports(reports: readonly (readonly [number, number])[], iid: number): void {
    this.lp.learner.restoreReports(reports, iid);
  }

  /** Whether `node` should report its checkpoint of `iid` (see `Learner.wantsReport`). */
  wantsReport(node: number, iid: number): boolean {
    return this.lp.learner.wantsReport(node, iid);
  }

  /** The checkpoint reports a checkpoint of instance `iid` must carry (see `Learner.reportsAsOf`). */
  reportsAsOf(iid: number): [number, number][] {
    return this.lp.learner.reportsAsOf(iid);
  }

  /** The instance a snapshot installed by the last input moved this replica to (0: none). */
  get lastInstalled(): number {
    return this.lp.lastInstalled;
  }

  /** Submit a client value to this replica's proposer. */
  propose(value: Uint8Array, out: Effects): void {
    this.lp.propose(value, out);
  }

  /** The shell's turn ends (see the proposer's `bindAtEndOfBatch`). */
  endOfBatch(out: Effects): void {
    this.lp.endOfBatch(out);
  }

  /** The learning proposer inside (the proposer, its learner, and leadership if on). */
  get learningProposer(): LearningProposer {
    return this.lp;
  }

  /** Whether this replica holds the leader lease at `now` (see LearningProposer). */
  isLeader(now: number): boolean {
    return this.lp.isLeader(now);
  }

  /** The leader as this replica sees it at `now`. */
  leader(now: number): LeaderView | undefined {
    return this.lp.leader(now);
  }

  /** The linearizable-read hook (see LearningProposer.canReadLocally). */
  canReadLocally(now: number): boolean {
    return this.lp.canReadLocally(now);
  }

  /**
   * A planned handover: give up the lease now and tell the others. This node does not campaign
   * for three leases unless another takes over first (`Leadership.resign`).
   */
  dropLeadership(out: Effects): void {
    this.lp.dropLeadership(out);
  }

  /** Leadership's log-determined state as of the last instance learned (see `Leadership.state`). */
  masterState(): MasterState | undefined {
    return this.lp.masterState();
  }

  /** Leadership's state as of instance `iid`, for an application checkpoint of it (see `Leadership.stateAsOf`). */
  masterStateAsOf(iid: number): MasterState | undefined {
    return this.lp.masterStateAsOf(iid);
  }

  /** Client values this replica's proposer still holds. */
  heldValues(): IterableIterator<Uint8Array> {
    return this.lp.heldValues();
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    switch (msg.type) {
      case 'accept':
        this.lp.clearLast();
        this.acceptor.receive(from, msg, out);
        // Held only when this acceptor accepted it: then it is the value of (iid, ballot) (one value
        // per ballot) and costs nothing more (the acceptor keeps these bytes anyway). A refused
        // accept (a stale one, or any peer's with a low ballot) is not held: that would let anyone
        // who reaches the port fill this replica's memory, and the digest votes for a ballot it
        // refused wait for their quorum and are repeated in full instead.
        if (this.holdsValues) {
          const rec = this.acceptor.record(msg.iid);
          if (rec !== undefined && rec.valueBallot === msg.ballot) this.lp.holdValue(msg.iid, msg.ballot, rec.value, out);
        }
        return;
      case 'prepare':
      case 'repeat':
      case 'trim':
        this.lp.clearLast();
        this.acceptor.receive(from, msg, out);
        return;
      case 'promise':
      case 'preempted':
      case 'client_value':
      case 'accepted':
      case 'acceptor_state':
        this.lp.receive(from, msg, out);
        return;
      default:
        assertNever(msg, 'message');
    }
  }
}

/** Replicas report checkpoints under their ids: reports from any other node id are not counted (CheckpointTrim's `nodes`). */
function withReporterIds(learner: Omit<LearnerOptions, 'acceptors'>, replicas: number): Omit<LearnerOptions, 'acceptors'> {
  const trim = learner.checkpointTrim;
  if (trim === undefined || trim.nodes !== undefined) return learner;
  return { ...learner, checkpointTrim: { ...trim, nodes: replicas } };
}

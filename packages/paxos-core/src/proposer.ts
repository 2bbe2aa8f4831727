import { InvariantError, invariant } from './assert.js';
import { MAX_ROUND, ballotOf, roundAbove, roundOf } from './ballot.js';
import { batchCost, decodeBatch, encodeBatch } from './batch.js';
import { EMPTY, NOOP, bytesEqual } from './bytes.js';
import { PaxosConfigError, requireInt } from './config-error.js';
import { drop, type Effects, type PeerId } from './effects.js';
import { IidHeap } from './iid-heap.js';
import { controlValue } from './control-value.js';
import { dispatchInput, type Input } from './input.js';
import { decodeMasterOp } from './master-op.js';
import { MAX_ACCEPTORS, MAX_PROPOSERS, MAX_UINT32, isUint32, quorumSize } from './limits.js';
import type { AcceptMsg, AcceptedMsg, Message, PreemptedMsg, PrepareMsg, PromiseMsg } from './messages.js';
import { Prng } from './prng.js';
import { ValueQueue } from './value-queue.js';
import { InstanceVotes } from './votes.js';

export interface ProposerOptions {
  /** 0..9: the ballot's low digit (LibPaxos3). */
  readonly id: number;
  /** Number of acceptors (quorum = floor(n/2)+1). */
  readonly acceptors: number;
  /**
   * `proposer-preexec-window`: how many instances to keep in phase 1 ahead of need (LibPaxos3:
   * 128). 0 is refused: LibPaxos3 then never proposes at all (B7).
   */
  readonly preexecWindow?: number;
  /** `proposer-timeout` in ms: resend an unanswered prepare/accept after this long (LibPaxos3: 1 s). */
  readonly timeoutMs?: number;
  /** Seed for backoff jitter (default: the id). */
  readonly seed?: number;
  /** Client values held at most; more are refused with a `value-lost` event. */
  readonly maxQueue?: number;
  /** Instances in phase 2 at most; further prepared instances wait (default 1024, or 2 with batching). */
  readonly maxAccepting?: number;
  /** Backoff after the k-th preemption of one instance is uniform in [0, min(max, base·2^(k−1))). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Rounds reserved per durable round-floor write (B2). */
  readonly roundChunk?: number;
  /** After the last client value, keep refilling the phase-1 window this long. */
  readonly idleAfterMs?: number;
  /**
   * A learner feeds this proposer every decision, in order (`decided`), as in a replica or a
   * `LearningProposer`; then the proposer re-runs instances whose decisions stall.
   */
  readonly fedDecisions?: boolean;
  /**
   * Batching (ours, cluster-wide; learners must be told too): up to this many queued client
   * values go into one Paxos value. 0, the default, is LibPaxos3's one value per instance.
   */
  readonly batchMaxValues?: number;
  /** A batch stops growing before it would exceed this many bytes (one value always fits). */
  readonly batchMaxBytes?: number;
  /**
   * With batching: client values that arrive are bound into instances at the shell's
   * `end-of-batch` input (or the next tick, or when an instance frees up), not one by one as
   * they arrive, so the values of one event-loop turn share an instance instead of the first
   * taking an instance alone. Without an `end-of-batch` input they wait for the next tick.
   */
  readonly bindAtEndOfBatch?: boolean;
  /**
   * Leadership is on (leadership.ts): the proposer opens instances only while it leads (see
   * `setLeading`), never further than `openLimit` beyond its last decided instance, so that a
   * successor knows how far it may have reached. Off, it behaves as LibPaxos3's, always leading.
   */
  readonly led?: boolean;
}

/** What a proposer recovers at start: the round floor it persisted (0 on a fresh start). */
export interface ProposerRecovered {
  readonly roundFloor: number;
  /**
   * A split-mode `LearningProposer`: every instance up to this one was learned before the restart
   * (its `learned` records); it starts after it instead of at instance 1. Ignored by replicas, whose
   * application decides where to start (a checkpoint, or instance 1 as in LibPaxos3).
   */
  readonly learned?: number;
  /**
   * A replica that lost its storage and rejoined (rejoin.ts): its proposer opens no instance at or
   * below this one. Its lost incarnation may have used ballots there that no other acceptor
   * recorded; above the fence it used none, so no ballot of it can be used twice in an instance.
   */
  readonly fence?: number;
}

/**
 * At most this many bytes of values go again in accepts to an acceptor whose connection came up
 * (`Proposer.acceptorConnected`): an accept that would pass it waits for its timeout (a smaller one
 * after it may still go). Up to 1,024 accepts may be under way without batching: sent at once with
 * large values they could pass what the shell queues for one peer (evpaxos drops a connection past
 * 64 MiB), and the next connection would get the same burst.
 */
const RESEND_MAX_BYTES = 4 << 20;

interface Instance {
  readonly iid: number;
  ballot: number;
  phase: 1 | 2;
  /** The client value bound to this instance, if any. It is bound to no other instance. */
  own: Uint8Array | null;
  /** `own` went out in an accept for this instance, so it may have been chosen here. */
  ownSent: boolean;
  /** Highest-ballot value reported by this phase 1's promises (null: none reported). */
  promisedValue: Uint8Array | null;
  promisedVb: number;
  /** Acceptors that promised (phase 1) at `ballot`, as a bit mask. */
  acks: number;
  ackCount: number;
  /** When phase 1 reached a quorum (for the hole timeout). */
  preparedAt: number;
  /** When the current prepare/accept was last sent. */
  sentAt: number;
  /** Backoff: the prepare for `ballot` goes out at this time; −1 when not waiting. */
  retryAt: number;
  /** Consecutive preemptions, for the backoff. */
  attempts: number;
  /** Phase 2: the value in our accept (kept for resends). */
  proposal: Uint8Array;
  /** Re-running a stuck instance: if phase 1 finds nothing there, it is a hole. */
  recovery: boolean;
  /** An accept went out for this instance (at any ballot): acceptors' value ballots may now differ. */
  acceptSent: boolean;
  /** The value a learner reported decided here, if any. */
  decided: Uint8Array | null;
  /** `own` is a master operation (leadership.ts), not a client value: never re-queued or reported. */
  control: boolean;
  /** How many client values `own` holds (a batch holds several); 0 for a master operation. */
  ownCount: number;
  /** A `chosen` event was reported for this instance. */
  reported: boolean;
  /** Opened by a new leader's takeover: counted until phase 1 reaches a quorum here. */
  takeover: boolean;
  /** Opened by a takeover: a hole below instances in use is closed at once, without a timeout. */
  urgent: boolean;
  /** Accepted votes seen for this instance (any proposer's), allocated on the first one. */
  votes: InstanceVotes | null;
}

/**
 * A Multi-Paxos proposer (LibPaxos3 §4.2) with its shell policy (pre-execution window, try-accept,
 * resend on timeout) moved into the core, and LibPaxos3's bugs fixed:
 * - B2: ballots come from a durable round floor, so a restart never reuses a ballot;
 * - B10: a preempted instance jumps straight past the competing ballot and backs off with jitter;
 * - B11: a displaced value is re-queued only when its instance is known to have chosen another
 *   value (from the acceptors' accepted broadcasts, or from the local learner in replica mode);
 * - holes below the highest instance in use are closed with no-ops;
 * - every buffer is bounded.
 */
export class Proposer {
  readonly id: number;
  readonly quorum: number;
  private readonly acceptors: number;
  private readonly window: number;
  private readonly timeoutMs: number;
  /**
   * No open instance has a resend or a retry due before this (a lower bound: every send and
   * every backoff lowers it, and only a walk over the instances raises it).
   */
  private scanAt = -Infinity;
  private readonly maxQueue: number;
  private readonly maxAccepting: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly roundChunk: number;
  private readonly idleAfterMs: number;
  private readonly batchMaxValues: number;
  private readonly batchMaxBytes: number;
  /** `bindAtEndOfBatch` with batching on. */
  private readonly bindLater: boolean;
  /** Client values arrived since the last `end-of-batch` and were not bound yet. */
  private bindDue = false;
  private readonly prng: Prng;
  /** How far beyond the last decided instance a leading proposer opens instances (leadership on). */
  readonly openLimit: number;
  private readonly bounded: boolean;

  private readonly queue: ValueQueue;
  /** A master operation waiting for an instance; it goes alone, before any client value. */
  private control: Uint8Array | null = null;
  /** Leadership on: whether this proposer leads. Off: always true, as in LibPaxos3. */
  private leading: boolean;
  /** Takeover instances still without a phase-1 quorum. */
  private takeoverPending = 0;
  /** Highest iid this proposer sent an accept for. */
  private highestAccepted = 0;
  /** Highest iid this proposer ever opened, and the highest round it used for any ballot. */
  private highestOpened = 0;
  private maxRoundUsed = 0;
  /** Highest takeover instance whose phase 1 found an accepted value. */
  private takeoverFound = 0;
  private readonly instances = new Map<number, Instance>();
  /** Phase-1 instances by iid (lazily pruned: entries whose instance left phase 1 are skipped). */
  private readonly preparing = new IidHeap();
  private preparingCount = 0;
  private acceptingCount = 0;

  private now = 0;
  private started = false;
  /** When each acceptor was last sent its lost messages again (`acceptorConnected`), by acceptor id. */
  private readonly resentAt: number[];
  /** The last iid opened (LibPaxos3's next_prepare_iid). */
  private nextPrepareIid = 0;
  private maxTrimIid = 0;
  /** Rounds ≤ this may have been used; it is durable before any ballot of a higher round goes out. */
  private reservedRound: number;
  /** Round of new instances: above everything a previous incarnation may have used. */
  private readonly baseRound: number;
  /** Highest iid known to carry an accepted value (ours or anyone's). */
  private highestInUse = 0;
  private activeUntil = 0;
  /** Every instance id up to 2^32 − 1 has been opened: nothing new can be proposed. */
  private exhausted = false;
  /**
   * Fed by a learner (`decided`): the highest instance decided in order, and when that last moved.
   * When it stalls below instances in use, this proposer re-runs the stuck instances (see tick).
   */
  private readonly learns: boolean;
  private decidedUpTo = 0;
  private lastDecidedAt = 0;
  /**
   * The first instance not decided (decidedUpTo + 1): the highest ballot an accepted message named
   * for it, and when that rose. A proposer at work there shows as new accepts (repeat replies
   * carry old ballots), so an instance that is merely slow is not taken for a stuck one.
   */
  private frontierBallot = 0;
  private frontierActiveAt = Number.NEGATIVE_INFINITY;
  /** No instance at or below it is opened here (a rejoined replica: see ProposerRecovered.fence). */
  private readonly fence: number;
  /** The last campaign that yielded: its instance and the ballot it yielded to (see `preempt`). */
  private yielded: { readonly iid: number; readonly ballot: number } | undefined;
  private lastRecoveryAt = Number.NEGATIVE_INFINITY;
  /** Phase-1 round trips as this proposer saw them, averaged (0: none yet); see `preempt`. */
  private rttMs = 0;
  /**
   * How long decisions must stall before this proposer re-runs the stuck instances. With
   * leadership only the leader does, after a timeout. Without, every proposer may: two timeouts
   * (whoever started the instance resends after one: let it), plus a random share of a third,
   * drawn anew whenever decisions move. Proposers that all waited exactly one timeout re-ran the
   * same slow instance together and preempted its owner and each other there (sim seed 1106:
   * five replicas, 100 ms timeout against hops of up to 41 ms, duels of 60 prepares for one
   * instance); now one usually goes first and the others see its accepts.
   */
  private recoverWaitMs: number;

  constructor(options: ProposerOptions, recovered?: ProposerRecovered) {
    this.id = requireInt('proposer id', options.id, 0, MAX_PROPOSERS - 1);
    this.acceptors = requireInt('acceptor count', options.acceptors, 1, MAX_ACCEPTORS);
    this.quorum = quorumSize(this.acceptors);
    this.resentAt = new Array<number>(this.acceptors).fill(-Infinity);
    if (options.preexecWindow === 0) {
      throw new PaxosConfigError(
        'proposer-preexec-window must be at least 1: with 0 the proposer never opens an instance and nothing is ever proposed',
      );
    }
    this.window = requireInt('proposer-preexec-window', options.preexecWindow ?? 128, 1, 1 << 20);
    this.timeoutMs = requireInt('proposer-timeout (ms)', options.timeoutMs ?? 1000, 1, 86_400_000);
    this.maxQueue = requireInt('maxQueue', options.maxQueue ?? 1 << 17, 1, 1 << 26);
    // With batching, few instances in phase 2 at once is what makes batches grow with load:
    // while they are in flight, values queue, and the next prepared instance takes them all.
    const batching = (options.batchMaxValues ?? 0) > 0;
    this.maxAccepting = requireInt('maxAccepting', options.maxAccepting ?? (batching ? 2 : 1024), 1, 1 << 20);
    this.backoffBaseMs = requireInt('backoffBaseMs', options.backoffBaseMs ?? 2, 1, 60_000);
    this.backoffMaxMs = requireInt('backoffMaxMs', options.backoffMaxMs ?? Math.max(2, Math.floor(this.timeoutMs / 2)), 1, 3_600_000);
    this.roundChunk = requireInt('roundChunk', options.roundChunk ?? 100, 1, 1 << 20);
    this.idleAfterMs = requireInt('idleAfterMs', options.idleAfterMs ?? 2 * this.timeoutMs, 0, 86_400_000);
    this.prng = new Prng(options.seed ?? this.id);
    this.recoverWaitMs = (options.led ?? false) ? this.timeoutMs : 2 * this.timeoutMs;
    this.learns = options.fedDecisions ?? false;
    this.batchMaxValues = requireInt('batchMaxValues', options.batchMaxValues ?? 0, 0, 1 << 20);
    this.batchMaxBytes = requireInt('batchMaxBytes', options.batchMaxBytes ?? 1 << 20, 1, 1 << 30);
    this.bindLater = batching && options.bindAtEndOfBatch === true;
    this.bounded = options.led ?? false;
    // With leadership, copies of one value forwarded twice (around a change of leader, or sent
    // again by a follower that waited long) are merged while queued: see `propose`.
    this.queue = new ValueQueue(this.bounded);
    this.leading = !this.bounded;
    this.openLimit = this.window + this.maxAccepting;
    const floor = recovered?.roundFloor ?? 0;
    if (!Number.isInteger(floor) || floor < 0 || floor >= MAX_ROUND) {
      throw new PaxosConfigError(`recovered round floor ${String(floor)} is out of range 0..${MAX_ROUND - 1}`);
    }
    // B2: everything up to `floor` may have been used by an earlier incarnation.
    this.reservedRound = floor;
    this.baseRound = floor + 1;
    const fence = recovered?.fence ?? 0;
    this.fence = isUint32(fence) ? fence : MAX_UINT32;
    if (this.fence > 0) this.nextPrepareIid = Math.min(this.fence, MAX_UINT32);
  }

  // ---- inspection (tests, simulator checkers, metrics) ----

  get queueLength(): number {
    return this.queue.length;
  }

  get phase1Count(): number {
    return this.preparingCount;
  }

  get phase2Count(): number {
    return this.acceptingCount;
  }

  /** Whether this proposer leads (always, without leadership). */
  get isLeading(): boolean {
    return this.leading;
  }

  /**
   * A new leader has run phase 1 to a quorum on every instance its takeover opened, so every value
   * an earlier leader may have had chosen is now known to it (see `takeover`).
   */
  /** No instance at or below it is opened here (0: none; see ProposerRecovered.fence). */
  get fenceIid(): number {
    return this.fence;
  }

  get recovered(): boolean {
    return this.takeoverPending === 0;
  }

  /**
   * An instance a leader's reads wait for: the highest it sent an accept for, or found a value in
   * during its takeover (it may still have to send that accept: only two go out at a time with
   * batching). Once this is applied, every write a client was told about is applied.
   */
  get readBarrier(): number {
    return Math.max(this.highestAccepted, this.takeoverFound);
  }

  /** Every client value this proposer still holds: queued, or bound to an open instance. */
  *heldValues(): IterableIterator<Uint8Array> {
    yield* this.queue;
    for (const inst of this.instances.values()) if (inst.own !== null) yield* this.unpack(inst.own);
  }

  // ---- inputs ----

  step(input: Input, out: Effects): void {
    dispatchInput('a proposer', this, input, out);
  }

  receive(_from: PeerId, msg: Message, out: Effects): void {
    switch (msg.type) {
      case 'promise':
        this.onPromise(msg, out);
        return;
      case 'accepted':
        this.onAccepted(msg, out);
        return;
      case 'preempted':
        this.onPreempted(msg, out);
        return;
      case 'acceptor_state':
        if (msg.aid >= this.acceptors || !isUint32(msg.trimIid)) return drop(out, 'invalid', msg.type, msg.trimIid);
        if (msg.trimIid > this.maxTrimIid) {
          this.maxTrimIid = msg.trimIid;
          // Nothing at or below the trim point can be run again: acceptors ignore it.
          if (msg.trimIid > this.decidedUpTo) {
            this.decidedUpTo = msg.trimIid;
            this.frontierBallot = 0;
          }
          this.setInstanceId(msg.trimIid, out);
        }
        return;
      case 'client_value':
        this.propose(msg.value, out);
        return;
      case 'prepare':
      case 'accept':
      case 'repeat':
      case 'trim':
        drop(out, 'not-for-role', msg.type, 0);
        return;
    }
  }

  /** A client value to order (LibPaxos3: append to the queue, then try-accept). */
  /**
   * `forwarded`: it came over the network while leadership is on, so it may be a copy of a value
   * queued here already (a follower keeps every value it forwards until it sees it decided, and
   * sends it again to a new leader or after a long wait). A copy is merged while the first is
   * queued; the follower still sees one decision for its one value. (Two clients sending the same
   * bytes to the leader at the same moment are merged too: give values an id when that matters.)
   */
  propose(value: Uint8Array, out: Effects, forwarded = false): void {
    if (forwarded && this.queue.has(value)) return;
    const control = controlValue(value)?.kind;
    if (control === 'noop' || control === 'master-op') {
      // Learners skip no-ops (the empty value and NOOP's bytes) and act on master operations
      // instead of delivering them: a client's value with those bytes would vanish. (A checkpoint
      // report comes this way from its replica, or forwarded to the leader: see checkpoint-report.ts.)
      out.events.push({ kind: 'value-lost', reason: 'reserved', iid: 0, value });
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      out.events.push({ kind: 'value-lost', reason: 'queue-full', iid: 0, value });
      return;
    }
    this.queue.push(value);
    // A client value keeps the window full for a while (more usually follow). A checkpoint report
    // needs one instance and no more: every replica reports every few seconds, and when each
    // report kept its proposer pre-executing for idleAfterMs, every idle replica was opening the
    // same instances as the one with the clients' values, all the time, and they preempted each
    // other at every instance (seed 1293: 5 replicas decided 8 instances/s, too few to deliver
    // 1000 values within a minute of healing). The report still gets its instance: the queue is
    // not empty until it is bound.
    if (control === undefined) this.activeUntil = this.now + this.idleAfterMs;
    if (this.bindLater) {
      this.bindDue = true;
      return;
    }
    this.tryAccept(out);
  }

  /**
   * A connection to acceptor `peer` came up (the shell's `acceptor-connected` input): at start, or
   * after the connection was lost. What went to it before is lost with the old connection or the
   * refused dial (LibPaxos3 too: a peer's queue is dropped), and only the timeout (`timeoutMs`,
   * LibPaxos3's 1 s) would send it again: replicas started together, the first dialling the others
   * before they listen, took their first values 0.6–0.7 s late (`pnpm longrun`: the prepares of
   * the first instances were lost), and an instance whose quorum needs an acceptor that just came
   * back waited as long. Sent again to that acceptor only, unchanged (same ballot, same value: no
   * round to reserve): the accept of every instance in phase 2, lowest instance first (a re-run hole
   * is opened after newer instances), up to `RESEND_MAX_BYTES` of values, and a prepare it has not
   * promised. An acceptor answers a repeat as it answered the first (Paxos keeps no count), so a
   * message it did get (the shell flushes what it queued during a dial that succeeds) costs a
   * duplicate reply. At most once per timeout for each acceptor that was sent something, so that a
   * connection that keeps failing as it comes up is not sent the same burst each time; the timeout
   * stays as it was.
   */
  acceptorConnected(peer: PeerId, out: Effects): void {
    if (!this.started || !Number.isInteger(peer) || peer < 0 || peer >= this.acceptors) return;
    if (this.now - (this.resentAt[peer] as number) < this.timeoutMs) return;
    const bit = 1 << peer;
    const from = out.send.length;
    const accepting: Instance[] = [];
    const preparing: Instance[] = [];
    for (const inst of this.instances.values()) {
      // Waiting out a backoff (its prepare goes to everyone when due), or prepared: nothing to repeat.
      if (!this.awaitingReplies(inst)) continue;
      if (inst.phase === 2) accepting.push(inst);
      else if ((inst.acks & bit) === 0) preparing.push(inst);
    }
    // Accepts first (nearest to a decision), each kind by instance.
    accepting.sort(byIid);
    preparing.sort(byIid);
    let bytes = 0;
    for (const inst of accepting) {
      if (bytes > 0 && bytes + inst.proposal.length > RESEND_MAX_BYTES) continue;
      bytes += inst.proposal.length;
      out.send.push({ to: 'peer', peer, msg: acceptOf(inst) });
    }
    for (const inst of preparing) out.send.push({ to: 'peer', peer, msg: prepareOf(inst) });
    if (out.send.length > from) this.resentAt[peer] = this.now;
  }

  /** The shell's turn ends: bind the client values that arrived in it (see `bindAtEndOfBatch`). */
  endOfBatch(out: Effects): void {
    if (!this.bindDue) return;
    this.bindDue = false;
    this.tryAccept(out);
  }

  /**
   * Time passes: start on the first tick (LibPaxos3 pre-executes on the loop's next turn), send
   * backed-off prepares that are due, resend what timed out, close old holes.
   */
  tick(now: number, out: Effects): void {
    this.now = now;
    if (!this.started) {
      // LibPaxos3 pre-executes a window on start; we do too, but refill it only once client
      // values arrive, so idle replicas stop competing with the one that has clients.
      this.started = true;
      this.lastDecidedAt = now;
      this.preExecute(out, true);
    }
    if (now >= this.scanAt) this.resendDue(now, out);
    // Stuck, not slow: no decision and no new accept at the first undecided instance for a while
    // (`recoverWaitMs`). With a timeout near the time an instance takes (sim seed 812: 100 ms
    // against delays up to 42 ms a hop), idle proposers took every slow instance for a stuck one
    // and re-ran it, preempting the proposer that was finishing it, over and over.
    if (
      this.learns &&
      this.leading &&
      this.decidedUpTo < this.highestInUse &&
      now - Math.max(this.lastDecidedAt, this.frontierActiveAt) >= this.recoverWaitMs &&
      now - this.lastRecoveryAt >= this.recoverWaitMs
    ) {
      this.recover(out);
    }
    this.tryAccept(out);
  }

  /**
   * Decisions stalled below instances in use. Either a hole (a crashed proposer's instance that
   * no acceptor quorum accepted), or a value chosen once whose acceptors have since moved to
   * different ballots (an interrupted re-proposal), which no learner can count any more —
   * LibPaxos3's learners block on both forever. Re-run phase 1 on the stuck instances: it adopts
   * a chosen value (Paxos P2c) and closes a true hole with a no-op, and the fresh accept gives
   * learners one ballot to count again.
   */
  private recover(out: Effects): void {
    this.lastRecoveryAt = this.now;
    this.drawRecoverWait();
    const last = Math.min(this.highestInUse, this.decidedUpTo + this.window);
    for (let iid = Math.max(this.decidedUpTo, this.fence) + 1; iid <= last; iid++) {
      const inst = this.instances.get(iid);
      if (inst === undefined) this.open(iid, true, out);
      else inst.recovery = true;
    }
  }

  /**
   * Proposes a master operation (leadership.ts): alone in an instance, before any client value.
   * A leader takes the next prepared instance; a node that does not lead opens one instance above
   * everything it knows in use (a campaign), and nothing else.
   */
  proposeControl(value: Uint8Array, out: Effects): void {
    this.control = value;
    if (!this.leading && this.started) {
      // A campaign goes to the first instance learners wait for that this proposer is not
      // already finishing: a later one could sit behind instances nobody fills (a dead leader's
      // half-done ones) and never be learned. If phase 1 finds a value there, that value is
      // completed first (P2c) and the operation moves on to the next instance (`settleOwn`).
      let iid = Math.max(this.decidedUpTo, this.fence) + 1;
      while (this.instances.get(iid)?.acceptSent === true) iid++;
      if (iid > MAX_UINT32) return;
      this.dropWhere((inst) => inst.phase === 1 && !inst.acceptSent && inst.iid !== iid);
      if (!this.instances.has(iid)) {
        if (iid > this.nextPrepareIid) this.nextPrepareIid = iid;
        // Above the ballot an earlier campaign here yielded to: if that was a live candidate's it
        // has been decided or given up since, and if it was a proposer that is gone (crashed, or a
        // replica that lost its storage and now stays below its fence) nobody else would ever go
        // above it, and every campaign here would yield to it for ever.
        const y = this.yielded?.iid === iid ? roundAbove(this.yielded.ballot, this.id) : undefined;
        this.open(iid, false, out, y);
      }
      // Held for the operation: a preemption retries it above the competing ballot instead of
      // dropping it, as a proposer that does not lead drops other instances (see `preempt`).
      (this.instances.get(iid) as Instance).control = true;
    }
    this.tryAccept(out);
  }

  /**
   * Drops this proposer's master operation still under way, queued or in an instance, when it
   * does not lead (see LearningProposer: another node's operation was decided, which makes it
   * void), and the phase-1 instance `stopLeading` kept below a queued resignation. Instances
   * finishing a value already chosen stay (`decided`): lagging learners count their accepts.
   */
  abandonControl(): void {
    this.dropControl();
  }

  /** `abandonControl`, but for `keep`: an instance just decided, which its caller finishes as usual. */
  private dropControl(keep?: Instance): void {
    if (this.leading) return;
    this.control = null;
    this.dropWhere((inst) => inst !== keep && inst.decided === null && (inst.control || (inst.phase === 1 && !inst.acceptSent)));
  }

  /**
   * Leadership changed hands (leadership on). Losing it: stop opening instances and drop the
   * phase-1 work a leader had pre-executed, so as not to preempt the new leader; client values
   * not yet sent in an accept go back to the queue, for the LearningProposer to forward (see
   * `drainQueue`). Accepts already sent finish or are abandoned when preempted (see `preempt`).
   */
  stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    // A master operation still waiting (a resignation) keeps the lowest phase-1 instance: no
    // instance below it is left empty, so learners reach it.
    let keep = -1;
    if (this.control !== null) for (const inst of this.instances.values()) if (inst.phase === 1 && (keep < 0 || inst.iid < keep)) keep = inst.iid;
    this.dropWhere((inst) => inst.phase === 1 && !inst.acceptSent && !inst.control && inst.iid !== keep);
    this.takeoverPending = 0;
  }

  /**
   * Removes the instances `drop` picks (leadership changes, campaigns: not a per-message path); a
   * client value one carried goes back to the queue, a master operation's does not.
   */
  private dropWhere(drop: (inst: Instance) => boolean): void {
    for (const inst of [...this.instances.values()]) {
      if (!drop(inst)) continue;
      this.remove(inst);
      if (!inst.control && inst.own !== null) this.requeue(inst.own);
    }
  }

  /**
   * This node became leader (leadership on). The usual Multi-Paxos recovery: every instance from
   * the last decided one up to `through` gets phase 1 at this proposer's ballot, so that whatever
   * an earlier leader may have had accepted there is found and completed (Paxos P2c), and holes
   * below instances in use are closed with no-ops at once. `through` is the instance of the
   * master operation that made this node leader plus the largest `openLimit` any leader
   * announced: no earlier leader can have opened an instance beyond it, since a leader opens
   * none further than openLimit past its last decided instance and stops leading when it learns
   * of a newer master operation. Until phase 1 has a quorum on all of them, `recovered` is false.
   *
   * Phase 1 stays per instance, as LibPaxos3's prepare and promise name one instance and C
   * acceptors cannot promise a range. A stable leader pre-executes it a window ahead of need, so
   * it is off the critical path and, with no competing proposer, never preempted.
   */
  takeover(through: number, out: Effects): void {
    this.leading = true;
    this.takeoverPending = 0;
    const last = Math.min(MAX_UINT32, through);
    for (let iid = Math.max(this.decidedUpTo, this.fence) + 1; iid <= last; iid++) {
      let inst = this.instances.get(iid);
      if (inst === undefined) {
        this.open(iid, false, out);
        inst = this.instances.get(iid) as Instance;
      }
      inst.urgent = true;
      if (inst.phase === 1 && inst.ackCount < this.quorum) {
        inst.takeover = true;
        this.takeoverPending++;
      }
    }
    // Everything above `last` is new: nothing of an earlier leadership of this node is open there
    // in phase 1 (stopLeading dropped it), so pre-execution continues right after it.
    this.nextPrepareIid = Math.max(last, this.decidedUpTo, this.fence);
    this.activeUntil = this.now + this.idleAfterMs;
    this.tryAccept(out);
  }

  /** Client values queued here, taken out (a proposer that does not lead forwards them). */
  drainQueue(): Uint8Array[] {
    const values: Uint8Array[] = [];
    for (let v = this.queue.shift(); v !== undefined; v = this.queue.shift()) values.push(v);
    return values;
  }

  /**
   * The local learner decided `iid` (replica mode; LibPaxos3 calls set-instance-id from its
   * deliver hook). Knowing the decision settles our own value for that instance (B11).
   */
  decided(iid: number, value: Uint8Array, out: Effects): void {
    if (iid > this.decidedUpTo) {
      this.decidedUpTo = iid;
      this.lastDecidedAt = this.now;
      this.frontierBallot = 0;
      this.drawRecoverWait();
    }
    this.noteInUse(iid);
    const inst = this.instances.get(iid);
    if (inst !== undefined) {
      this.report(inst, value, out);
      this.settleOwn(inst, value, out);
      // Finish what we started: an accept of ours may have moved some acceptors to a newer value
      // ballot than the quorum that chose the value, so no single ballot may have a quorum any
      // more and a learner that missed the decision could never count it. Keep the instance until
      // our own accepts reach a quorum (seen in `onAccepted`); only phase-1 work is dropped.
      if (inst.acceptSent || inst.recovery) inst.decided = value;
      else this.remove(inst);
    }
    // LibPaxos3 calls set-instance-id here, which would also discard our unfinished accepts at
    // lower instances; a decision only moves where new instances open.
    if (iid > this.nextPrepareIid) this.nextPrepareIid = iid;
    // A campaign whose instance went to a value phase 1 found there (P2c) moves on to the next
    // instance at once, not at the next campaign: a dead leader may have left many such.
    if (!this.leading && this.control !== null && this.preparingCount === 0) this.proposeControl(this.control, out);
    this.tryAccept(out);
  }

  /**
   * Instances `≤ iid` are finished elsewhere (LibPaxos3's set-instance-id; also applied for an
   * acceptor's trim point). Instances there are discarded; their own values are re-queued only if
   * they never went out in an accept — otherwise nobody can tell any more whether they were chosen.
   */
  setInstanceId(iid: number, out: Effects): void {
    for (const inst of this.instances.values()) {
      if (inst.iid > iid) continue;
      this.remove(inst);
      if (inst.own === null) continue;
      if (!inst.ownSent) {
        this.requeue(inst.own);
        out.events.push({ kind: 'requeued', iid: inst.iid });
      } else {
        if (!inst.control) out.events.push({ kind: 'value-lost', reason: 'outcome-unknown', iid: inst.iid, value: inst.own });
      }
    }
    if (iid > this.nextPrepareIid) this.nextPrepareIid = Math.min(iid, MAX_UINT32);
    // Done is done: a campaign or a recovery must not start again below it.
    if (iid > this.decidedUpTo) {
      this.decidedUpTo = iid;
      this.lastDecidedAt = this.now;
      this.frontierBallot = 0;
    }
    this.tryAccept(out);
  }

  // ---- message handlers ----

  private onPromise(msg: PromiseMsg, out: Effects): void {
    if (!this.validAck(msg.aid, msg.iid, msg.ballot) || !isUint32(msg.valueBallot)) {
      return drop(out, 'invalid', 'promise', msg.iid);
    }
    const inst = this.instances.get(msg.iid);
    if (inst === undefined || inst.phase !== 1) return drop(out, 'unknown-instance', 'promise', msg.iid);
    if (msg.ballot < inst.ballot) return drop(out, 'stale', 'promise', msg.iid);
    if (msg.ballot > inst.ballot) {
      // The acceptor promised someone else a higher ballot (LibPaxos3's rejection signal).
      this.preempt(inst, msg.ballot, out);
      this.tryAccept(out);
      return;
    }
    if (inst.retryAt >= 0) return drop(out, 'stale', 'promise', msg.iid);
    const bit = 1 << msg.aid;
    if ((inst.acks & bit) !== 0) return drop(out, 'duplicate', 'promise', msg.iid);
    inst.acks |= bit;
    inst.ackCount++;
    if (msg.valueBallot > 0) {
      this.noteInUse(msg.iid);
      // Paxos P2c: propose the value accepted in the highest ballot any promise reports.
      if (inst.promisedValue === null || msg.valueBallot > inst.promisedVb) {
        inst.promisedValue = msg.value;
        inst.promisedVb = msg.valueBallot;
      }
    }
    if (inst.ackCount === this.quorum) {
      inst.preparedAt = this.now;
      // Phase 1 took a round trip (since the last prepare went out): what backoffs are scaled to.
      const rtt = this.now - inst.sentAt;
      this.rttMs = this.rttMs === 0 ? rtt : (this.rttMs * 7 + rtt) / 8;
      this.untakeover(inst);
      out.events.push({ kind: 'prepared', iid: inst.iid });
    }
    this.tryAccept(out);
  }

  private onAccepted(msg: AcceptedMsg, out: Effects): void {
    const { aid, iid, valueBallot: vb } = msg;
    if (!this.validAck(aid, iid, msg.ballot) || !isUint32(vb) || vb === 0) return drop(out, 'invalid', 'accepted', iid);
    this.noteInUse(iid);
    if (iid === this.decidedUpTo + 1 && msg.ballot > this.frontierBallot) {
      this.frontierBallot = msg.ballot;
      this.frontierActiveAt = this.now;
    }
    const inst = this.instances.get(iid);
    // Acceptors broadcast every accepted to every proposer: most are not about our instances.
    if (inst === undefined) return;
    if (inst.votes === null) inst.votes = new InstanceVotes();
    const count = inst.votes.add(aid, vb, msg.value);
    if (count < 0) return drop(out, 'duplicate', 'accepted', iid);
    if (count < this.quorum) return;
    // A quorum at one ballot: the value is chosen. But once we sent an accept (or re-run a stuck
    // instance) we finish only on a quorum at our own ballot or above: a quorum reported by
    // repeat replies may be stale, and our accept may already have moved some of those acceptors
    // to a newer value ballot, leaving no single ballot that learners could count.
    const need = inst.acceptSent || inst.recovery ? inst.ballot : 0;
    if (vb >= need) {
      this.chosen(inst, msg.value, out);
    } else {
      this.report(inst, msg.value, out);
      this.settleOwn(inst, msg.value, out);
      inst.decided = msg.value;
    }
    this.tryAccept(out);
  }

  /**
   * The value of this proposer's own accept for (iid, ballot), while the instance is in phase 2 at
   * that ballot: what a digest vote for that pair is checked against (accepted-digest.ts).
   */
  acceptValue(iid: number, ballot: number): Uint8Array | undefined {
    const inst = this.instances.get(iid);
    return inst !== undefined && inst.phase === 2 && inst.ballot === ballot ? inst.proposal : undefined;
  }

  private onPreempted(msg: PreemptedMsg, out: Effects): void {
    if (!this.validAck(msg.aid, msg.iid, msg.ballot)) return drop(out, 'invalid', 'preempted', msg.iid);
    const inst = this.instances.get(msg.iid);
    if (inst === undefined || inst.phase !== 2) return drop(out, 'unknown-instance', 'preempted', msg.iid);
    if (msg.ballot <= inst.ballot) return drop(out, 'stale', 'preempted', msg.iid);
    this.preempt(inst, msg.ballot, out);
    this.tryAccept(out);
  }

  // ---- the protocol ----

  /**
   * LibPaxos3's try-accept: take the smallest instance in phase 1; if it has a quorum, send an
   * accept for the promised value, else its own value, else the next queued value (else, for a
   * hole below instances in use that stayed idle for a timeout, a no-op). Repeat, then refill the
   * phase-1 window.
   */
  private tryAccept(out: Effects): void {
    while (this.acceptingCount < this.maxAccepting) {
      const top = this.preparing.peek();
      if (top === undefined) break;
      const inst = this.instances.get(top);
      if (inst === undefined || inst.phase !== 1) {
        this.preparing.pop();
        continue;
      }
      if (inst.retryAt >= 0 || inst.ackCount < this.quorum) break;
      let value: Uint8Array;
      if (inst.promisedValue !== null) {
        value = inst.promisedValue;
      } else if (inst.decided !== null) {
        // Phase 1 must find the decided value in any quorum; trimmed acceptors stay silent, so
        // never let a client value into a decided instance.
        value = inst.decided;
      } else {
        if (inst.own === null) this.bind(inst);
        if (inst.own !== null) {
          value = inst.own;
        } else if (inst.recovery || inst.acceptSent || (inst.iid < this.highestInUse && (inst.urgent || this.now - inst.preparedAt >= this.timeoutMs))) {
          // A hole. Fresh instances wait a timeout first, so an idle proposer does not race the
          // one about to use them; instances we are re-running or finishing close at once —
          // waiting there lets competing proposers preempt each other forever.
          value = NOOP;
          out.events.push({ kind: 'noop', iid: inst.iid });
        } else {
          break;
        }
      }
      this.preparing.pop();
      inst.phase = 2;
      this.preparingCount--;
      this.acceptingCount++;
      if (value === inst.own && !inst.ownSent) {
        inst.ownSent = true;
        if (!inst.control) out.events.push({ kind: 'proposed', iid: inst.iid, values: inst.ownCount, bytes: value.length });
      }
      inst.proposal = value;
      inst.acceptSent = true;
      this.sendAccept(inst, out);
    }
    this.preExecute(out);
  }

  /**
   * Keep `window` instances in phase 1 (LibPaxos3's pre-execution) while this proposer has client
   * values or had them recently, or when `force`d (the window LibPaxos3 opens at start). An idle
   * replica that kept opening instances would keep preempting the replica that does the work.
   */
  private preExecute(out: Effects, force = false): void {
    if (!this.started || !this.leading) return;
    if (!force && this.queue.length === 0 && this.control === null && this.now >= this.activeUntil) return;
    // With leadership on, never beyond openLimit past the last decided instance: a successor
    // recovers exactly that far (see `takeover`).
    const limit = this.bounded ? Math.min(MAX_UINT32, this.decidedUpTo + this.openLimit) : MAX_UINT32;
    while (this.preparingCount < this.window && this.nextPrepareIid < limit) {
      const iid = ++this.nextPrepareIid;
      if (!this.instances.has(iid)) this.open(iid, false, out);
    }
    if (this.nextPrepareIid < MAX_UINT32) return;
    // LibPaxos3's instance ids are uint32: past 2^32 − 1 there is nothing to open. Say so once,
    // and give up queued values as soon as no open instance is left to take them, rather than
    // holding them for ever.
    if (!this.exhausted) {
      this.exhausted = true;
      out.events.push({ kind: 'iid-space-exhausted', role: 'proposer' });
    }
    if (this.preparingCount > 0) return;
    for (let value = this.queue.shift(); value !== undefined; value = this.queue.shift()) {
      out.events.push({ kind: 'value-lost', reason: 'iid-space-exhausted', iid: 0, value });
    }
  }

  private open(iid: number, recovery: boolean, out: Effects, minRound = 0): void {
    // Tested before the message is built (one string fewer per instance; see ballotOf).
    if (iid <= this.fence) throw new InvariantError(`instance ${iid} is at or below this proposer's fence ${this.fence}`);
    // An instance opened again (dropped by a proposer that stopped leading or yielded, then
    // needed once more) may have had an accept of ours at the base ballot: reusing that ballot
    // for another value would put two values under one ballot (the simulator found it). It gets
    // a round above every round this proposer has used. A first opening takes the base round,
    // which is above anything an earlier incarnation used (B2).
    const reopened = iid <= this.highestOpened;
    if (iid > this.highestOpened) this.highestOpened = iid;
    const round = Math.max(reopened ? Math.max(this.baseRound, this.maxRoundUsed + 1) : this.baseRound, minRound);
    const inst: Instance = {
      iid,
      ballot: ballotOf(Math.min(round, MAX_ROUND), this.id),
      phase: 1,
      own: null,
      ownSent: false,
      promisedValue: null,
      promisedVb: 0,
      acks: 0,
      ackCount: 0,
      preparedAt: 0,
      sentAt: 0,
      retryAt: -1,
      attempts: 0,
      proposal: EMPTY,
      recovery,
      acceptSent: false,
      decided: null,
      votes: null,
      control: false,
      ownCount: 0,
      reported: false,
      takeover: false,
      urgent: false,
    };
    this.instances.set(iid, inst);
    this.preparing.push(iid);
    this.preparingCount++;
    out.events.push({ kind: 'opened', iid });
    this.sendPrepare(inst, out);
  }

  /** A higher ballot was seen for `inst`: back to phase 1 above it, after a random backoff (B10). */
  private preempt(inst: Instance, seen: number, out: Effects): void {
    const round = roundAbove(Math.max(seen, inst.ballot), this.id);
    if (!this.leading && inst.control) {
      // A campaign meets a higher ballot: most likely another candidate's campaign for the same
      // instance. Yield to it rather than duel (candidates retrying after a backoff kept
      // preempting each other for minutes with five of them): the campaign is dropped, and
      // leadership campaigns again on its own schedule if no leader came of the other one, then
      // above this ballot (see proposeControl).
      this.remove(inst);
      if (this.control === inst.own) this.control = null;
      this.yielded = { iid: inst.iid, ballot: Math.max(seen, this.yielded?.iid === inst.iid ? this.yielded.ballot : 0) };
      return;
    }
    if (!this.leading && !inst.control) {
      // A proposer that lost the lead does not fight the new leader for this instance: the new
      // leader's takeover runs phase 1 on it and adopts whatever may have been chosen. A client
      // value that never went out goes back to the queue (the LearningProposer forwards it); one
      // that did may still be chosen here, so it is reported, not proposed again.
      this.remove(inst);
      if (inst.own !== null) {
        if (!inst.ownSent) this.requeue(inst.own);
        else out.events.push({ kind: 'value-lost', reason: 'outcome-unknown', iid: inst.iid, value: inst.own });
      }
      return;
    }
    if (round === undefined) {
      // Only a peer claiming a ballot near 2^32 gets here; no ballot of ours can follow it.
      this.remove(inst);
      if (inst.own !== null) {
        if (!inst.ownSent) this.requeue(inst.own);
        else if (!inst.control) out.events.push({ kind: 'value-lost', reason: 'ballot-exhausted', iid: inst.iid, value: inst.own });
      }
      return;
    }
    if (inst.phase === 2) {
      inst.phase = 1;
      this.acceptingCount--;
      this.preparingCount++;
      this.preparing.push(inst.iid);
    }
    inst.ballot = ballotOf(round, this.id);
    this.reserve(round, out);
    inst.attempts++;
    // B10's backoff, scaled to the round trip this proposer sees: two competitors only stop
    // preempting each other once their retries lie a round trip apart, so backoffs far below it
    // (2 ms against hops of up to 42 ms in sim seed 1106, capped at half a 100 ms timeout) kept
    // every contested instance in a duel of many rounds. On a LAN the round trip is well under a
    // millisecond and nothing changes.
    // (A round trip seen longer than the timeout, across a partition, counts as the timeout.)
    const rtt = Math.min(this.rttMs, this.timeoutMs);
    const base = Math.max(this.backoffBaseMs, rtt / 4);
    const cap = Math.min(Math.max(this.backoffMaxMs, 2 * rtt), base * 2 ** Math.min(inst.attempts - 1, 20));
    const delayMs = this.prng.below(cap);
    out.events.push({ kind: 'preempted', iid: inst.iid, by: seen, ballot: inst.ballot, delayMs });
    inst.acks = 0;
    inst.ackCount = 0;
    inst.promisedValue = null;
    inst.promisedVb = 0;
    if (delayMs === 0) this.sendPrepare(inst, out);
    else {
      inst.retryAt = this.now + delayMs;
      this.dueBy(inst.retryAt);
    }
  }

  /**
   * Sends the backed-off prepares that are due and resends what timed out, and notes when the
   * next of either can be due. Until then ticks skip the walk over every open instance: a replica
   * keeps its window of prepared instances open (128 by default), and walking them 200 times a
   * second was a few per cent of an idle replica's CPU.
   */
  private resendDue(now: number, out: Effects): void {
    // Sends below lower `scanAt` again (see `dueBy`); the walk only raises it to what it finds.
    this.scanAt = Infinity;
    let next = Infinity;
    for (const inst of this.instances.values()) {
      if (now >= this.dueAt(inst)) {
        if (inst.retryAt >= 0) {
          this.sendPrepare(inst, out);
        } else {
          // LibPaxos3: resend unchanged (same ballot).
          out.events.push({ kind: 'timeout', phase: inst.phase, iid: inst.iid, ballot: inst.ballot });
          if (inst.phase === 1) this.sendPrepare(inst, out);
          else this.sendAccept(inst, out);
        }
      }
      const due = this.dueAt(inst);
      if (due < next) next = due;
    }
    if (next < this.scanAt) this.scanAt = next;
  }

  /**
   * When `inst` next needs a send: its backed-off prepare, or a resend once the timeout has passed
   * since its last send (computed as `dueBy` is given it, so that a fractional clock cannot make
   * the walk find nothing where its bound said something was due); never for a prepared instance
   * waiting for a value (LibPaxos3).
   */
  private dueAt(inst: Instance): number {
    if (inst.retryAt >= 0) return inst.retryAt;
    return this.awaitingReplies(inst) ? inst.sentAt + this.timeoutMs : Infinity;
  }

  /**
   * Whether `inst`'s last prepare or accept still waits for replies, which its timeout (or a
   * connection coming up) sends again: in phase 2, or in phase 1 short of a quorum, and not
   * waiting out a backoff.
   */
  private awaitingReplies(inst: Instance): boolean {
    return inst.retryAt < 0 && (inst.phase === 2 || inst.ackCount < this.quorum);
  }

  /** Something of an instance falls due at `at` (a resend or a retry): the next tick past it walks the instances. */
  private dueBy(at: number): void {
    if (at < this.scanAt) this.scanAt = at;
  }

  /** A quorum of acceptors accepted `value` in one ballot for `inst`: it is finished. */
  private chosen(inst: Instance, value: Uint8Array, out: Effects): void {
    this.remove(inst);
    this.report(inst, value, out);
    this.settleOwn(inst, value, out);
  }

  /** The first time an open instance is known decided: a `chosen` event for metrics. */
  private report(inst: Instance, value: Uint8Array, out: Effects): void {
    if (inst.reported) return;
    inst.reported = true;
    const mine = inst.own !== null && !inst.control && bytesEqual(inst.own, value);
    out.events.push({ kind: 'chosen', iid: inst.iid, values: mine ? inst.ownCount : 0 });
  }

  /** `inst` decided `value`: its own client value is done, or, if it lost, queued again (B11). */
  private settleOwn(inst: Instance, value: Uint8Array, out: Effects): void {
    // A campaign's instance decided another node's master operation (bound to it in phase 2, or
    // still `control` in phase 1): that moves the last operation past the version this one
    // carries, so it can only be decided in vain now, and on its way it would complete whatever
    // values its phase 1 finds (P2c), preempting the new leader there. A node that does not lead
    // drops it here, as LearningProposer's abandonControl does once its learner delivers the
    // other's operation: that may be later, behind a gap in its learner.
    const mine = inst.control ? (inst.own ?? this.control) : null;
    if (!this.leading && mine !== null && isOthersMasterOp(value, mine)) {
      inst.own = null;
      this.dropControl(inst);
      return;
    }
    const own = inst.own;
    if (own === null) return;
    inst.own = null;
    if (bytesEqual(own, value)) return;
    if (inst.control) {
      // A master operation displaced by a value an earlier proposer had accepted here (P2c): it
      // goes into the next instance, unless a newer one is waiting already.
      if (this.control === null) this.proposeControl(own, out);
      return;
    }
    // The own value was only ever bound to this instance, which chose something else: it was
    // not chosen anywhere. It goes back to the front, keeping the clients' order.
    this.requeue(own);
    out.events.push({ kind: 'requeued', iid: inst.iid });
  }

  private remove(inst: Instance): void {
    if (!this.instances.delete(inst.iid)) return;
    this.untakeover(inst);
    if (inst.phase === 1) this.preparingCount--;
    else this.acceptingCount--;
  }

  private sendPrepare(inst: Instance, out: Effects): void {
    this.reserve(roundOf(inst.ballot), out);
    inst.retryAt = -1;
    inst.acks = 0;
    inst.ackCount = 0;
    inst.promisedValue = null;
    inst.promisedVb = 0;
    inst.sentAt = this.now;
    this.dueBy(this.now + this.timeoutMs);
    out.send.push({ to: 'acceptors', msg: prepareOf(inst) });
  }

  private sendAccept(inst: Instance, out: Effects): void {
    inst.sentAt = this.now;
    this.dueBy(this.now + this.timeoutMs);
    if (inst.iid > this.highestAccepted) this.highestAccepted = inst.iid;
    out.send.push({ to: 'acceptors', msg: acceptOf(inst) });
  }

  /** Binds the next value to `inst`: a waiting master operation first (alone), else client values. */
  private bind(inst: Instance): void {
    if (this.control !== null) {
      inst.own = this.control;
      inst.control = true;
      inst.ownCount = 0;
      this.control = null;
      return;
    }
    // A proposer that does not lead proposes no client value of its own (leadership.ts): the
    // LearningProposer forwards them to the leader.
    if (this.leading) this.takeValue(inst);
  }

  /**
   * Binds the next value to `inst`: the oldest queued client value, or with batching as many
   * queued values as fit (at least one), counting them for the `proposed` event. Taken as soon as an instance is prepared, so batches
   * grow with load and a lone value never waits for company.
   */
  private takeValue(inst: Instance): void {
    const first = this.queue.shift();
    if (first === undefined) {
      inst.own = null;
      inst.ownCount = 0;
      return;
    }
    // A checkpoint report goes alone, never in a batch (learners recognise it by its whole value),
    // and is not a client value: it counts for none.
    if (controlValue(first)?.kind === 'checkpoint-report') {
      inst.own = first;
      inst.ownCount = 0;
      return;
    }
    if (this.batchMaxValues === 0) {
      inst.own = first;
      inst.ownCount = 1;
      return;
    }
    const values = [first];
    let bytes = 5 + batchCost(first);
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || values.length >= this.batchMaxValues || bytes + batchCost(next) > this.batchMaxBytes || controlValue(next)?.kind === 'checkpoint-report') break;
      values.push(next);
      bytes += batchCost(next);
      this.queue.shift();
    }
    inst.own = encodeBatch(values);
    inst.ownCount = values.length;
  }

  /** Puts a displaced value (or each value of a displaced batch) back at the front of the queue. */
  private requeue(own: Uint8Array): void {
    const values = this.unpack(own);
    for (let i = values.length - 1; i >= 0; i--) this.queue.unshift(values[i] as Uint8Array);
  }

  private unpack(own: Uint8Array): Uint8Array[] {
    const control = controlValue(own)?.kind;
    if (control === 'master-op') return [];
    if (this.batchMaxValues === 0 || control === 'checkpoint-report') return [own];
    const values = decodeBatch(own);
    invariant(values !== undefined, 'a batch this proposer built does not decode');
    // Copies, so a re-queued value does not keep its whole old batch alive.
    return values.map((v) => v.slice());
  }

  /** B2: make rounds up to `round` durable before a ballot of that round goes out. */
  private reserve(round: number, out: Effects): void {
    if (round > this.maxRoundUsed) this.maxRoundUsed = round;
    if (round <= this.reservedRound) return;
    invariant(round <= MAX_ROUND, `round ${round} above the uint32 ballot range`);
    this.reservedRound = Math.min(MAX_ROUND, round + this.roundChunk);
    out.persist.push({ kind: 'round-floor', round: this.reservedRound });
  }

  private untakeover(inst: Instance): void {
    if (!inst.takeover) return;
    inst.takeover = false;
    this.takeoverPending--;
    if (inst.promisedValue !== null && inst.iid > this.takeoverFound) this.takeoverFound = inst.iid;
  }

  /** See `recoverWaitMs`. */
  private drawRecoverWait(): void {
    this.recoverWaitMs = this.bounded ? this.timeoutMs : 2 * this.timeoutMs + this.prng.below(this.timeoutMs + 1);
  }

  private noteInUse(iid: number): void {
    if (iid > this.highestInUse) this.highestInUse = iid;
  }

  private validAck(aid: number, iid: number, ballot: number): boolean {
    return Number.isInteger(aid) && aid >= 0 && aid < this.acceptors && isUint32(iid) && iid >= 1 && isUint32(ballot) && ballot >= 1;
  }
}

/** Instances by id, for `sort`. */
function byIid(a: Instance, b: Instance): number {
  return a.iid - b.iid;
}

/** The prepare of `inst` at its ballot. */
function prepareOf(inst: Instance): PrepareMsg {
  return { type: 'prepare', iid: inst.iid, ballot: inst.ballot };
}

/** The accept of `inst`: its proposal at its ballot. */
function acceptOf(inst: Instance): AcceptMsg {
  return { type: 'accept', iid: inst.iid, ballot: inst.ballot, value: inst.proposal };
}

/** Whether `chosen` is a master operation of another node than `own`'s (a master operation too). */
function isOthersMasterOp(chosen: Uint8Array, own: Uint8Array): boolean {
  const op = decodeMasterOp(chosen);
  return op !== undefined && op.node !== decodeMasterOp(own)?.node;
}

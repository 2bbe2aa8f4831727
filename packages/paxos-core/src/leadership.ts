import { requireInt } from './config-error.js';
import type { Effects } from './effects.js';
import { encodeMasterOp, type MasterOp } from './master-op.js';
import { Prng } from './prng.js';

export interface LeadershipOptions {
  /** Lease length in ms (`leader-lease`). */
  readonly leaseMs: number;
  /**
   * How much earlier than everyone else the holder counts its own lease as over
   * (`leader-drift-margin`). It must cover the clock-rate drift between processes over one lease
   * and one tick of this process: see the safety argument below.
   */
  readonly marginMs: number;
}

/** The leader as one process sees it. */
export interface LeaderView {
  /** The leader's proposer id. */
  readonly id: number;
  /** Instance of the master operation that made it leader or last renewed its lease. */
  readonly version: number;
  /** This process's monotonic time (the clock of its ticks) at which the lease ends as it counts. */
  readonly until: number;
}

/**
 * The part of leadership the log determines, as of some instance: what a checkpoint keeps so that
 * a process restored from it can judge master operations at once (see `Leadership.restore`).
 */
export interface MasterState {
  /** Instance of the last master operation decided, effective or not (0: none). */
  readonly lastOp: number;
  /** Instance of the last one that took effect (0: none). */
  readonly version: number;
  /** The node it named leader (undefined: none, or it resigned). */
  readonly master: number | undefined;
  /** Largest openLimit an effective operation carried. */
  readonly maxOpenLimit: number;
}

/** What a tick or a decided master operation asks of the proposer. */
export interface LeadershipAction {
  /** A master operation to propose now (a campaign, a renewal or a resignation), if any. */
  readonly propose?: Uint8Array;
}

/**
 * Leader election with a lease, through the log (PhxPaxos's master, `src/master/`).
 *
 * A node campaigns by proposing a master operation naming itself and carrying as its version the
 * instance of the last master operation it knows of, effective or not. Operations are applied in
 * log order on every node, and one takes effect only if its version is the instance of the master
 * operation just before it in the log: so of several campaigns on the same knowledge the first
 * decided wins, and a node that is behind (a stale version) can never depose a leader it has not
 * heard of. The leader renews its lease every third of a lease by proposing the operation again.
 *
 * Why "the last operation" and not PhxPaxos's "the last effective one": whether an operation takes
 * effect then depends only on the one before it, so a process that skipped part of the log (moved
 * past instances acceptors trimmed, or restored from a checkpoint that does not carry this state)
 * can judge every operation after the first one it sees again. Until then it judges none: it
 * never believes it holds a lease it cannot check, and waits out a full lease before it campaigns.
 *
 * Lease safety, and what it rests on. The holder counts its lease from the moment it proposed the
 * operation (taken at the tick that proposed it, before anything is sent), and as `leaseMs −
 * marginMs` long; every other node counts `leaseMs` from the first tick after it learned the
 * operation, which is later. So the holder's lease ends first, *provided the clocks of the two
 * processes run at rates within a factor (1 ± ρ) of real time*: the holder stops by real time
 * `t0 + (lease − margin)/(1 − ρ)` at the latest, the others start waiting no earlier than `t0`
 * and wait at least `lease/(1 + ρ)`. That needs `margin > lease·2ρ/(1 + ρ)`, plus one tick of the
 * holder (it acts on the time of its last tick). With the defaults (lease 2 s, margin 200 ms,
 * ticks of 5 ms) clock rates may differ by up to about 4.7 %. No wall clocks are compared: each
 * process only measures intervals on its own monotonic clock. Message delays do not matter (they
 * only make others start later). If the drift bound is broken (a VM clock that jumps, a process
 * whose clock stops), two processes may both believe they hold the lease for a while: the log
 * stays safe (Paxos ballots decide), but a lease read served by the old holder may be stale.
 * A process paused (SIGSTOP) after deciding it holds the lease acts on its last tick's time
 * when it resumes: callers that serve lease reads must ask with a fresh clock (`isLeader(now)`).
 */
export class Leadership {
  /** This node's proposer id, or undefined for a node that only follows (a plain learner). */
  readonly id: number | undefined;
  readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly renewEveryMs: number;
  private readonly staggerMs: number;
  private readonly prng: Prng;

  /** Instance of the last master operation that took effect (0: none yet). */
  version = 0;
  /** Instance of the last master operation decided, effective or not; undefined when unknown (after a jump). */
  private lastOp: number | undefined = 0;
  /** Largest `openLimit` any effective master operation carried: how far a leader may have reached. */
  maxOpenLimit = 0;
  private master: number | undefined;
  /** Until when `master`'s lease holds, as a non-holder counts it (learn time + lease). */
  private masterUntil = Number.NEGATIVE_INFINITY;
  /** A master operation took effect since the last tick: `masterUntil` is fixed at the next one. */
  private learnPending = false;
  /** Until when this node holds the lease (proposal time + lease − margin). */
  private holdUntil = Number.NEGATIVE_INFINITY;
  /** This node's master operations in flight: nonce → the tick time they were proposed at. */
  private readonly mine = new Map<number, number>();
  private nextNonce: number;
  private lastProposedAt = Number.NEGATIVE_INFINITY;
  /** Nonce of this node's latest master operation, until it is decided (one renewal at a time). */
  private inFlight: number | undefined;
  /** Since when the learner has known of instances it has not delivered (undefined: caught up). */
  private behindSince: number | undefined;
  private nextCampaignAt = Number.NEGATIVE_INFINITY;
  /**
   * After `resign`: until when this node does not campaign, unless another node's claim took effect
   * first (see `resign`).
   */
  private holdOffUntil = Number.NEGATIVE_INFINITY;
  /** Nonce of this node's resignation in flight, until it is decided (or counted lost: see `tick`). */
  private resignInFlight: number | undefined;
  private resignProposedAt = Number.NEGATIVE_INFINITY;
  /**
   * After `resign`, when a renewal of this node's took effect anyway: until when it may resign
   * again, the lease that renewal would have given it (its proposal time + lease − margin); at
   * first, the lease it held when it resigned (a first resignation that is lost). No other node
   * can lead before then, and a successor's recovery completes whatever it proposed
   * by then; later, another node may already lead, and a resignation chosen above its recovery
   * would be an instance it did not propose while it serves lease reads.
   */
  private resignBy = Number.NEGATIVE_INFINITY;
  private now = Number.NEGATIVE_INFINITY;
  private started = false;
  /** The leader id last reported in a `leader` event (null: none reported yet). */
  private reported: number | undefined | null = null;
  /**
   * The log-determined state after each of the last few master operations learned, oldest first,
   * and `base`, the state that held from `base.at` up to the first of them (undefined: unknown,
   * after a jump). A checkpoint is taken a little behind the last instance learned (between two
   * deliveries, at the last one applied) and must carry the state as of its own instance: see
   * `stateAsOf`.
   */
  private readonly history: { readonly at: number; readonly state: MasterState }[] = [];
  private base: { readonly at: number; readonly state: MasterState } | undefined = { at: 0, state: { lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 } };
  /**
   * The state above is the log's, as every node that learned the whole log has it. False from a
   * jump until the next master operation that takes effect: in between `lastOp` is known again
   * (enough to judge the next operation) but the version and the master are guesses.
   */
  private exact = true;

  constructor(options: LeadershipOptions, id: number | undefined, seed: number) {
    this.leaseMs = requireInt('leader-lease (ms)', options.leaseMs, 10, 3_600_000);
    this.marginMs = requireInt('leader-drift-margin (ms)', options.marginMs, 1, this.leaseMs - 1);
    this.renewEveryMs = Math.max(1, Math.floor(this.leaseMs / 3));
    this.staggerMs = Math.max(5, Math.floor(this.leaseMs / 10));
    this.id = id;
    this.prng = new Prng(seed ^ 0x1ead);
    this.nextNonce = this.prng.u32();
  }

  /** Whether this node holds the lease at `now` (its own monotonic time). */
  isLeader(now: number): boolean {
    return this.id !== undefined && this.master === this.id && now < this.holdUntil;
  }

  /** The leader at `now` as this node sees it, or undefined when no lease is known to hold. */
  leader(now: number): LeaderView | undefined {
    if (this.isLeader(now)) return { id: this.id as number, version: this.version, until: this.holdUntil };
    if (this.master !== undefined && this.master !== this.id && now < this.masterUntil) {
      return { id: this.master, version: this.version, until: this.masterUntil };
    }
    return undefined;
  }

  /** The node the log names leader, whether or not its lease still holds (for tests and the simulator). */
  get named(): number | undefined {
    return this.master;
  }

  /**
   * Time passes. Fixes the lease of an operation learned since the last tick, reports a change
   * of leader, and says whether to propose a master operation: a renewal while holding (every
   * third of a lease), a campaign once no lease is known to hold (staggered, lower ids earlier, so that
   * nodes do not all campaign at once), or, after `resign`, a resignation again while the log
   * still names this node. `caughtUp`: the local learner knows of no instance it
   * has not delivered (a node that is behind would campaign on a stale version, in vain).
   * `mayCampaign` false: this node does not campaign at all, however long it is behind (a
   * rejoined replica whose learner has not passed its fence: see LearningProposer.tick).
   */
  tick(now: number, caughtUp: boolean, openLimit: number, out: Effects, mayCampaign = true): LeadershipAction {
    this.now = now;
    if (!this.started) {
      this.started = true;
      // Give a live leader's renewals (every third of a lease) time to reach a newly started node.
      this.nextCampaignAt = now + this.leaseMs / 2 + this.stagger();
    }
    if (this.learnPending) {
      this.learnPending = false;
      this.masterUntil = Math.max(this.masterUntil, now + this.leaseMs);
    }
    this.report(now, out);
    if (this.id === undefined) return {};
    if (now < this.holdOffUntil) {
      // Resigned. If the log names this node anyway (a renewal in flight when it resigned was
      // decided first, which made the resignation void), resign again: else the others wait out
      // a lease that no one holds. Not while behind (it would go in vain, on a stale version),
      // and one at a time: one not decided within half a lease counts as lost (a proposer that
      // does not lead drops a control value that is preempted), as a renewal does.
      const due = this.resignInFlight === undefined || now - this.resignProposedAt >= this.leaseMs / 2;
      if (this.master === this.id && this.lastOp !== undefined && caughtUp && due && now < this.resignBy) return { propose: this.resignation(openLimit, now) };
      return {};
    }
    if (this.isLeader(now)) {
      // One renewal at a time: two in flight with one version would make the second one void
      // (and it would void the next). One that is not decided within half a lease counts as lost.
      if (now - this.lastProposedAt < this.renewEveryMs) return {};
      if (this.inFlight !== undefined && now - this.lastProposedAt < this.leaseMs / 2) return {};
      return { propose: this.claim(now, openLimit) };
    }
    // Nobody else may hold a lease: none known to (masterUntil passed), or the log names this node
    // (an earlier incarnation of it is gone). A node that cannot judge the log (after a jump)
    // always waits masterUntil out.
    const leaseOver = now >= this.masterUntil || (this.master === this.id && this.lastOp !== undefined);
    // A node that knows of instances it has not learned would campaign on a stale version; but if
    // it stays so for a lease, those are holes only a leader fills: campaign, and its campaign
    // (in the first instance it lacks) fills the first of them.
    if (caughtUp) this.behindSince = undefined;
    else this.behindSince ??= now;
    const ready = caughtUp || now - (this.behindSince as number) >= this.leaseMs;
    if (!leaseOver || !ready || !mayCampaign || now < this.nextCampaignAt) return {};
    // One campaign in flight at a time; retry when it was decided in vain or got lost.
    this.nextCampaignAt = now + this.leaseMs / 2 + this.stagger();
    return { propose: this.claim(now, openLimit) };
  }

  /**
   * A master operation was decided at instance `iid` (every node applies them in log order).
   * Returns true when it took effect.
   */
  learn(iid: number, op: MasterOp, out: Effects): boolean {
    const proposedAt = op.node === this.id ? this.mine.get(op.nonce) : undefined;
    if (proposedAt !== undefined) this.mine.delete(op.nonce);
    const renewing = op.node === this.id && op.nonce === this.inFlight;
    if (renewing) this.inFlight = undefined;
    if (op.node === this.id && op.nonce === this.resignInFlight) this.resignInFlight = undefined;
    const known = this.lastOp !== undefined;
    const effective = known && op.version === this.lastOp;
    this.lastOp = iid;
    if (!effective) {
      this.remember(iid);
      if (!known && op.node !== this.id) {
        // It may have taken effect: whoever it names may hold a lease from now on (a conservative
        // wait; it also serves as a hint of whom to forward to).
        this.master = op.kind === 'claim' ? op.node : undefined;
        this.masterUntil = Math.max(this.masterUntil, this.now + this.leaseMs);
        this.learnPending = true;
        this.report(this.now, out);
      }
      // A renewal of ours decided in vain (another operation came first): try again at once.
      // (The one in flight: an older one, from before a resignation, changes nothing.)
      if (renewing && this.isLeader(this.now)) this.lastProposedAt = Number.NEGATIVE_INFINITY;
      // A campaign of ours that taught us the last operation: campaign again with it.
      if (!known && op.node === this.id) this.nextCampaignAt = Number.NEGATIVE_INFINITY;
      return false;
    }
    this.version = iid;
    this.exact = true;
    if (op.openLimit > this.maxOpenLimit) this.maxOpenLimit = op.openLimit;
    if (op.kind === 'resign') {
      this.master = undefined;
      this.masterUntil = Number.NEGATIVE_INFINITY;
      this.holdUntil = Number.NEGATIVE_INFINITY;
      // A planned handover: the others campaign at once, or at the latest a stagger after learning
      // it, not at a campaign time set before it. A campaign in vain (at start, two nodes' at once)
      // had put that up to half a lease and a stagger ahead: with a 6 s lease, 5 s after the signal.
      // (A plain learner never campaigns: no draw from its generator.)
      if (this.id !== undefined && op.node !== this.id) this.nextCampaignAt = Math.min(this.nextCampaignAt, this.now + this.stagger());
    } else {
      this.master = op.node;
      // Counted from the next tick, which is no earlier than this learn (see the class comment).
      this.masterUntil = this.now + op.leaseMs;
      this.learnPending = true;
      // A renewal of this node's decided after it resigned does not make it leader again: it may
      // only use that lease to resign once more (see `resignBy`).
      const resigned = this.now < this.holdOffUntil;
      const leaseEnd = proposedAt !== undefined ? proposedAt + this.leaseMs - this.marginMs : Number.NEGATIVE_INFINITY;
      this.holdUntil = resigned ? Number.NEGATIVE_INFINITY : leaseEnd;
      if (op.node === this.id && resigned) this.resignBy = leaseEnd;
      // Another node took over: the handover a resignation asked for is done.
      if (op.node !== this.id) this.holdOffUntil = Number.NEGATIVE_INFINITY;
      if (op.node === this.id && !this.isLeader(this.now) && this.now >= this.holdOffUntil) {
        // The log names this node, but not by an operation that gives it a lease now (one of an
        // earlier incarnation, or of this one from before a resignation whose hold-off is over):
        // it holds no lease it can count, so it renews at once (no one else may campaign before
        // masterUntil).
        this.nextCampaignAt = Number.NEGATIVE_INFINITY;
      }
    }
    this.remember(iid);
    this.report(this.now, out);
    return true;
  }

  /**
   * The learner skipped instances it never learned (it moved past a trim point, or to an
   * application checkpoint without this state): the master operations in them are unknown. Until
   * it sees the next one, this node judges none, holds no lease, and waits a full lease from now
   * before it campaigns (whoever led may still hold one).
   */
  jump(now: number, out?: Effects): void {
    this.lastOp = undefined;
    this.history.length = 0;
    this.base = undefined;
    this.exact = false;
    this.master = undefined;
    this.holdUntil = Number.NEGATIVE_INFINITY;
    this.mine.clear();
    // Its instance may be among those skipped: it would never be learned.
    this.resignInFlight = undefined;
    this.resignBy = Number.NEGATIVE_INFINITY;
    this.masterUntil = Math.max(this.masterUntil, now + this.leaseMs);
    this.nextCampaignAt = Math.max(this.nextCampaignAt, now + this.leaseMs);
    if (out !== undefined) this.report(now, out);
  }

  /**
   * The log-determined state as of the last instance learned (for a checkpoint, and for the
   * simulator's check against the log); undefined while this node does not know it exactly
   * (after a jump, until a master operation takes effect). `maxOpenLimit` is exact when every
   * proposer announces the same openLimit (one config), as the simulator's do.
   */
  state(): MasterState | undefined {
    if (this.lastOp === undefined || !this.exact) return undefined;
    return { lastOp: this.lastOp, version: this.version, master: this.master, maxOpenLimit: this.maxOpenLimit };
  }

  /**
   * The log-determined state as of instance `iid` (≤ the last instance learned), for a checkpoint
   * of that instance: the state after the last master operation at or below it. Undefined when
   * this node cannot tell: `iid` lies before a jump, or before the few operations remembered. A
   * state newer than its checkpoint would be wrong, not merely early: a node restored from it
   * learns the operations after the checkpoint again and would judge them against the wrong one.
   */
  stateAsOf(iid: number): MasterState | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const h = this.history[i] as { readonly at: number; readonly state: MasterState };
      if (h.at <= iid) return h.state;
    }
    return this.base !== undefined && this.base.at <= iid ? this.base.state : undefined;
  }

  /**
   * Restores the log-determined state of a checkpoint taken at the instance the learner now
   * continues after. Leases are counted as if the operations were learned now (later than they
   * were: the safe side), and again from the next tick: a restart restores before its first
   * tick, when `now` is not yet this process's clock (counted from there, the master's lease
   * would look over at once and this node could campaign while it holds). This node holds none.
   * The leader is reported at once, or at the first tick when restored before it (whatever was
   * reported before the process started reached nobody).
   */
  restore(state: MasterState, now: number, out?: Effects): void {
    this.history.length = 0;
    this.base = { at: state.lastOp, state };
    this.exact = true;
    this.lastOp = state.lastOp;
    this.version = state.version;
    this.master = state.master;
    this.maxOpenLimit = Math.max(this.maxOpenLimit, state.maxOpenLimit);
    this.holdUntil = Number.NEGATIVE_INFINITY;
    this.mine.clear();
    this.resignInFlight = undefined;
    this.resignBy = Number.NEGATIVE_INFINITY;
    if (state.master !== undefined) {
      this.masterUntil = Math.max(this.masterUntil, now + this.leaseMs);
      this.learnPending = true;
    }
    if (out !== undefined && this.started) this.report(now, out);
    else this.reported = null;
  }

  /**
   * A planned handover: stop holding the lease now, and propose a resignation so that the others
   * need not wait for it to run out. Returns the operation to propose, if this node was leader.
   *
   * The node then holds off campaigning for RESIGN_HOLD_OFF_LEASES leases, or until another node's
   * claim takes effect. One lease was not enough for a sure handover: the others campaign at once
   * (at the latest a stagger after learning the resignation), and on a loaded host their contest
   * could outlast a lease, after which the resigned node won again. It does come back after the
   * hold-off, so that a group whose other nodes cannot lead is not left without a leader.
   */
  resign(now: number, openLimit: number, out: Effects): Uint8Array | undefined {
    if (!this.isLeader(now) || this.id === undefined) return undefined;
    // A resignation lost on the way (preempted and dropped: the log still names this node) is
    // proposed again within the lease this node held (`tick`). Renewals already in flight do not
    // make it leader again when they are decided (see `learn`); one decided before the
    // resignation makes it void, and `tick` resigns again within that renewal's lease: their
    // proposal times stay in `mine` for that.
    this.resignBy = this.holdUntil;
    this.holdUntil = Number.NEGATIVE_INFINITY;
    // The hold-off blocks campaigns by itself (`tick`): once another node takes over, it ends,
    // and this node follows as any other (it may campaign a lease after its successor's last
    // operation).
    this.holdOffUntil = now + RESIGN_HOLD_OFF_LEASES * this.leaseMs;
    this.report(now, out);
    return this.resignation(openLimit, now);
  }

  /**
   * A resignation carries the openLimit this node led with, as its claims do: every effective
   * operation then carries the same one (one config), so a node that jumped and judges again from
   * a resignation has the log's maxOpenLimit (0 there left it short of what a successor must recover).
   */
  private resignation(openLimit: number, now: number): Uint8Array {
    const nonce = this.nextNonce++ >>> 0;
    this.resignInFlight = nonce;
    this.resignProposedAt = now;
    return encodeMasterOp({ kind: 'resign', node: this.id as number, leaseMs: 0, version: this.lastOp ?? 0, nonce, openLimit });
  }

  private claim(now: number, openLimit: number): Uint8Array {
    const nonce = this.nextNonce++ >>> 0;
    // Bounded: an operation decided in vain or lost is forgotten after a few newer ones.
    if (this.mine.size >= 8) this.mine.delete(this.mine.keys().next().value as number);
    this.mine.set(nonce, now);
    this.inFlight = nonce;
    this.lastProposedAt = now;
    // With the last operation unknown (after a jump) this is a guess: the campaign is decided in
    // vain unless it happens to be right, and either way teaches this node the last operation.
    const op: MasterOp = { kind: 'claim', node: this.id as number, leaseMs: this.leaseMs, version: this.lastOp ?? 0, nonce, openLimit };
    return encodeMasterOp(op);
  }

  /**
   * Lower ids campaign first, a few message delays apart, and jitter separates nodes whose clocks
   * agree: a campaign that meets another one yields (see Proposer.preempt), so the spread decides.
   */
  private stagger(): number {
    return (this.id ?? 0) * this.staggerMs + this.prng.below(2 * this.staggerMs);
  }

  /** Keeps the state after the master operation of instance `iid` (see `stateAsOf`). */
  private remember(iid: number): void {
    const state = this.state();
    if (state === undefined) return;
    this.history.push({ at: iid, state });
    if (this.history.length > REMEMBERED) this.base = this.history.shift();
  }

  private report(now: number, out: Effects): void {
    const id = this.leader(now)?.id;
    if (id === this.reported) return;
    this.reported = id;
    out.events.push({ kind: 'leader', id, version: this.version });
  }
}

/**
 * Master operations whose resulting state is remembered (see `Leadership.stateAsOf`): a lease
 * renewal every third of a lease makes a few per second, and a checkpoint is taken a few
 * deliveries behind the last instance learned.
 */
const REMEMBERED = 32;

/** Leases a node that resigned waits, unless another node takes over first (see `Leadership.resign`). */
const RESIGN_HOLD_OFF_LEASES = 3;

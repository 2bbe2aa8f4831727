import type { Message, MessageType } from './messages.js';
import type { SnapshotEffect } from './snapshot-messages.js';

/**
 * Whoever sent an input message, as the caller names it (a connection id in evpaxos, a node index
 * in the simulator). The core hands it back in replies, and reads it in one case only: for a
 * connection dialled to an acceptor it is that acceptor's id (evpaxos and the simulator number
 * such connections so), which `acceptor-connected` relies on.
 */
export type PeerId = number;

/**
 * Where a message goes. The core decides routing, the caller only carries it out:
 * - `acceptors`: every acceptor (prepare, accept, repeat, trim);
 * - `subscribers`: everyone connected to this acceptor (LibPaxos3 sends accepted and
 *   acceptor_state to every incoming connection: proposers, learners, replicas);
 * - `peer`: one peer, the sender of the input being answered (promise, preempted, repeat replies),
 *   or the acceptor of an `acceptor-connected` input (what a learner asks it for, what a proposer
 *   sends it again);
 * - `proposer`: one proposer by its config id (leadership: client values forwarded to the leader).
 */
export type Envelope =
  | { readonly to: 'acceptors'; readonly msg: Message }
  | { readonly to: 'subscribers'; readonly msg: Message }
  | { readonly to: 'peer'; readonly peer: PeerId; readonly msg: Message }
  /** Proposer (or replica) `proposer` of the config: a follower forwarding a client value to the leader. */
  | { readonly to: 'proposer'; readonly proposer: number; readonly msg: Message };

/** What an acceptor keeps per instance: its promise and the last value it accepted. */
export interface AcceptorRecord {
  readonly kind: 'record';
  readonly iid: number;
  /** Highest ballot promised (LibPaxos3's `ballot`). */
  readonly ballot: number;
  /** Ballot of the accepted value; 0 when nothing was accepted. */
  readonly valueBallot: number;
  /** Accepted value; empty (`EMPTY`) when nothing was accepted. */
  readonly value: Uint8Array;
  /**
   * Earlier ballots, ascending, under which this acceptor accepted these same bytes with no other
   * value in between (at most {@link MAX_EARLIER_BALLOTS}; absent when none). Votes are never
   * withdrawn in Paxos: repeat replies report these too, so a learner can still count the quorum
   * that chose the value after re-proposals moved its acceptors to different value ballots.
   */
  readonly earlierBallots?: readonly number[];
}

/**
 * How many earlier ballots a record keeps: the oldest of the run. Further re-acceptances replace
 * only the newest (the value ballot), so the ballot that chose a value is never pushed out by the
 * re-proposals that follow it (the bound is argued in votes.ts).
 */
export const MAX_EARLIER_BALLOTS = 7;

/** The acceptor forgot every instance `≤ iid`. */
export interface TrimRecord {
  readonly kind: 'trim';
  readonly iid: number;
}

/**
 * The proposer may use rounds up to `round` (inclusive): after a restart it must start above it,
 * so it never reuses a ballot it may have used before (B2).
 */
export interface RoundFloorRecord {
  readonly kind: 'round-floor';
  readonly round: number;
}

/**
 * A split-mode proposer's learner has learned every instance up to `iid`: after a restart it starts
 * there instead of at instance 1 (written now and then; a restart may learn a little again).
 */
export interface LearnedRecord {
  readonly kind: 'learned';
  readonly iid: number;
}

/**
 * An acceptor that lost its storage takes no part in instances `≤ iid` (rejoin.ts). Written by the
 * shell when a replica rejoins, never by a role; `iid` 2^32 − 1 marks a rejoin under way.
 */
export interface FenceRecord {
  readonly kind: 'fence';
  readonly iid: number;
}

/** A write the caller must make durable before sending any message of the same step. */
export type PersistRecord = AcceptorRecord | TrimRecord | RoundFloorRecord | LearnedRecord | FenceRecord;

/** An instance's decided Paxos value (a batch when batching is on; empty for a no-op). */
export interface Decision {
  readonly iid: number;
  readonly value: Uint8Array;
}

/**
 * A client value to hand to the application, in order: instance `iid`, position `index` in its
 * batch (0 without batching).
 */
export interface Delivery extends Decision {
  readonly index: number;
}

/** Why an input was dropped. Stale and duplicate input is normal in Paxos; the rest is not. */
export type DropReason =
  /** ballot or instance already superseded */
  | 'stale'
  /** the same ack from the same acceptor again */
  | 'duplicate'
  /** no such instance in progress (finished, or never ours) */
  | 'unknown-instance'
  /** instance at or below the trim point */
  | 'trimmed'
  /** a field out of range: acceptor id ≥ acceptor count, iid 0, ballot 0, range reversed… */
  | 'invalid'
  /** learner: further ahead than its window of future instances */
  | 'beyond-window'
  /** the role does not handle this message type (e.g. a client value sent to an acceptor) */
  | 'not-for-role'
  /**
   * acceptor: the instance is at or below its fence: this acceptor lost its storage and may have
   * voted there before, so it takes no part in it (rejoin.ts)
   */
  | 'fenced';

/** Why a client value was given up. Each is reported so that a caller can count losses. */
export type ValueLossReason =
  /** the proposer's queue is at its limit */
  | 'queue-full'
  /** empty values and the no-op's bytes are reserved for closing holes */
  | 'reserved'
  /** every instance id up to 2^32 − 1 is used (LibPaxos3's ids are uint32) */
  | 'iid-space-exhausted'
  /** the instance was trimmed away before the proposer learned whether the value was chosen */
  | 'outcome-unknown'
  /** no uint32 ballot is left above a competitor's (only a hostile peer gets there) */
  | 'ballot-exhausted';

export type CoreEvent =
  | { readonly kind: 'dropped'; readonly reason: DropReason; readonly msg: MessageType; readonly iid: number }
  | { readonly kind: 'timeout'; readonly phase: 1 | 2; readonly iid: number; readonly ballot: number }
  | {
      readonly kind: 'preempted';
      readonly iid: number;
      readonly by: number;
      readonly ballot: number;
      readonly delayMs: number;
    }
  /** proposer: closing a hole with a no-op; learner: skipped a decided no-op */
  | { readonly kind: 'noop'; readonly iid: number }
  /** proposer: a displaced client value goes back into the queue (known not chosen) */
  | { readonly kind: 'requeued'; readonly iid: number }
  /**
   * a client value given up (a batch of them, with batching; `iid` 0 when it never had an
   * instance), so a caller can tell its clients
   */
  | { readonly kind: 'value-lost'; readonly reason: ValueLossReason; readonly iid: number; readonly value: Uint8Array }
  /**
   * learner, with batching on: a decided value is not a batch (a proposer without batching, e.g. C
   * LibPaxos3's, proposes to this cluster). It is delivered as one value, at index 0.
   */
  | { readonly kind: 'not-a-batch'; readonly iid: number; readonly bytes: number }
  /**
   * learner or proposer: acceptors reported two different values accepted under one ballot. Two
   * proposers used one ballot (LibPaxos3 B2, or two proposers sharing an id): a safety alarm.
   */
  | { readonly kind: 'conflict'; readonly iid: number; readonly ballot: number }
  /**
   * learner: acceptor `aid`'s digest vote for (iid, ballot) does not match the value this learner
   * holds for that pair (accepted-digest.ts): two values under one ballot, or a bug. The vote is
   * not counted for that value.
   */
  | { readonly kind: 'digest-mismatch'; readonly iid: number; readonly ballot: number; readonly aid: number }
  /**
   * learner: instance 2^32 − 1, the last LibPaxos3 can name, is delivered; proposer: no instance
   * id is left to open. Nothing more can be decided in this cluster.
   */
  | { readonly kind: 'iid-space-exhausted'; readonly role: 'learner' | 'proposer' }
  /**
   * leadership: the leader as this process sees it changed (`id` undefined: no lease is known to
   * hold); `version` is the instance of the last master operation that took effect
   */
  | { readonly kind: 'leader'; readonly id: number | undefined; readonly version: number }
  /** learner: instances it still needs were trimmed by an acceptor; it cannot catch up past them */
  | { readonly kind: 'behind-trim'; readonly iid: number; readonly trimIid: number }
  /**
   * learner with checkpoint trimming: a checkpoint report decided in instance `iid` made the
   * lowest reported checkpoint `lowest`, so it asks every acceptor to trim up to `trimIid`
   */
  | { readonly kind: 'checkpoint-trim'; readonly iid: number; readonly lowest: number; readonly trimIid: number }
  /**
   * learner with checkpoint trimming: a checkpoint report was decided in instance `iid`, but only
   * `reporters` nodes have reported, fewer than the `needed` the first trim waits for (see
   * CheckpointTrim): the acceptors are not trimmed yet
   */
  | { readonly kind: 'checkpoint-trim-waiting'; readonly iid: number; readonly reporters: number; readonly needed: number }
  /** learner: a snapshot transfer (snapshot-fetch.ts) took a step */
  | {
      readonly kind: 'snapshot';
      readonly step: 'started' | 'resumed' | 'stalled' | 'gone' | 'received' | 'rejected' | 'restore-failed' | 'caught-up' | 'none-ahead' | 'installed';
      /** The checkpoint's instance (none-ahead: the instance the learner is on, which no peer's checkpoint reaches). */
      readonly iid: number;
      /** Bytes written so far (or its size, once complete). */
      readonly bytes: number;
      /** Whom it comes from. */
      readonly peer: PeerId;
      /** Its size, on start and resume. */
      readonly size?: number;
      /**
       * On start and resume: true when the learner asked because it lags far behind its peers
       * (`SnapshotFetch.lagging`), not because the log it needs was trimmed or it is stuck.
       */
      readonly lagging?: boolean;
    }
  // The next four exist for metrics (the shell stamps them with the time of the input that caused
  // them, which the core does not know): counts, batch sizes and phase-1/phase-2 latency.
  /** proposer: a new instance was opened (its first prepare goes out with this step) */
  | { readonly kind: 'opened'; readonly iid: number }
  /** proposer: phase 1 of `iid` reached a quorum of promises at the current ballot */
  | { readonly kind: 'prepared'; readonly iid: number }
  /**
   * proposer: client values of its own went out in an accept for `iid` for the first time:
   * `values` of them (more than one with batching) in a Paxos value of `bytes` bytes
   */
  | { readonly kind: 'proposed'; readonly iid: number; readonly values: number; readonly bytes: number }
  /**
   * proposer: an instance it had open is known to be decided (by its own count of accepted
   * messages, or by its learner); `values` of its own client values were chosen there (0 when
   * the instance chose another value or a no-op). Reported once per instance.
   */
  | { readonly kind: 'chosen'; readonly iid: number; readonly values: number };

/**
 * The effects of one or more steps. Steps append; the caller drains. A shell that handles several
 * inputs before one group commit passes the same `Effects` to all of them.
 *
 * Contract (persist before send): everything in `persist` is durable before anything in `send`
 * leaves. Deliveries are in instance order.
 */
export interface Effects {
  readonly persist: PersistRecord[];
  readonly send: Envelope[];
  readonly deliver: Delivery[];
  readonly events: CoreEvent[];
  /**
   * Snapshot transfer (snapshot-fetch.ts): messages to peers beyond LibPaxos3's nine, and file
   * steps, in order. Carried out after `persist` like `send`; file steps are answered with
   * `SnapshotIoResult` inputs.
   */
  readonly snapshot: SnapshotEffect[];
}

export function newEffects(): Effects {
  return { persist: [], send: [], deliver: [], events: [], snapshot: [] };
}

/** Empties `effects` in place, so one object can be reused across turns. */
export function clearEffects(effects: Effects): void {
  emptyArray(effects.persist);
  emptyArray(effects.send);
  emptyArray(effects.deliver);
  emptyArray(effects.events);
  emptyArray(effects.snapshot);
}

/**
 * Empties `a` and keeps its storage for the next pushes. Assigning `length = 0` makes V8 free the
 * storage, and the next push allocates it again: for arrays emptied at every input (effects, the
 * learner's last decisions) that was garbage for every value.
 */
export function emptyArray(a: unknown[]): void {
  truncate(a, 0);
}

/** Shortens `a` to `n` elements, keeping its storage (see `emptyArray`). */
export function truncate(a: unknown[], n: number): void {
  while (a.length > n) a.pop();
}

/** Reports a dropped input. */
export function drop(out: Effects, reason: DropReason, msg: MessageType, iid: number): void {
  out.events.push({ kind: 'dropped', reason, msg, iid });
}

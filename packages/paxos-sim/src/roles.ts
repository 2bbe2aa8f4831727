import {
  Acceptor,
  CheckpointSchedule,
  Learner,
  LearningProposer,
  Replica,
  type AcceptorRecovered,
  type Decision,
  type Effects,
  type Input,
  type LearnerOptions,
  type LeaderView,
  type MasterState,
  type Message,
  type PeerId,
  type ProposerRecovered,
  type RejoinAnswer,
  type SnapshotIoResult,
  type SnapshotMessage,
  type AcceptedDigestMsg,
} from '@libpaxos/paxos-core';
import type { DiskArchive } from './disk-archive.js';
import { digestsAt, trimReportersOf, type SimOptions } from './options.js';

/** What the simulator drives. The real core classes fit; so do the mutants. */
export interface SimRole {
  receive(from: PeerId, msg: Message, out: Effects): void;
  tick(now: number, out: Effects): void;
}

export interface ProposerRole extends SimRole {
  propose(value: Uint8Array, out: Effects): void;
  /** The end of a turn (paxos-core's `end-of-batch` input), where the role has it. */
  endOfBatch?(out: Effects): void;
  heldValues(): Iterable<Uint8Array>;
}

/** The parts of a role that take part in snapshot transfer (a learner, or a replica's learner). */
export interface SnapshotRole {
  receiveSnapshot(from: PeerId, msg: SnapshotMessage, out: Effects): void;
  snapshotIo(result: SnapshotIoResult, out: Effects): void;
  /** The instance a snapshot installed by the last input moved it to (0: none). */
  readonly lastInstalled: number;
  /** At a restart from a checkpoint: the checkpoint reports it carries. */
  restoreReports(reports: readonly (readonly [number, number])[], iid: number): void;
  /** The checkpoint reports a checkpoint of instance `iid` carries. */
  reportsAsOf(iid: number): [number, number][];
  /** Whether node `node` should report its checkpoint of `iid` in the log (core's `CheckpointTrim.wantsReport`). */
  wantsReport?(node: number, iid: number): boolean;
  /** Leadership's state as of instance `iid`, which a checkpoint of it carries (leadership on). */
  masterStateAsOf?(iid: number): MasterState | undefined;
  /** Leadership's state as of the last instance learned, when known (leadership on). */
  masterState?(): MasterState | undefined;
}

export interface LearnerRole extends SimRole, SnapshotRole {
  /** Continue after `iid` (a checkpoint's), taking the leadership state it carries, if any. */
  setInstanceId(iid: number, out?: Effects, master?: MasterState): void;
  /** The next instance it decides. */
  readonly nextIid: number;
  trim(iid: number, out: Effects): void;
  /** Decided by the last step, in order, no-ops included. */
  readonly lastDecided: readonly { readonly iid: number; readonly value: Uint8Array }[];
}

/** Acceptor, proposer and learner in one (core's `Replica` fits). */
export interface ReplicaRole extends ProposerRole, SnapshotRole {
  /** Its acceptor, as a rejoining replica asks it (rejoin.ts); undefined while its archive reads older ballots. */
  readonly acceptor: { readonly rejoinInfo: RejoinAnswer | undefined };
  /** Set-instance-id and trim reach a replica through its general input. */
  step(input: Input, out: Effects): void;
  /** Decided by the last input, in order, no-ops included. */
  readonly lastDecided: readonly Decision[];
  /** A digest vote from a peer replica's acceptor (paxos-core's accepted-digest.ts). */
  receiveDigest(from: PeerId, msg: AcceptedDigestMsg, out: Effects): void;
}

/** A role that takes part in leadership (a proposer or a replica with leadership on). */
export interface LeaderRole {
  isLeader(now: number): boolean;
  leader(now: number): LeaderView | undefined;
  canReadLocally(now: number): boolean;
  /** A planned handover (paxos-core's `dropLeadership`). */
  dropLeadership(out: Effects): void;
  readonly learner: { readonly nextIid: number };
}

export function isLeaderRole(role: SimRole | null): role is SimRole & LeaderRole {
  return role !== null && 'canReadLocally' in role;
}

/** When to checkpoint (core's `CheckpointSchedule` fits). */
export interface CheckpointScheduleRole {
  next(applied: number, now: number, decided?: number): number | undefined;
  want(iid: number): void;
  written(iid: number, now: number): void;
  failed(): void;
}

/**
 * What an acceptor recovers in the simulator: with a memory window on, its archive is the disk's
 * (disk-archive.ts), which a mutant may read in ways the core's interface does not offer.
 */
export interface SimAcceptorRecovered extends AcceptorRecovered {
  readonly archive?: DiskArchive;
}

export interface RoleFactory {
  acceptor(aid: number, recovered: SimAcceptorRecovered): SimRole;
  proposer(id: number, recovered: ProposerRecovered, seed: number): ProposerRole;
  learner(): LearnerRole;
  replica(id: number, recovered: { acceptor: SimAcceptorRecovered; proposer: ProposerRecovered }, seed: number): ReplicaRole;
  checkpointSchedule(from: number, now: number): CheckpointScheduleRole;
}

/** The real core classes, typed as what they are, so that mutants can wrap their parts. */
export function realRoles(o: SimOptions) {
  // Batching binds values at the end of a turn, as evpaxos does (the simulation's end-of-batch).
  const proposerOptions = { timeoutMs: o.proposerTimeoutMs, preexecWindow: o.preexecWindow, batchMaxValues: o.batchMaxValues, bindAtEndOfBatch: true };
  const batched = o.batchMaxValues > 0;
  // With checkpoints on, applications' learners fetch snapshots and trim by the lowest checkpoint.
  const checkpoints: Omit<LearnerOptions, 'acceptors'> =
    o.checkpointEvery > 0
      ? {
          snapshots: { chunkBytes: o.chunkBytes, window: o.fetchWindow, offerWaitMs: 20, retryMs: 200, stallMs: 400, stuckMs: 3000 },
          checkpointTrim: { hold: o.trimHold, reporters: trimReportersOf(o) },
        }
      : {};
  const lead = o.leadership ? { leadership: { leaseMs: o.leaseMs, marginMs: Math.floor(o.leaseMs / 10) } } : {};
  // The window matters only with an archive, which the simulation gives acceptors when it is on.
  const memory = o.memoryWindow > 0 ? { memoryWindow: o.memoryWindow, ...(o.memoryBytes > 0 ? { memoryBytes: o.memoryBytes } : {}) } : {};
  return {
    acceptor: (aid: number, recovered: AcceptorRecovered): Acceptor => new Acceptor({ id: aid, ...memory }, recovered),
    proposer: (id: number, recovered: ProposerRecovered, seed: number): LearningProposer =>
      new LearningProposer({ id, acceptors: o.acceptors, seed, ...proposerOptions, ...lead }, recovered),
    learner: (): Learner => new Learner({ acceptors: o.acceptors, batched, ...checkpoints, ...lead }),
    replica: (id: number, recovered: { acceptor: AcceptorRecovered; proposer: ProposerRecovered }, seed: number): Replica =>
      new Replica({ id, replicas: o.acceptors, acceptor: memory, proposer: { seed, ...proposerOptions }, learner: { batched, ...checkpoints }, ...lead, acceptedDigests: digestsAt(o, id) }, recovered),
    // Every N instances, or 1.5 s after anything was applied: an idle cluster still checkpoints its last values.
    checkpointSchedule: (from: number, now: number): CheckpointSchedule => new CheckpointSchedule({ instances: o.checkpointEvery, intervalMs: 1500 }, from, now),
  } satisfies RoleFactory;
}

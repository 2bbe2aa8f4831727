import {
  Acceptor,
  Learner,
  LearningProposer,
  Replica,
  type AcceptorRecovered,
  type Decision,
  type Effects,
  type Input,
  type LeaderView,
  type MasterState,
  type Message,
  type PeerId,
  type ProposerRecovered,
} from '@libpaxos/paxos-core';
import type { SimOptions } from './options.js';

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

export interface LearnerRole extends SimRole {
  setInstanceId(iid: number): void;
  trim(iid: number, out: Effects): void;
  /** Decided by the last step, in order, no-ops included. */
  readonly lastDecided: readonly { readonly iid: number; readonly value: Uint8Array }[];
}

/** Acceptor, proposer and learner in one (core's `Replica` fits). */
export interface ReplicaRole extends ProposerRole {
  /** Set-instance-id and trim reach a replica through its general input. */
  step(input: Input, out: Effects): void;
  /** Decided by the last input, in order, no-ops included. */
  readonly lastDecided: readonly Decision[];
  /** Leadership's state as of the last instance learned (with leadership on). */
  masterState?(): MasterState | undefined;
}

/** A role that takes part in leadership (a proposer or a replica with leadership on). */
export interface LeaderRole {
  isLeader(now: number): boolean;
  leader(now: number): LeaderView | undefined;
  canReadLocally(now: number): boolean;
  readonly learner: { readonly nextIid: number };
}

export function isLeaderRole(role: SimRole | null): role is SimRole & LeaderRole {
  return role !== null && 'canReadLocally' in role;
}

export interface RoleFactory {
  acceptor(aid: number, recovered: AcceptorRecovered): SimRole;
  proposer(id: number, recovered: ProposerRecovered, seed: number): ProposerRole;
  learner(): LearnerRole;
  replica(id: number, recovered: { acceptor: AcceptorRecovered; proposer: ProposerRecovered }, seed: number): ReplicaRole;
}

/** The real core classes, typed as what they are, so that mutants can wrap their parts. */
export function realRoles(o: SimOptions) {
  // Batching binds values at the end of a turn, as evpaxos does (the simulation's end-of-batch).
  const proposerOptions = { timeoutMs: o.proposerTimeoutMs, preexecWindow: o.preexecWindow, batchMaxValues: o.batchMaxValues, bindAtEndOfBatch: true };
  const batched = o.batchMaxValues > 0;
  const lead = o.leadership ? { leadership: { leaseMs: o.leaseMs, marginMs: Math.floor(o.leaseMs / 10) } } : {};
  return {
    acceptor: (aid: number, recovered: AcceptorRecovered): Acceptor => new Acceptor({ id: aid }, recovered),
    proposer: (id: number, recovered: ProposerRecovered, seed: number): LearningProposer =>
      new LearningProposer({ id, acceptors: o.acceptors, seed, ...proposerOptions, ...lead }, recovered),
    learner: (): Learner => new Learner({ acceptors: o.acceptors, batched, ...lead }),
    replica: (id: number, recovered: { acceptor: AcceptorRecovered; proposer: ProposerRecovered }, seed: number): Replica =>
      new Replica({ id, replicas: o.acceptors, proposer: { seed, ...proposerOptions }, learner: { batched }, ...lead }, recovered),
  } satisfies RoleFactory;
}

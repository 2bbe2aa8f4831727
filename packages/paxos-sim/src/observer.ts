import type { AcceptedDigestMsg, Message } from '@libpaxos/paxos-core';

/** A node's role in the simulated cluster. */
export type NodeKind = 'acceptor' | 'proposer' | 'learner' | 'replica';

/**
 * What a run's observer is told, as it happens (times are simulated ms; nodes are indexes, in the
 * order the run created them). For watching a run, e.g. `pnpm sim:web`'s space-time diagram: an
 * observer only looks, and a run with one has the same trace hash and outcome as a run without.
 */
export type SimObservation =
  /** A node (re)started: at the beginning, after a crash, and at the heal. */
  | { readonly kind: 'up'; readonly time: number; readonly node: number; readonly name: string; readonly role: NodeKind }
  /** A node crashed: its volatile state and unsynced writes are gone. */
  | { readonly kind: 'crash'; readonly time: number; readonly node: number }
  /** The leader `node` was asked to drop its leadership (a planned handover). */
  | { readonly kind: 'resign'; readonly time: number; readonly node: number }
  /**
   * A message left `from` for `to`, to arrive at `arrives` (delivered then if `to` is up).
   * `duplicate`: a second copy that the network made of the message sent just before.
   */
  | {
      readonly kind: 'send';
      readonly time: number;
      readonly from: number;
      readonly to: number;
      /** A LibPaxos3 message, or a digest vote between replicas (paxos-core's accepted-digest.ts). */
      readonly msg: Message | AcceptedDigestMsg;
      readonly arrives: number;
      readonly duplicate: boolean;
    }
  /** A message the network lost: cut by a partition, or dropped at random. */
  | { readonly kind: 'drop'; readonly time: number; readonly from: number; readonly to: number; readonly msg: Message | AcceptedDigestMsg; readonly cause: 'partition' | 'loss' }
  /**
   * Links cut (directed, `[from, to]`) until the matching `unpartition` (the same links) or the
   * heal. Partitions may overlap.
   */
  | { readonly kind: 'partition'; readonly time: number; readonly links: readonly (readonly [number, number])[] }
  | { readonly kind: 'unpartition'; readonly time: number; readonly links: readonly (readonly [number, number])[] }
  /** A client submitted `value` to proposer (or replica) `node`. */
  | { readonly kind: 'submit'; readonly time: number; readonly node: number; readonly value: Uint8Array }
  /** Learner (or replica) `node` decided instance `iid` (a no-op when the core closed a hole: see `isNoop`). */
  | { readonly kind: 'decide'; readonly time: number; readonly node: number; readonly iid: number; readonly value: Uint8Array }
  /** The fault phase ended: every partition is lifted, no more loss, crashed nodes restart. */
  | { readonly kind: 'heal'; readonly time: number };

export type SimObserver = (observation: SimObservation) => void;

import type { MasterState } from './leadership.js';
import type { PeerId } from './effects.js';

/**
 * A checkpoint as peers name it: the instance its state is as of, its size in bytes, and the
 * checksum of its bytes (opaque to the core; evpaxos uses SHA-256). Two checkpoints of one instance
 * may differ in bytes (two replicas serialise their state differently), so the checksum is part of
 * the name: a transfer resumes only into the same bytes.
 */
export interface SnapshotRef {
  readonly iid: number;
  readonly size: number;
  readonly sum: Uint8Array;
  /**
   * The checkpoint reports known as of `iid` (each reporter's latest, `[node, checkpoint iid]`),
   * carried with the checkpoint: a node that installs it learns the log only after `iid`, and needs
   * them to trim like everyone else (`CheckpointTrim.reportsAsOf`). Not part of its name.
   */
  readonly reports?: readonly (readonly [number, number])[];
  /**
   * Leadership's log-determined state as of `iid` (leadership on), carried for the same reason: a
   * node that installs it learns only the master operations after `iid`, and judges each by the
   * one before it. Not part of its name.
   */
  readonly master?: MasterState;
}

/**
 * Snapshot transfer messages, beyond LibPaxos3's nine: they travel only between libpaxos-ts peers
 * (evpaxos sends them on a connection only after the peer's `hello`; a C peer never gets one).
 */
export type SnapshotMessage =
  /**
   * Fetcher → every peer that may hold checkpoints: which is your newest? The fetcher needs one of
   * an instance ≥ `need`. `resume` names a checkpoint (≥ `need`) the fetcher holds part of: a peer
   * that still has it offers it instead, so the transfer resumes rather than starting over.
   */
  | { readonly type: 'snapshot_query'; readonly need: number; readonly resume: SnapshotRef | undefined }
  /** Peer → fetcher: the checkpoint it can send (`iid` 0: none), with the reports and leadership state it carries. */
  | {
      readonly type: 'snapshot_offer';
      readonly iid: number;
      readonly size: number;
      readonly sum: Uint8Array;
      readonly reports: readonly (readonly [number, number])[];
      readonly master?: MasterState;
    }
  /** Fetcher → peer: bytes `offset…offset+length` of that checkpoint. */
  | { readonly type: 'snapshot_get'; readonly iid: number; readonly sum: Uint8Array; readonly offset: number; readonly length: number }
  /** Peer → fetcher: those bytes; `gone` when the peer no longer has that checkpoint. */
  | {
      readonly type: 'snapshot_chunk';
      readonly iid: number;
      readonly sum: Uint8Array;
      readonly offset: number;
      readonly data: Uint8Array;
      readonly gone: boolean;
    };

export type SnapshotMessageType = SnapshotMessage['type'];

/**
 * What the fetch state machine asks its shell to do. Messages go out; file work is done in order,
 * one step at a time, and each step is answered with a `SnapshotIoResult` (evpaxos streams to and
 * from files; the simulator keeps bytes on simulated disks and crashes between the steps).
 */
export type SnapshotEffect =
  /** Send `msg` to every peer that may hold checkpoints (evpaxos: every libpaxos-ts peer that said hello). */
  | { readonly kind: 'query'; readonly msg: Extract<SnapshotMessage, { type: 'snapshot_query' }> }
  | { readonly kind: 'send'; readonly peer: PeerId; readonly msg: SnapshotMessage }
  /**
   * Prepare to receive `ref`: keep what is already staged for exactly `ref` (a resumed transfer),
   * drop anything else staged. Answer `opened` with the bytes already staged.
   */
  | { readonly kind: 'open'; readonly ref: SnapshotRef }
  /** Write `data` at `offset` of the staged copy of `ref`. Answer `written`. */
  | { readonly kind: 'write'; readonly ref: SnapshotRef; readonly offset: number; readonly data: Uint8Array }
  /** Check the staged copy: `size` bytes whose checksum is `sum`. Answer `verified`. */
  | { readonly kind: 'verify'; readonly ref: SnapshotRef }
  /**
   * Make the staged copy a checkpoint of this node (durably) and restore the application's state
   * from it. Answer `installed`.
   */
  | { readonly kind: 'install'; readonly ref: SnapshotRef }
  /** Drop the staged copy (it failed verification). */
  | { readonly kind: 'discard'; readonly ref: SnapshotRef };

export type SnapshotIoResult =
  | { readonly kind: 'opened'; readonly ref: SnapshotRef; readonly have: number }
  | { readonly kind: 'written'; readonly ref: SnapshotRef; readonly offset: number; readonly length: number }
  | { readonly kind: 'verified'; readonly ref: SnapshotRef; readonly ok: boolean }
  | { readonly kind: 'installed'; readonly ref: SnapshotRef; readonly ok: boolean };

export function sameRef(a: SnapshotRef | undefined, b: SnapshotRef | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a.iid !== b.iid || a.size !== b.size || a.sum.length !== b.sum.length) return false;
  for (let i = 0; i < a.sum.length; i++) if (a.sum[i] !== b.sum[i]) return false;
  return true;
}

import { InvariantError, assertNever } from './assert.js';
import type { Effects, PeerId } from './effects.js';
import type { MasterState } from './leadership.js';
import type { Message } from './messages.js';
import type { SnapshotIoResult, SnapshotMessage } from './snapshot-messages.js';

/**
 * One input to a role. Each role takes the kinds that make sense for it (see its `step`); handing
 * a role a kind it does not take is a programming error and throws.
 */
export type Input =
  /** A message from a peer. `from` is echoed back in replies. */
  | { readonly kind: 'message'; readonly from: PeerId; readonly msg: Message }
  /** The current monotonic time in milliseconds. Timeouts are compared against it. */
  | { readonly kind: 'tick'; readonly now: number }
  /** Proposer: a client value submitted locally (same as a client_value message). */
  | { readonly kind: 'propose'; readonly value: Uint8Array }
  /** Proposer: the local learner decided `iid` (replica mode; LibPaxos3's deliver hook). */
  | { readonly kind: 'decided'; readonly iid: number; readonly value: Uint8Array }
  /**
   * Proposer and learner: instances `≤ iid` are done (LibPaxos3's set-instance-id), e.g. restored
   * from a checkpoint; with leadership on, `master` is the checkpoint's leadership state as of
   * `iid` (without it the master operations up to `iid` are unknown: see Leadership.jump).
   */
  | { readonly kind: 'set-instance-id'; readonly iid: number; readonly master?: MasterState }
  /** Learner: ask every acceptor to trim instances `≤ iid`. */
  | { readonly kind: 'trim'; readonly iid: number }
  /**
   * The shell has stepped every input it had at hand (the end of an event-loop turn). A batching
   * proposer that defers binding (`bindAtEndOfBatch`) puts the client values of the turn into
   * instances now, so they share instances. Roles with nothing to do ignore it.
   */
  | { readonly kind: 'end-of-batch' }
  /** Learner (and roles that contain one): a snapshot transfer message from a peer. */
  | { readonly kind: 'snapshot'; readonly from: PeerId; readonly msg: SnapshotMessage }
  /** Learner: the shell finished a snapshot file step it was asked for. */
  | { readonly kind: 'snapshot-io'; readonly result: SnapshotIoResult }
  /**
   * Learners and proposers (and the roles that contain them): the shell's connection to an
   * acceptor, `peer`, came up (the first time, or again). What that acceptor broadcast before is
   * never sent again by itself, nor what was sent to it while the connection was down: a learner
   * asks it for the one, a proposer sends it the other again. Acceptors ignore it. `peer` is the
   * acceptor's id, the PeerId of the connection dialled to it.
   */
  | { readonly kind: 'acceptor-connected'; readonly peer: PeerId };

export type InputKind = Input['kind'];

/** The entry points a role may have; `step` dispatches an `Input` to them. */
export interface InputHandlers {
  receive(from: PeerId, msg: Message, out: Effects): void;
  tick(now: number, out: Effects): void;
  propose?(value: Uint8Array, out: Effects): void;
  decided?(iid: number, value: Uint8Array, out: Effects): void;
  setInstanceId?(iid: number, out: Effects, master?: MasterState): void;
  trim?(iid: number, out: Effects): void;
  endOfBatch?(out: Effects): void;
  receiveSnapshot?(from: PeerId, msg: SnapshotMessage, out: Effects): void;
  snapshotIo?(result: SnapshotIoResult, out: Effects): void;
  acceptorConnected?(peer: PeerId, out: Effects): void;
}

/**
 * Hands `input` to the matching entry point of `role`. A kind the role has no entry point for is
 * a programming error of the caller and throws.
 */
export function dispatchInput(name: string, role: InputHandlers, input: Input, out: Effects): void {
  // No closure in here (a `refuse` arrow capturing `name` and `input` made every input allocate a
  // context): the refusals call `refused`.
  switch (input.kind) {
    case 'message':
      return role.receive(input.from, input.msg, out);
    case 'tick':
      return role.tick(input.now, out);
    case 'propose':
      return role.propose === undefined ? refused(name, input) : role.propose(input.value, out);
    case 'decided':
      return role.decided === undefined ? refused(name, input) : role.decided(input.iid, input.value, out);
    case 'set-instance-id':
      return role.setInstanceId === undefined ? refused(name, input) : role.setInstanceId(input.iid, out, input.master);
    case 'trim':
      return role.trim === undefined ? refused(name, input) : role.trim(input.iid, out);
    case 'end-of-batch':
      return role.endOfBatch?.(out);
    case 'snapshot':
      return role.receiveSnapshot === undefined ? refused(name, input) : role.receiveSnapshot(input.from, input.msg, out);
    case 'snapshot-io':
      return role.snapshotIo === undefined ? refused(name, input) : role.snapshotIo(input.result, out);
    case 'acceptor-connected':
      return role.acceptorConnected?.(input.peer, out);
    default:
      return assertNever(input);
  }
}

function refused(name: string, input: Input): never {
  throw new InvariantError(`${name} does not take '${input.kind}' inputs`);
}

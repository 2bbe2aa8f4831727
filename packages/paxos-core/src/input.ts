import type { PeerId } from './effects.js';
import type { Message } from './messages.js';

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
  /** Proposer and learner: instances `≤ iid` are done (LibPaxos3's set-instance-id). */
  | { readonly kind: 'set-instance-id'; readonly iid: number }
  /** Learner: ask every acceptor to trim instances `≤ iid`. */
  | { readonly kind: 'trim'; readonly iid: number };

export type InputKind = Input['kind'];

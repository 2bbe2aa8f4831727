/**
 * The nine LibPaxos3 messages, with LibPaxos3's fields in LibPaxos3's wire order. Plain readonly
 * objects: the codec in evpaxos maps them to `[code, ...fields]` msgpack arrays.
 *
 * A value is a `Uint8Array`. An empty value is a no-op: the proposer uses it to close holes and
 * learners skip it (ARCHITECTURE.md, "Holes are closed").
 */

/** Phase 1a, proposer → every acceptor. */
export interface PrepareMsg {
  readonly type: 'prepare';
  readonly iid: number;
  readonly ballot: number;
}

/**
 * Phase 1b, acceptor → the sender of the prepare. `ballot` is the acceptor's current promise and
 * may be higher than asked: that is LibPaxos3's rejection signal. `valueBallot`/`value` are the
 * last accepted pair (0 and empty when nothing was accepted).
 */
export interface PromiseMsg {
  readonly type: 'promise';
  readonly aid: number;
  readonly iid: number;
  readonly ballot: number;
  readonly valueBallot: number;
  readonly value: Uint8Array;
}

/** Phase 2a, proposer → every acceptor. */
export interface AcceptMsg {
  readonly type: 'accept';
  readonly iid: number;
  readonly ballot: number;
  readonly value: Uint8Array;
}

/**
 * Phase 2b, acceptor → every subscriber after accepting, or → the requester when answering a
 * repeat. `valueBallot` is the ballot the value was accepted in; `ballot` the acceptor's promise.
 */
export interface AcceptedMsg {
  readonly type: 'accepted';
  readonly aid: number;
  readonly iid: number;
  readonly ballot: number;
  readonly valueBallot: number;
  readonly value: Uint8Array;
}

/** Rejection of an accept, carrying the ballot the acceptor has promised. */
export interface PreemptedMsg {
  readonly type: 'preempted';
  readonly aid: number;
  readonly iid: number;
  readonly ballot: number;
}

/** Learner → every acceptor: resend what you accepted for instances `from..to` (inclusive). */
export interface RepeatMsg {
  readonly type: 'repeat';
  readonly from: number;
  readonly to: number;
}

/** Application → every acceptor: forget instances `≤ iid`. */
export interface TrimMsg {
  readonly type: 'trim';
  readonly iid: number;
}

/** Acceptor → every subscriber, periodically: lets proposers skip trimmed instances. */
export interface AcceptorStateMsg {
  readonly type: 'acceptor_state';
  readonly aid: number;
  readonly trimIid: number;
}

/** Client → proposer: a value to order. */
export interface ClientValueMsg {
  readonly type: 'client_value';
  readonly value: Uint8Array;
}

export type Message =
  | PrepareMsg
  | PromiseMsg
  | AcceptMsg
  | AcceptedMsg
  | PreemptedMsg
  | RepeatMsg
  | TrimMsg
  | AcceptorStateMsg
  | ClientValueMsg;

export type MessageType = Message['type'];

/** LibPaxos3's type codes: the first element of every msgpack array on the wire. */
export const MESSAGE_CODE = {
  prepare: 0,
  promise: 1,
  accept: 2,
  accepted: 3,
  preempted: 4,
  repeat: 5,
  trim: 6,
  acceptor_state: 7,
  client_value: 8,
} as const satisfies Record<MessageType, number>;

export const MESSAGE_TYPES: readonly MessageType[] = [
  'prepare',
  'promise',
  'accept',
  'accepted',
  'preempted',
  'repeat',
  'trim',
  'acceptor_state',
  'client_value',
];

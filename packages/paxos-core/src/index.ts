export { ACCEPTED_DIGESTS_FEATURE, digestMatches, digestOf, valueDigest, type AcceptedDigestMsg } from './accepted-digest.js';
export { Acceptor, DEFAULT_MEMORY_BYTES, DEFAULT_MEMORY_WINDOW, type AcceptorArchive, type AcceptorOptions, type AcceptorRecovered } from './acceptor.js';
export { StartWindow } from './start-window.js';
export { InvariantError, assertNever, invariant } from './assert.js';
export { BATCH_VERSION, decodeBatch, encodeBatch } from './batch.js';
export { MAX_ROUND, ballotOf, roundAbove, roundOf } from './ballot.js';
export { EMPTY, NOOP, bytesEqual, isNoop } from './bytes.js';
export { PaxosConfigError } from './config-error.js';
export { CheckpointSchedule, CheckpointTrim, DEFAULT_TRIM_REPORTERS, type CheckpointScheduleOptions } from './checkpoint-policy.js';
export { decodeCheckpointReport, encodeCheckpointReport, isCheckpointReport, type CheckpointReport } from './checkpoint-report.js';
export { controlValue, isControlValue, type ControlValue } from './control-value.js';
export { SnapshotFetch, type SnapshotFetchOptions } from './snapshot-fetch.js';
export {
  sameRef,
  type SnapshotEffect,
  type SnapshotIoResult,
  type SnapshotMessage,
  type SnapshotMessageType,
  type SnapshotRef,
} from './snapshot-messages.js';
export {
  MAX_EARLIER_BALLOTS,
  clearEffects,
  drop,
  newEffects,
  type AcceptorRecord,
  type CoreEvent,
  type Decision,
  type Delivery,
  type DropReason,
  type Effects,
  type Envelope,
  type FenceRecord,
  type LearnedRecord,
  type PeerId,
  type PersistRecord,
  type RoundFloorRecord,
  type TrimRecord,
  type ValueLossReason,
} from './effects.js';
export type { Input, InputKind } from './input.js';
export { Forwarder } from './forwarder.js';
export { Leadership, type LeaderView, type LeadershipOptions, type MasterState } from './leadership.js';
export { Learner, type LearnerOptions } from './learner.js';
export { decodeMasterOp, encodeMasterOp, isMasterOp, type MasterOp } from './master-op.js';
export { LearningProposer, type LearningProposerOptions } from './learning-proposer.js';
export { FIRST_IID, MAX_ACCEPTORS, MAX_PROPOSERS, MAX_UINT32, isUint32, quorumSize } from './limits.js';
export {
  MESSAGE_CODE,
  MESSAGE_TYPES,
  type AcceptMsg,
  type AcceptedMsg,
  type AcceptorStateMsg,
  type ClientValueMsg,
  type Message,
  type MessageType,
  type PreemptedMsg,
  type PrepareMsg,
  type PromiseMsg,
  type RepeatMsg,
  type TrimMsg,
} from './messages.js';
export { Prng } from './prng.js';
export { Proposer, type ProposerOptions, type ProposerRecovered } from './proposer.js';
export { Replica, type ReplicaOptions, type ReplicaRecovered } from './replica.js';
export { REJOIN_PENDING, rejoinMargin, rejoinPoint, type RejoinAnswer, type RejoinMessage } from './rejoin.js';

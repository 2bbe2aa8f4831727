import { bytesEqual } from './bytes.js';

/**
 * A master operation (PhxPaxos's master election, `src/master/`): an ordinary Paxos value in the
 * same log as client values, that makes `node` the leader, renews its lease, or ends it. It takes
 * effect only if `version` is the instance of the last master operation that took effect, so of
 * two nodes that campaign on the same knowledge only the first one in the log wins, and a node
 * that is behind can never depose a leader it has not heard of.
 */
export interface MasterOp {
  readonly kind: 'claim' | 'resign';
  /** Proposer id of the node claiming (or giving up) leadership. */
  readonly node: number;
  /** Lease length in ms: everyone but the holder counts it from when they learn the operation. */
  readonly leaseMs: number;
  /** Instance of the last master operation that took effect when this one was proposed (0: none). */
  readonly version: number;
  /** Tells the proposing node its own operation from an older one of the same node. */
  readonly nonce: number;
  /**
   * How far beyond its last decided instance this node's proposer may open instances while it
   * leads. A successor completes every instance up to (this operation's instance + openLimit)
   * before it serves lease reads: no earlier leader can have started one beyond that.
   */
  readonly openLimit: number;
}

/**
 * The bytes: LibPaxos3's client payload (reference §8, x86-64 layout) with client id −2, which no
 * LibPaxos3 client and none of ours uses, so C learners and clients in the cluster read it as
 * another client's value, as they read the no-op (bytes.ts). The body starts with a NUL-terminated
 * tag, so a C learner printing it (`%.16s`) shows `paxos-master`, then big-endian fields:
 *   [ "paxos-master\0" ] [format u8 = 1] [kind u8: 1 claim, 2 resign] [node u8] [pad u8]
 *   [leaseMs u32] [version u32] [nonce u32] [openLimit u32]
 */
const HEADER = 32;
const TAG = Array.from('paxos-master\0', (c) => c.charCodeAt(0));
const BODY = TAG.length + 4 + 16;
const SIZE = HEADER + BODY;
const FORMAT = 1;
const PREFIX = new Uint8Array(HEADER + TAG.length);
PREFIX.set([0xfe, 0xff, 0xff, 0xff]);
PREFIX[24] = BODY;
PREFIX.set(TAG, HEADER);

export function encodeMasterOp(op: MasterOp): Uint8Array {
  const out = new Uint8Array(SIZE);
  out.set(PREFIX);
  const view = new DataView(out.buffer);
  let at = HEADER + TAG.length;
  out[at++] = FORMAT;
  out[at++] = op.kind === 'claim' ? 1 : 2;
  out[at++] = op.node;
  at++;
  view.setUint32(at, op.leaseMs);
  view.setUint32(at + 4, op.version);
  view.setUint32(at + 8, op.nonce >>> 0);
  view.setUint32(at + 12, op.openLimit);
  return out;
}

/** The master operation in `value`, or undefined when it is not one (a client value, a no-op). */
export function decodeMasterOp(value: Uint8Array): MasterOp | undefined {
  if (value.length !== SIZE || value[0] !== 0xfe || !bytesEqual(value.subarray(0, PREFIX.length), PREFIX)) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let at = HEADER + TAG.length;
  if (value[at++] !== FORMAT) return undefined;
  const kind = value[at++];
  if (kind !== 1 && kind !== 2) return undefined;
  const node = value[at++] as number;
  at++;
  return {
    kind: kind === 1 ? 'claim' : 'resign',
    node,
    leaseMs: view.getUint32(at),
    version: view.getUint32(at + 4),
    nonce: view.getUint32(at + 8),
    openLimit: view.getUint32(at + 12),
  };
}

/** Whether a decided value is a master operation (learners never deliver those). Cheap on client values. */
export function isMasterOp(value: Uint8Array): boolean {
  return value.length === SIZE && value[0] === 0xfe && decodeMasterOp(value) !== undefined;
}

import { bytesEqual } from './bytes.js';

/**
 * A checkpoint report: "node `node` has a durable checkpoint of its state as of instance `iid`".
 * It is an ordinary Paxos value in the same log as client values, as LibPaxos3's counter sample
 * gossips `TRIM <replica> <iid>` through the log (reference §8), so that every replica learns every
 * report at the same log position and computes the same trim point (`CheckpointTrim`). Learners
 * never deliver it to the application.
 */
export interface CheckpointReport {
  /** Who reports: a replica's id (its acceptor and proposer id), or any id a reporter picks. */
  readonly node: number;
  /** The instance the checkpoint holds the state of (everything ≤ it applied, nothing above). */
  readonly iid: number;
}

/**
 * The bytes: LibPaxos3's client payload (reference §8, x86-64 layout) with client id −3, which no
 * LibPaxos3 client and none of ours uses (−1 is the no-op, −2 a master operation), so C learners
 * and clients read it as another client's value. The body starts with a NUL-terminated tag, so a C
 * learner printing it (`%.16s`) shows `paxos-ckpt`, then big-endian fields:
 *   [ "paxos-ckpt\0" ] [format u8 = 1] [node u8] [pad u16] [iid u32]
 */
const HEADER = 32;
const TAG = Array.from('paxos-ckpt\0', (c) => c.charCodeAt(0));
const BODY = TAG.length + 8;
const SIZE = HEADER + BODY;
const FORMAT = 1;
const PREFIX = new Uint8Array(HEADER + TAG.length);
PREFIX.set([0xfd, 0xff, 0xff, 0xff]);
PREFIX[24] = BODY;
PREFIX.set(TAG, HEADER);

export function encodeCheckpointReport(r: CheckpointReport): Uint8Array {
  if (!Number.isInteger(r.node) || r.node < 0 || r.node > 255) throw new RangeError(`checkpoint report node ${r.node} is not 0..255`);
  if (!Number.isInteger(r.iid) || r.iid < 0 || r.iid > 0xffff_ffff) throw new RangeError(`checkpoint report iid ${r.iid} is not a uint32`);
  const out = new Uint8Array(SIZE);
  out.set(PREFIX);
  let at = HEADER + TAG.length;
  out[at++] = FORMAT;
  out[at++] = r.node;
  at += 2;
  new DataView(out.buffer).setUint32(at, r.iid);
  return out;
}

/** The report in `value`, or undefined when it is not one (a client value, a no-op, a master operation). */
export function decodeCheckpointReport(value: Uint8Array): CheckpointReport | undefined {
  if (value.length !== SIZE || value[0] !== 0xfd || !bytesEqual(value.subarray(0, PREFIX.length), PREFIX)) return undefined;
  let at = HEADER + TAG.length;
  if (value[at++] !== FORMAT) return undefined;
  const node = value[at++] as number;
  at += 2;
  const iid = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(at);
  return { node, iid };
}

/** Whether a value is a checkpoint report. Cheap on client values (length and first byte first). */
export function isCheckpointReport(value: Uint8Array): boolean {
  return value.length === SIZE && value[0] === 0xfd && decodeCheckpointReport(value) !== undefined;
}

import { NOOP, controlValue, isControlValue, type ControlValue } from '@libpaxos/paxos-core';

/**
 * How the oracle reads a Paxos value. It deliberately shares no decoding with paxos-core's batch
 * decoder or learner: a bug there must show up as a difference, not be repeated here. The one
 * exception is the question "is this a control value?" (no-op, master operation, checkpoint
 * report: never applied, delivered or counted as a client value): the oracle asks paxos-core's
 * `isControlValue`, the same predicate the learners and evpaxos's state-machine path ask, so the
 * three can never disagree on it — and `controlDisagreement` holds that predicate to the oracle's
 * own reading of the documented layouts for every value chosen, so a bug in it is still caught.
 */

/** Whether a decided value delivers nothing to applications: paxos-core's control-value predicate. */
export function isProtocolValue(value: Uint8Array): boolean {
  return isControlValue(value);
}

/**
 * The oracle's own reading of a decided value: which control value its bytes are by their
 * documented layouts (no paxos-core decoder), or undefined for a client value.
 */
export function ownControlKind(value: Uint8Array): ControlValue['kind'] | undefined {
  if (isNoopValue(value)) return 'noop';
  if (isMasterOpValue(value)) return 'master-op';
  if (reportOf(value) !== undefined) return 'checkpoint-report';
  return undefined;
}

/** Why paxos-core's control-value predicate reads `value` otherwise than the oracle, or undefined when they agree. */
export function controlDisagreement(value: Uint8Array): string | undefined {
  const core = controlValue(value)?.kind;
  const own = ownControlKind(value);
  if (core === own) return undefined;
  return `paxos-core reads a ${value.length}-byte value as ${core ?? 'a client value'}, its layout says ${own ?? 'a client value'}`;
}

/**
 * Whether a decided value is a no-op (closes a hole): an empty value (old data) or paxos-core's
 * no-op constant, whatever bytes that constant has.
 */
export function isNoopValue(value: Uint8Array): boolean {
  return value.length === 0 || sameBytes(value, NOOP);
}

/**
 * Whether `value` is LibPaxos3's client payload (reference §8, x86-64 layout: int32 client id, 4
 * pad bytes, int64 seconds, int64 microseconds, uint64 size, then the body) with client id
 * `clientId` (−3 … −1, the ids no client draws), times 0 and the right size, whose body starts
 * with the NUL-terminated `tag`: the envelope every control value but the no-op travels in.
 */
function controlPayload(value: Uint8Array, clientId: number, tag: string): boolean {
  if (value.length < 32 + tag.length) return false;
  if (value[0] !== (clientId & 0xff) || value[1] !== 0xff || value[2] !== 0xff || value[3] !== 0xff) return false;
  for (let i = 4; i < 24; i++) if (value[i] !== 0) return false;
  const size = value.length - 32;
  if (value[24] !== (size & 0xff) || value[25] !== size >>> 8) return false;
  for (let i = 26; i < 32; i++) if (value[i] !== 0) return false;
  for (let i = 0; i < tag.length; i++) if (value[32 + i] !== tag.charCodeAt(i)) return false;
  return true;
}

/**
 * The checkpoint report in a decided value, read by the oracle's own decoder (client id −3, the
 * tag `paxos-ckpt\0`, format 1, node u8, pad, iid u32 BE), or undefined when the value is not one.
 */
export function reportOf(value: Uint8Array): { readonly node: number; readonly iid: number } | undefined {
  if (value.length !== 51 || !controlPayload(value, -3, 'paxos-ckpt\0')) return undefined;
  if (value[43] !== 1) return undefined;
  return { node: value[44] as number, iid: u32(value, 47) };
}

/**
 * Whether a decided value is a master operation (leadership): by its documented layout, client id
 * −2, the tag `paxos-master\0`, format 1, kind 1 (claim) or 2 (resign), read here without
 * paxos-core's decoder.
 */
export function isMasterOpValue(value: Uint8Array): boolean {
  return masterOpOf(value) !== undefined;
}

/** The fields of a master operation the oracle judges leadership by, by its layout. */
export function masterOpOf(value: Uint8Array): { readonly kind: 'claim' | 'resign'; readonly node: number; readonly version: number; readonly openLimit: number } | undefined {
  const tag = 'paxos-master\0';
  if (value.length !== 32 + tag.length + 20 || !controlPayload(value, -2, tag)) return undefined;
  const at = 32 + tag.length;
  if (value[at] !== 1 || (value[at + 1] !== 1 && value[at + 1] !== 2)) return undefined;
  return { kind: value[at + 1] === 1 ? 'claim' : 'resign', node: value[at + 2] as number, version: u32(value, at + 8), openLimit: u32(value, at + 16) };
}

/**
 * The client values in a batch (format: `[1] [u32 count] ([u32 length] [bytes])*`, big-endian,
 * count ≥ 1, nothing after the last value), or undefined when `value` is not exactly that.
 * Returns copies, so nothing the oracle keeps aliases a role's buffers.
 */
export function unpackBatch(value: Uint8Array): Uint8Array[] | undefined {
  if (value.length < 5 || value[0] !== 1) return undefined;
  const count = u32(value, 1);
  const values: Uint8Array[] = [];
  let at = 5;
  for (let i = 0; i < count; i++) {
    if (at + 4 > value.length) return undefined;
    const length = u32(value, at);
    at += 4;
    if (length > value.length - at) return undefined;
    values.push(value.slice(at, at + length));
    at += length;
  }
  return count >= 1 && at === value.length ? values : undefined;
}

/** A client value an application must receive: its position in its instance's value, and its bytes. */
export interface Deliverable {
  readonly index: number;
  readonly value: Uint8Array;
}

/**
 * What the application must receive for a chosen value, in order: nothing for a control value (a
 * no-op, a master operation, a checkpoint report); with batching, the batch's elements at their
 * positions, except elements that are control values (skipped as a whole control value is; no
 * proposer of ours batches one, and the checker flags a batch that holds one), and a value that
 * is not a batch whole, at position 0 (flagged elsewhere as a proposer fault); without batching,
 * the value itself.
 */
export function deliverableElements(value: Uint8Array, batched: boolean): Deliverable[] {
  if (isProtocolValue(value)) return [];
  if (!batched) return [{ index: 0, value }];
  const elements = unpackBatch(value);
  if (elements === undefined) return [{ index: 0, value }];
  const out: Deliverable[] = [];
  elements.forEach((v, index) => {
    if (!isProtocolValue(v)) out.push({ index, value: v });
  });
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

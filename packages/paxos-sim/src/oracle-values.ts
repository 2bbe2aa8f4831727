import { NOOP } from '@libpaxos/paxos-core';

/**
 * How the oracle reads a Paxos value. It deliberately shares no code with paxos-core's batch
 * decoder or learner: a bug there must show up as a difference, not be repeated here.
 */

/**
 * Whether a decided Paxos value delivers nothing to applications: a no-op (closes a hole: an empty
 * value, old data and today's, or paxos-core's no-op constant, whatever bytes that constant has),
 * or a checkpoint report (the log's, for trimming; see `reportOf`). The one place the checker
 * decides this.
 */
export function isNoopValue(value: Uint8Array): boolean {
  return value.length === 0 || sameBytes(value, NOOP) || reportOf(value) !== undefined;
}

/**
 * The checkpoint report in a decided value, read by the oracle's own decoder (LibPaxos3's client
 * payload with client id −3, the tag `paxos-ckpt\0`, format 1, node u8, pad, iid u32 BE), or
 * undefined when the value is not one.
 */
export function reportOf(value: Uint8Array): { readonly node: number; readonly iid: number } | undefined {
  if (value.length !== 51 || value[0] !== 0xfd || value[1] !== 0xff || value[2] !== 0xff || value[3] !== 0xff) return undefined;
  const tag = 'paxos-ckpt\0';
  for (let i = 0; i < tag.length; i++) if (value[32 + i] !== tag.charCodeAt(i)) return undefined;
  if (value[43] !== 1) return undefined;
  return { node: value[44] as number, iid: u32(value, 47) };
}

const MASTER_TAG = Array.from('paxos-master\0', (c) => c.charCodeAt(0));

/**
 * Whether a decided value is a master operation (leadership): by its documented layout, a
 * LibPaxos3 client payload of client id −2 whose body starts with the tag `paxos-master`, read
 * here without paxos-core's decoder. Protocol-internal: no application receives it.
 */
export function isMasterOpValue(value: Uint8Array): boolean {
  if (value.length < 32 + MASTER_TAG.length) return false;
  if (value[0] !== 0xfe || value[1] !== 0xff || value[2] !== 0xff || value[3] !== 0xff) return false;
  return MASTER_TAG.every((c, i) => value[32 + i] === c);
}

/** A no-op or a master operation: decided, but never handed to an application. */
export function isProtocolValue(value: Uint8Array): boolean {
  return isNoopValue(value) || isMasterOpValue(value);
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

/**
 * What the application must receive for a chosen value: nothing for a no-op or a master
 * operation; with batching, the
 * batch's elements in order (a value that is not a batch is handed over whole, as one value, and
 * flagged elsewhere as a proposer fault); without batching, the value itself.
 */
export function deliverableElements(value: Uint8Array, batched: boolean): Uint8Array[] {
  if (isProtocolValue(value)) return [];
  if (!batched) return [value];
  return unpackBatch(value) ?? [value];
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

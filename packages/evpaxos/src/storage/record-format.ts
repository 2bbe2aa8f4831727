import type { AcceptorRecord } from '@libpaxos/paxos-core';

/**
 * Our on-disk format: portable and versioned, unlike LibPaxos3's raw struct image.
 *   record (key = iid):  [1] [ballot u32 BE] [value ballot u32 BE] [value…]
 *   meta   (key = 0):    [1] [trim iid u32 BE] [round floor u32 BE]
 * Key 0 is free because instance ids start at 1 (LibPaxos3 keeps its trim point there too).
 */
export const FORMAT_VERSION = 1;
export const META_KEY = 0;

export function encodeRecord(r: AcceptorRecord): Uint8Array {
  const out = new Uint8Array(9 + r.value.length);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  view.setUint32(1, r.ballot);
  view.setUint32(5, r.valueBallot);
  out.set(r.value, 9);
  return out;
}

/** Decodes a record; returns a sentence describing the problem if the bytes are not one. */
export function decodeRecord(iid: number, bytes: Uint8Array): AcceptorRecord | string {
  if (bytes.length < 9) return `record for instance ${iid} is ${bytes.length} bytes, shorter than its 9-byte header`;
  if (bytes[0] !== FORMAT_VERSION) return `record for instance ${iid} has format version ${bytes[0]}, this build reads version ${FORMAT_VERSION}`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ballot = view.getUint32(1);
  const valueBallot = view.getUint32(5);
  if (valueBallot > ballot) return `record for instance ${iid} has accepted ballot ${valueBallot} above its promise ${ballot}`;
  // A plain Uint8Array copy: lmdb-js hands out Buffers that views of it would keep alive.
  return { kind: 'record', iid, ballot, valueBallot, value: new Uint8Array(bytes.subarray(9)) };
}

export interface Meta {
  trimIid: number;
  roundFloor: number;
}

export function encodeMeta(m: Meta): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  view.setUint32(1, m.trimIid);
  view.setUint32(5, m.roundFloor);
  return out;
}

export function decodeMeta(bytes: Uint8Array): Meta | string {
  if (bytes.length !== 9 || bytes[0] !== FORMAT_VERSION) return `the metadata record (key 0) is not in format version ${FORMAT_VERSION}`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { trimIid: view.getUint32(1), roundFloor: view.getUint32(5) };
}

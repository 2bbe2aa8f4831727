import { MAX_EARLIER_BALLOTS, type AcceptorRecord } from '@libpaxos/paxos-core';
import { copyKept } from '../codec.js';

/**
 * Our on-disk format: portable and versioned, unlike LibPaxos3's raw struct image.
 *   record (key = iid):  [1] [ballot u32 BE] [value ballot u32 BE] [value…]
 *                   or:  [2] [ballot u32 BE] [value ballot u32 BE] [n u8] [n earlier ballots u32 BE] [value…]
 *   meta   (key = 0):    [1] [trim iid u32 BE] [round floor u32 BE]
 *                   or:  [2] [trim iid u32 BE] [round floor u32 BE] [fence u32 BE]   (a rejoined replica)
 * Version 2 is written only for a record with earlier ballots (a re-accepted value), so every other
 * record stays byte-identical to what earlier builds wrote. Key 0 is free because instance ids
 * start at 1 (LibPaxos3 keeps its trim point there too).
 */
export const FORMAT_VERSION = 1;
export const RECORD_WITH_EARLIER_VERSION = 2;
export const META_KEY = 0;

export function encodeRecord(r: AcceptorRecord): Uint8Array {
  const earlier = r.earlierBallots ?? [];
  const header = earlier.length === 0 ? 9 : 10 + 4 * earlier.length;
  const out = new Uint8Array(header + r.value.length);
  const view = new DataView(out.buffer);
  out[0] = earlier.length === 0 ? FORMAT_VERSION : RECORD_WITH_EARLIER_VERSION;
  view.setUint32(1, r.ballot);
  view.setUint32(5, r.valueBallot);
  if (earlier.length !== 0) {
    out[9] = earlier.length;
    earlier.forEach((b, i) => view.setUint32(10 + 4 * i, b));
  }
  out.set(r.value, header);
  return out;
}

/** Decodes a record; returns a sentence describing the problem if the bytes are not one. */
export function decodeRecord(iid: number, bytes: Uint8Array): AcceptorRecord | string {
  if (bytes.length < 9) return `record for instance ${iid} is ${bytes.length} bytes, shorter than its 9-byte header`;
  const version = bytes[0];
  if (version !== FORMAT_VERSION && version !== RECORD_WITH_EARLIER_VERSION) {
    return `record for instance ${iid} has format version ${version}, this build reads versions ${FORMAT_VERSION} and ${RECORD_WITH_EARLIER_VERSION}`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ballot = view.getUint32(1);
  const valueBallot = view.getUint32(5);
  if (valueBallot > ballot) return `record for instance ${iid} has accepted ballot ${valueBallot} above its promise ${ballot}`;
  if (version === FORMAT_VERSION) {
    // A plain Uint8Array copy: lmdb-js hands out Buffers that views of it would keep alive. The
    // acceptor keeps it until a trim: small ones share a slab (no ArrayBuffer per record).
    return { kind: 'record', iid, ballot, valueBallot, value: copyKept(bytes.subarray(9)) };
  }
  const n = bytes.length > 9 ? (bytes[9] as number) : 0;
  const header = 10 + 4 * n;
  if (n === 0 || n > MAX_EARLIER_BALLOTS || bytes.length < header) {
    return `record for instance ${iid} claims ${n} earlier ballots in ${bytes.length} bytes; a record holds 1 to ${MAX_EARLIER_BALLOTS}`;
  }
  const earlierBallots: number[] = [];
  let ascending = true;
  for (let i = 0; i < n; i++) {
    const b = view.getUint32(10 + 4 * i);
    if (b === 0 || b >= valueBallot || b <= (earlierBallots[i - 1] ?? 0)) ascending = false;
    earlierBallots.push(b);
  }
  if (!ascending) return `record for instance ${iid} has earlier ballots ${earlierBallots.join(', ')}, not ascending below its value ballot ${valueBallot}`;
  return { kind: 'record', iid, ballot, valueBallot, value: copyKept(bytes.subarray(header)), earlierBallots };
}

export interface Meta {
  trimIid: number;
  roundFloor: number;
  /** Instances at or below it the acceptor takes no part in (a replica that rejoined); 0: none. */
  fence: number;
}

/** Version 2 is written only with a fence, so every other store stays byte-identical to earlier builds'. */
export function encodeMeta(m: Meta): Uint8Array {
  const out = new Uint8Array(m.fence === 0 ? 9 : 13);
  const view = new DataView(out.buffer);
  out[0] = m.fence === 0 ? FORMAT_VERSION : RECORD_WITH_EARLIER_VERSION;
  view.setUint32(1, m.trimIid);
  view.setUint32(5, m.roundFloor);
  if (m.fence !== 0) view.setUint32(9, m.fence);
  return out;
}

export function decodeMeta(bytes: Uint8Array): Meta | string {
  const v2 = bytes.length === 13 && bytes[0] === 2;
  if (!v2 && (bytes.length !== 9 || bytes[0] !== FORMAT_VERSION)) return `the metadata record (key 0) is not in format version 1 or 2`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { trimIid: view.getUint32(1), roundFloor: view.getUint32(5), fence: v2 ? view.getUint32(9) : 0 };
}

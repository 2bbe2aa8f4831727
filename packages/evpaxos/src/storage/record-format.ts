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
 *                   or:  [4] [trim iid u32 BE] [round floor u32 BE] [fence u32 BE] [instances per segment u32 BE]
 *   padded (either key): [3] [n u8] [n zero bytes] [a record or meta record as above]
 * Meta version 4 marks a segmented store (segments.ts): its records are not in this environment
 * but in one per segment beside it. Every store created by a build that writes it is one, and gets
 * its meta record when created, so earlier builds, which would find no records, refuse it.
 * Version 3 is written only in a store whose pages are larger than 4 KiB, and only where the bytes
 * would be shorter than `minStoredBytes` of its page size (see there). Earlier builds read versions
 * 1 and 2 only, and say so: they must not write to such a store either, since they would not pad,
 * so such a store always has a padded meta record, from the first time it is loaded (lmdb.ts).
 */
export const FORMAT_VERSION = 1;
export const RECORD_WITH_EARLIER_VERSION = 2;
export const PADDED_VERSION = 3;
export const SEGMENTED_META_VERSION = 4;
export const META_KEY = 0;

/**
 * The page size of a store created here without `pageSize` (one that exists keeps its own), and
 * the config's default (`lmdb-page-size`). LMDB's own default is the OS page, which is 16 KiB on
 * some hosts (Apple silicon) and 64 KiB on some ARM64 Linux: asked explicitly, as pages above
 * 8 KiB are not safe with lmdb-js's LMDB (see `minStoredBytes`). `lmdb-page-size 8kb` holds
 * batches of 2 to 4 KiB in the leaf and larger ones in shorter runs of overflow pages, which a
 * trimmed log frees and LMDB reuses slowly.
 */
export const LMDB_PAGE_SIZE = 4096;

/**
 * The fewest bytes a record may take in an LMDB store of `pageSize` pages. LMDB's page split (as
 * lmdb-js 3.5 ships it; LMDB ITS#9806) cuts a full leaf of 32 or more nodes in half by count when
 * the new node is small (at most a sixteenth of a page) and goes anywhere but the end, without
 * checking that the half it joins has room: it fails with MDB_PAGE_FULL, and the transaction, and
 * every one after it in lmdb-js's batch, with MDB_BAD_TXN. That half has room whenever the other
 * half's at least 16 nodes take as much as the new node, i.e. when every node takes at least a
 * 256th of a page: a node is 8 bytes of header, our 4-byte key, its 2-byte slot and its data (an
 * overflow reference is 24 bytes), so data of pageSize/256 − 8 bytes leaves a margin of 6 for the
 * page header and rounding. 4 KiB: 8, which every record and meta record has (9 or more), so
 * stores of LMDB's default pages need no padding; 8 KiB (`lmdb-page-size 8kb`): 24, which overflow
 * references have too, and so do LMDB's own free-list records (8-byte key, 16 bytes of data or
 * more). Larger pages would need more than those take, which padding cannot change: the config
 * refuses them, and a store that has them (made on a host with larger OS pages, where LMDB's
 * default is the OS page) is padded as far as it goes, with a warning at start.
 */
export const MAX_SAFE_PAGE_SIZE = 8192;

export function minStoredBytes(pageSize: number): number {
  // At most 248 (LMDB's largest page, 64 KiB): the padding length fits its byte.
  return Math.max(0, Math.floor(pageSize / 256) - 8);
}

/** `bytes` behind a padding prefix that makes them `minBytes` long, if they are shorter. */
function padded(bytes: Uint8Array, minBytes: number): Uint8Array {
  if (bytes.length >= minBytes) return bytes;
  const pad = Math.max(0, minBytes - bytes.length - 2);
  const out = new Uint8Array(2 + pad + bytes.length);
  out[0] = PADDED_VERSION;
  out[1] = pad;
  out.set(bytes, 2 + pad);
  return out;
}

/** What a padding prefix wraps; a sentence if the prefix is broken, the bytes as they are if there is none. */
function unpadded(bytes: Uint8Array, what: string): Uint8Array | string {
  if (bytes[0] !== PADDED_VERSION) return bytes;
  const pad = bytes.length >= 2 ? (bytes[1] as number) : -1;
  if (pad < 0 || bytes.length < 2 + pad + 1 || bytes[2 + pad] === PADDED_VERSION) return `${what} has a broken padding prefix (${bytes.length} bytes)`;
  return bytes.subarray(2 + pad);
}

export function encodeRecord(r: AcceptorRecord, minBytes = 0): Uint8Array {
  const earlier = r.earlierBallots ?? [];
  const header = earlier.length === 0 ? 9 : 10 + 4 * earlier.length;
  if (header + r.value.length < minBytes) return padded(encodeRecord(r), minBytes);
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

/** A stored record's ballots and where its value starts in `bytes` (behind any padding). */
interface RecordHeader {
  readonly bytes: Uint8Array;
  readonly ballot: number;
  readonly valueBallot: number;
  readonly earlierBallots: number[] | undefined;
  readonly valueAt: number;
}

/**
 * Checks a record's bytes and reads its header, without copying its value (the read of the
 * older records' ballots for a rejoining peer wants only those); a sentence describing the problem if the
 * bytes are not a record.
 */
export function recordHeader(iid: number, stored: Uint8Array): RecordHeader | string {
  const bytes = unpadded(stored, `record for instance ${iid}`);
  if (typeof bytes === 'string') return bytes;
  if (bytes.length < 9) return `record for instance ${iid} is ${bytes.length} bytes, shorter than its 9-byte header`;
  const version = bytes[0];
  if (version !== FORMAT_VERSION && version !== RECORD_WITH_EARLIER_VERSION) {
    return `record for instance ${iid} has format version ${version}, this build reads versions ${FORMAT_VERSION} to ${PADDED_VERSION}`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ballot = view.getUint32(1);
  const valueBallot = view.getUint32(5);
  if (valueBallot > ballot) return `record for instance ${iid} has accepted ballot ${valueBallot} above its promise ${ballot}`;
  if (version === FORMAT_VERSION) return { bytes, ballot, valueBallot, earlierBallots: undefined, valueAt: 9 };
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
  return { bytes, ballot, valueBallot, earlierBallots, valueAt: header };
}

/** Decodes a record; returns a sentence describing the problem if the bytes are not one. */
export function decodeRecord(iid: number, stored: Uint8Array): AcceptorRecord | string {
  const h = recordHeader(iid, stored);
  if (typeof h === 'string') return h;
  // A plain Uint8Array copy: lmdb-js hands out Buffers that views of it would keep alive. The
  // acceptor keeps it until a trim: small ones share a slab (no ArrayBuffer per record).
  const value = copyKept(h.bytes.subarray(h.valueAt));
  return h.earlierBallots === undefined
    ? { kind: 'record', iid, ballot: h.ballot, valueBallot: h.valueBallot, value }
    : { kind: 'record', iid, ballot: h.ballot, valueBallot: h.valueBallot, value, earlierBallots: h.earlierBallots };
}

export interface Meta {
  trimIid: number;
  roundFloor: number;
  /** Instances at or below it the acceptor takes no part in (a replica that rejoined); 0: none. */
  fence: number;
  /** Instances per segment of a segmented store; 0: the records are in the store's own environment. */
  segmentInstances: number;
}

/** A meta record's bytes in format 1 (format 2 adds the fence), the shortest. */
const META_BYTES = 9;

/** Whether meta records are padded where records must take `minBytes`. */
export function padsMeta(minBytes: number): boolean {
  return minBytes > META_BYTES;
}

/** Version 2 is written only with a fence, so every other store stays byte-identical to earlier builds'. */
export function encodeMeta(m: Meta, minBytes = 0): Uint8Array {
  if (padsMeta(minBytes)) return padded(encodeMeta(m), minBytes);
  if (m.segmentInstances !== 0) {
    const out = new Uint8Array(17);
    const view = new DataView(out.buffer);
    out[0] = SEGMENTED_META_VERSION;
    view.setUint32(1, m.trimIid);
    view.setUint32(5, m.roundFloor);
    view.setUint32(9, m.fence);
    view.setUint32(13, m.segmentInstances);
    return out;
  }
  const out = new Uint8Array(m.fence === 0 ? META_BYTES : META_BYTES + 4);
  const view = new DataView(out.buffer);
  out[0] = m.fence === 0 ? FORMAT_VERSION : RECORD_WITH_EARLIER_VERSION;
  view.setUint32(1, m.trimIid);
  view.setUint32(5, m.roundFloor);
  if (m.fence !== 0) view.setUint32(9, m.fence);
  return out;
}

export function decodeMeta(stored: Uint8Array): Meta | string {
  const bytes = unpadded(stored, 'the metadata record (key 0)');
  if (typeof bytes === 'string') return bytes;
  const v2 = bytes.length === 13 && bytes[0] === 2;
  const v4 = bytes.length === 17 && bytes[0] === SEGMENTED_META_VERSION;
  if (!v2 && !v4 && (bytes.length !== 9 || bytes[0] !== FORMAT_VERSION)) return `the metadata record (key 0) is not in format version 1, 2, 3 or 4`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segmentInstances = v4 ? view.getUint32(13) : 0;
  if (v4 && segmentInstances === 0) return `the metadata record (key 0) names segments of 0 instances`;
  return { trimIid: view.getUint32(1), roundFloor: view.getUint32(5), fence: v2 || v4 ? view.getUint32(9) : 0, segmentInstances };
}

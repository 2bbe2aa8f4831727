import { Decoder, Encoder, encode } from '@msgpack/msgpack';
import type { AcceptedDigestMsg, MasterState, RejoinMessage, SnapshotMessage, SnapshotRef } from '@libpaxos/paxos-core';
import { readInt, writeUint } from './codec.js';
import { VERSION } from './version.js';

/**
 * Messages beyond LibPaxos3's nine, between libpaxos-ts peers only. On the wire each is a msgpack
 * array `[code, payload]` with a code ≥ 16 and a map as payload, encoded with @msgpack/msgpack (the
 * nine keep the hand-written codec; `accepted_digest`, once per instance per replica, is written
 * and read by hand too, in the bytes @msgpack/msgpack writes, see `encodeDigest`). Every payload
 * carries its format version `v`, so a peer can refuse a format it does not read with a sentence
 * instead of misreading it.
 *
 * Negotiation: a libpaxos-ts process sends `hello` first on every connection it dials; a
 * libpaxos-ts peer answers with its own `hello`; a C LibPaxos3 peer ignores an array with an
 * unknown type code (checked against d255f8b, nested maps and bins included) and keeps serving the
 * connection. Extension messages go on a connection only after that peer's hello arrived, so a C
 * peer never receives one.
 */

/** `hello`: who is on the other end, and what it speaks beyond LibPaxos3. */
export interface HelloMsg {
  readonly type: 'hello';
  /** The build of libpaxos-ts (the evpaxos package version). */
  readonly version: string;
  readonly role: 'acceptor' | 'proposer' | 'learner' | 'replica' | 'client';
  /** Its id in the config (−1 for a learner or client). */
  readonly id: number;
  /**
   * What it serves or takes: 'snapshots' when it can send checkpoints; 'accepted-digests' when it
   * is a replica whose learner holds the values of the accepts its acceptor receives, so that an
   * acceptor's accepted may come to it as an `accepted_digest`; `SUBMIT_ONLY_FEATURE` when the
   * connection only submits client values.
   */
  readonly features: readonly string[];
}

/**
 * A hello feature: this connection only submits client values (the sample client's connection to
 * its proposer; it learns over connections of its own, or not at all). An acceptor broadcasts
 * every accepted to every connection, as LibPaxos3 does; on such a connection that was a write
 * for the sender and a read for the client per value, read only to be thrown away (in replica
 * mode, one write in six of the leader's). An acceptor leaves it out; a C LibPaxos3 acceptor
 * ignores the hello and keeps sending, and the client keeps discarding what comes.
 */
export const SUBMIT_ONLY_FEATURE = 'submit-only';

export type ExtensionMessage = HelloMsg | SnapshotMessage | RejoinMessage | AcceptedDigestMsg;
export type ExtensionType = ExtensionMessage['type'];

/** Type codes: LibPaxos3 uses 0–8; ours start at 16, leaving it room. */
export const EXTENSION_CODE = {
  hello: 16,
  snapshot_query: 17,
  snapshot_offer: 18,
  snapshot_get: 19,
  snapshot_chunk: 20,
  rejoin_query: 21,
  rejoin_info: 22,
  accepted_digest: 23,
} as const satisfies Record<ExtensionType, number>;

const TYPE_OF = new Map<number, ExtensionType>(Object.entries(EXTENSION_CODE).map(([t, c]) => [c, t as ExtensionType]));

/** Format versions this build writes and reads, per message. */
const FORMAT: Record<ExtensionType, { readonly write: number; readonly readMin: number; readonly readMax: number }> = {
  hello: { write: 1, readMin: 1, readMax: 1 },
  snapshot_query: { write: 1, readMin: 1, readMax: 1 },
  snapshot_offer: { write: 1, readMin: 1, readMax: 1 },
  snapshot_get: { write: 1, readMin: 1, readMax: 1 },
  snapshot_chunk: { write: 1, readMin: 1, readMax: 1 },
  rejoin_query: { write: 1, readMin: 1, readMax: 1 },
  rejoin_info: { write: 1, readMin: 1, readMax: 1 },
  accepted_digest: { write: 1, readMin: 1, readMax: 1 },
};

/** The lowest type code of ours: the frame decoder takes `[code, map]` frames from here up. */
export const FIRST_EXTENSION_CODE = 16;

/** A known extension message in a format this build does not read, or one with bad fields. */
export class ExtensionError extends Error {
  override readonly name = 'ExtensionError';
}

/**
 * One encoder and one decoder for extension messages. `encode()` and `decode()` make a new one
 * per call, and a new Encoder allocates a 2 KiB ArrayBuffer outside the V8 heap (malloc, then
 * the ArrayBuffer sweeper's free): a native allocation per message. Neither calls back into code
 * of ours while it works, so sharing them cannot interleave two messages. A `snapshot_chunk`
 * (up to `snapshot-chunk-size`, 1 MiB by default) gets an encoder of its own, so that the
 * shared one does not keep a buffer of that size for good.
 */
const encoder = new Encoder();
const decoder = new Decoder();

export function encodeExtension(msg: ExtensionMessage): Uint8Array {
  const v = FORMAT[msg.type].write;
  let payload: Record<string, unknown>;
  switch (msg.type) {
    case 'hello':
      payload = { v, version: msg.version, role: msg.role, id: msg.id, features: [...msg.features] };
      break;
    case 'snapshot_query':
      payload = { v, need: msg.need, ...(msg.resume !== undefined ? { resume: refMap(msg.resume) } : {}) };
      break;
    case 'snapshot_offer':
      payload = {
        v,
        iid: msg.iid,
        size: msg.size,
        sum: msg.sum,
        reports: msg.reports.map(([n, i]) => [n, i]),
        ...(msg.master !== undefined ? { master: masterMap(msg.master) } : {}),
      };
      break;
    case 'snapshot_get':
      payload = { v, iid: msg.iid, sum: msg.sum, offset: msg.offset, length: msg.length };
      break;
    case 'snapshot_chunk':
      payload = { v, iid: msg.iid, sum: msg.sum, offset: msg.offset, data: msg.data, gone: msg.gone };
      break;
    case 'rejoin_query':
      payload = { v };
      break;
    case 'rejoin_info':
      payload = { v, highest: msg.highest, maxBallot: msg.maxBallot };
      break;
    case 'accepted_digest':
      // Short keys: this one goes once per value to every replica, where it replaces the value.
      return encodeDigest(msg, v) ?? encoder.encode([EXTENSION_CODE.accepted_digest, { v, aid: msg.aid, iid: msg.iid, b: msg.ballot, vb: msg.valueBallot, n: msg.size, d1: msg.d1, d2: msg.d2 }]);
  }
  // A copy of the encoder's buffer, which the next message overwrites.
  return msg.type === 'snapshot_chunk' ? encode([EXTENSION_CODE[msg.type], payload]) : encoder.encode([EXTENSION_CODE[msg.type], payload]);
}

/**
 * The extension message of code `code` from its msgpack payload. Undefined for a code this build
 * does not know (a newer peer's message: ignored, as C LibPaxos3 ignores ours). Throws
 * `ExtensionError`, with a sentence, for a known message in a format it does not read or with
 * fields that do not fit.
 */
export function decodeExtension(code: number, payload: Uint8Array): ExtensionMessage | undefined {
  if (code === EXTENSION_CODE.accepted_digest) {
    const digest = decodeDigest(payload);
    if (digest !== undefined) return digest;
  }
  const type = TYPE_OF.get(code);
  if (type === undefined) return undefined;
  let map: unknown;
  try {
    map = decoder.decode(payload);
  } catch (e) {
    throw new ExtensionError(`${type}: the payload is not msgpack (${(e as Error).message})`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map) || map instanceof Uint8Array) throw new ExtensionError(`${type}: the payload is not a map`);
  const m = map as Record<string, unknown>;
  const v = m['v'];
  const f = FORMAT[type];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ExtensionError(`${type}: the payload has no format version 'v'`);
  if (v < f.readMin || v > f.readMax) {
    throw new ExtensionError(
      v > f.readMax
        ? `${type} in format ${v}, newer than this build reads (${f.readMin}–${f.readMax}): upgrade this process to talk to that peer`
        : `${type} in format ${v}, older than this build reads (${f.readMin}–${f.readMax}): upgrade that peer`,
    );
  }
  switch (type) {
    case 'hello':
      return {
        type,
        version: str(m, type, 'version'),
        role: oneOf(m, type, 'role', ['acceptor', 'proposer', 'learner', 'replica', 'client'] as const),
        id: int(m, type, 'id', -1, 255),
        features: strings(m, type, 'features'),
      };
    case 'snapshot_query': {
      const resume = m['resume'];
      return { type, need: int(m, type, 'need', 0, 0xffff_ffff), resume: resume === undefined ? undefined : ref(resume, type) };
    }
    case 'snapshot_offer': {
      // `master` (leadership's state as of the checkpoint) is optional: a checkpoint written with
      // leadership off, or by a build before it, has none, and an older build ignores it.
      const master = m['master'];
      return {
        type,
        iid: int(m, type, 'iid', 0, 0xffff_ffff),
        size: int(m, type, 'size', 0, Number.MAX_SAFE_INTEGER),
        sum: bin(m, type, 'sum'),
        reports: reportList(m['reports'], type),
        ...(master !== undefined && master !== null ? { master: masterState(master, type) } : {}),
      };
    }
    case 'snapshot_get':
      return {
        type,
        iid: int(m, type, 'iid', 0, 0xffff_ffff),
        sum: bin(m, type, 'sum'),
        offset: int(m, type, 'offset', 0, Number.MAX_SAFE_INTEGER),
        length: int(m, type, 'length', 1, 0xffff_ffff),
      };
    case 'snapshot_chunk': {
      const gone = m['gone'];
      if (typeof gone !== 'boolean') throw new ExtensionError(`${type}: 'gone' must be true or false`);
      return {
        type,
        iid: int(m, type, 'iid', 0, 0xffff_ffff),
        sum: bin(m, type, 'sum'),
        offset: int(m, type, 'offset', 0, Number.MAX_SAFE_INTEGER),
        data: bin(m, type, 'data'),
        gone,
      };
    }
    case 'rejoin_query':
      return { type };
    case 'rejoin_info':
      return { type, highest: int(m, type, 'highest', 0, 0xffff_ffff), maxBallot: int(m, type, 'maxBallot', 0, 0xffff_ffff) };
    case 'accepted_digest':
      // The ranges LibPaxos3's accepted has on the wire (ids 0..255, uint32 instance and ballots);
      // the core drops what is out of range for its cluster (an acceptor id past the count).
      return {
        type,
        aid: int(m, type, 'aid', 0, 255),
        iid: int(m, type, 'iid', 1, 0xffff_ffff),
        ballot: int(m, type, 'b', 0, 0xffff_ffff),
        valueBallot: int(m, type, 'vb', 1, 0xffff_ffff),
        size: int(m, type, 'n', 0, 0xffff_ffff),
        d1: int(m, type, 'd1', 0, 0xffff_ffff),
        d2: int(m, type, 'd2', 0, 0xffff_ffff),
      };
  }
}

/*
 * `accepted_digest` by hand. It goes once per instance from every replica's acceptor to every
 * other replica, and @msgpack/msgpack's generic encoder and decoder (a map, its keys decoded as
 * strings) took about 13 % of a follower's user time for it (perf, 64 B -o 10 with batching, when
 * digests went from 256 bytes). The bytes are
 * exactly @msgpack/msgpack's for the same map (`[23, {v, aid, iid, b, vb, n, d1, d2}]`, integers
 * in their shortest form; a test compares them), and decoding takes only that layout, its keys in
 * any order: anything else (another key, a float, a value out of range, a newer format) goes the
 * generic way, which says what is wrong with it.
 */

/** The map's keys as bytes, in the order `encodeDigest` writes them. */
const DIGEST_KEYS = ['v', 'aid', 'iid', 'b', 'vb', 'n', 'd1', 'd2'].map((k) => Uint8Array.from(k, (c) => c.charCodeAt(0)));
/**
 * Where a vote is built before it is copied out at its length. One for the process: a typed
 * array over 64 bytes is allocated outside the V8 heap, with malloc, which per vote cost more
 * than the encoding. The largest vote is 66 bytes (array and code 2, map header 1, keys with
 * their headers 23, eight uint32 40); the copy of a typical one, about 50, stays on the heap.
 */
const digestScratch = new Uint8Array(66);

function encodeDigest(msg: AcceptedDigestMsg, v: number): Uint8Array | undefined {
  const out = digestScratch;
  out[0] = 0x92; // an array of 2
  out[1] = EXTENSION_CODE.accepted_digest; // positive fixint
  out[2] = 0x88; // a map of 8
  let pos = 3;
  pos = putDigestField(out, pos, 0, v);
  pos = putDigestField(out, pos, 1, msg.aid);
  pos = putDigestField(out, pos, 2, msg.iid);
  pos = putDigestField(out, pos, 3, msg.ballot);
  pos = putDigestField(out, pos, 4, msg.valueBallot);
  pos = putDigestField(out, pos, 5, msg.size);
  pos = putDigestField(out, pos, 6, msg.d1);
  pos = putDigestField(out, pos, 7, msg.d2);
  return pos < 0 ? undefined : out.slice(0, pos);
}

/** Writes key `k` and the uint `x` in msgpack's shortest form at `pos`; the next position, or −1 once any `x` is not a uint32. */
function putDigestField(out: Uint8Array, pos: number, k: number, x: number): number {
  if (pos < 0 || !Number.isInteger(x) || x < 0 || x > 0xffff_ffff) return -1;
  const key = DIGEST_KEYS[k] as Uint8Array;
  out[pos++] = 0xa0 | key.length; // fixstr
  for (let j = 0; j < key.length; j++) out[pos++] = key[j] as number;
  return writeUint(out, pos, x);
}

/** Which of DIGEST_KEYS the `len` bytes at `at` are, or −1. */
function digestKey(p: Uint8Array, at: number, len: number): number {
  for (let k = 0; k < 8; k++) {
    const key = DIGEST_KEYS[k] as Uint8Array;
    if (key.length !== len) continue;
    let same = true;
    for (let j = 0; j < len; j++) if (p[at + j] !== key[j]) same = false;
    if (same) return k;
  }
  return -1;
}

/** The fields of the vote being read, by DIGEST_KEYS index (−1: not yet seen): one array for the process, as the scratch above. */
const digestFields = [-1, -1, -1, -1, -1, -1, -1, -1];

/** The digest vote in `p`, if it is laid out as `encodeDigest` writes it and in range; else undefined. */
function decodeDigest(p: Uint8Array): AcceptedDigestMsg | undefined {
  if (p[0] !== 0x88) return undefined;
  const got = digestFields;
  got.fill(-1);
  let pos = 1;
  for (let i = 0; i < 8; i++) {
    const h = p[pos++];
    if (h === undefined || (h & 0xe0) !== 0xa0) return undefined;
    const len = h & 0x1f;
    const k = digestKey(p, pos, len);
    if (k < 0 || got[k] !== -1) return undefined;
    pos += len;
    const t = p[pos++];
    let x: number;
    if (t === undefined) return undefined;
    if (t < 0x80) x = t;
    else {
      const size = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : 0;
      if (size === 0 || pos + size > p.length) return undefined;
      x = readInt(p, pos - 1, t);
      pos += size;
    }
    got[k] = x;
  }
  if (pos !== p.length) return undefined;
  const v = got[0] as number;
  const aid = got[1] as number;
  const iid = got[2] as number;
  const vb = got[4] as number;
  // The generic path's checks (FORMAT, and the ranges in decodeExtension); it reports failures.
  const f = FORMAT.accepted_digest;
  if (v < f.readMin || v > f.readMax || aid > 255 || iid < 1 || vb < 1) return undefined;
  return { type: 'accepted_digest', aid, iid, ballot: got[3] as number, valueBallot: vb, size: got[5] as number, d1: got[6] as number, d2: got[7] as number };
}

/** Checkpoint reports: `[node, iid]` pairs (a node id 0..255, an instance). */
export function reportList(x: unknown, type: string): [number, number][] {
  if (!Array.isArray(x) || x.length > 256) throw new ExtensionError(`${type}: 'reports' must be a list of at most 256 [node, instance] pairs`);
  return x.map((p) => {
    if (!Array.isArray(p) || p.length !== 2) throw new ExtensionError(`${type}: 'reports' must hold [node, instance] pairs`);
    const [n, i] = p as unknown[];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 255 || typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i > 0xffff_ffff) {
      throw new ExtensionError(`${type}: 'reports' holds a pair that is not [node 0..255, instance]`);
    }
    return [n, i] as [number, number];
  });
}

/** Leadership's state (paxos-core's MasterState) as a msgpack map; no master is nil. */
export function masterMap(s: MasterState): Record<string, unknown> {
  return { lastOp: s.lastOp, version: s.version, master: s.master ?? null, maxOpenLimit: s.maxOpenLimit };
}

/** Leadership's state from its msgpack map, checked field by field. */
export function masterState(x: unknown, type: string): MasterState {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) throw new ExtensionError(`${type}: 'master' must be a map`);
  const m = x as Record<string, unknown>;
  const master = m['master'];
  if (master !== null && master !== undefined && (typeof master !== 'number' || !Number.isInteger(master) || master < 0 || master > 255)) {
    throw new ExtensionError(`${type}: 'master.master' must be a proposer id from 0 to 255 or nil, got ${String(master)}`);
  }
  const version = int(m, `${type} master`, 'version', 0, 0xffff_ffff);
  const lastOp = int(m, `${type} master`, 'lastOp', 0, 0xffff_ffff);
  if (version > lastOp) throw new ExtensionError(`${type}: 'master' has version ${version} after its last operation ${lastOp}`);
  return { lastOp, version, master: typeof master === 'number' ? master : undefined, maxOpenLimit: int(m, `${type} master`, 'maxOpenLimit', 0, 0xffff_ffff) };
}

function refMap(r: SnapshotRef): Record<string, unknown> {
  return { iid: r.iid, size: r.size, sum: r.sum };
}

function ref(x: unknown, type: string): SnapshotRef {
  if (typeof x !== 'object' || x === null) throw new ExtensionError(`${type}: 'resume' must be a map`);
  const m = x as Record<string, unknown>;
  return { iid: int(m, type, 'iid', 0, 0xffff_ffff), size: int(m, type, 'size', 0, Number.MAX_SAFE_INTEGER), sum: bin(m, type, 'sum') };
}

function int(m: Record<string, unknown>, type: string, key: string, min: number, max: number): number {
  const x = m[key];
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw new ExtensionError(`${type}: '${key}' must be a whole number from ${min} to ${max}, got ${String(x)}`);
  return x;
}

function str(m: Record<string, unknown>, type: string, key: string): string {
  const x = m[key];
  if (typeof x !== 'string' || x.length > 256) throw new ExtensionError(`${type}: '${key}' must be a short string`);
  return x;
}

function strings(m: Record<string, unknown>, type: string, key: string): string[] {
  const x = m[key];
  if (!Array.isArray(x) || x.length > 64 || !x.every((s) => typeof s === 'string' && s.length <= 64)) throw new ExtensionError(`${type}: '${key}' must be a list of short strings`);
  return x as string[];
}

function oneOf<T extends string>(m: Record<string, unknown>, type: string, key: string, allowed: readonly T[]): T {
  const x = m[key];
  if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x)) throw new ExtensionError(`${type}: '${key}' must be one of ${allowed.join(', ')}, got ${String(x)}`);
  return x as T;
}

/** A bin field, copied out of the receive buffer (a view would keep the whole buffer alive). */
function bin(m: Record<string, unknown>, type: string, key: string): Uint8Array {
  const x = m[key];
  if (!(x instanceof Uint8Array)) throw new ExtensionError(`${type}: '${key}' must be bytes (msgpack bin)`);
  return new Uint8Array(x);
}

/** The hello a connection that only submits sends first (the sample client's, to its proposer). */
export const SUBMIT_ONLY_HELLO: Uint8Array = encodeExtension({ type: 'hello', version: VERSION, role: 'client', id: -1, features: [SUBMIT_ONLY_FEATURE] });

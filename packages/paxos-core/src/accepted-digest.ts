import type { AcceptedMsg } from './messages.js';

/**
 * An `accepted` without its value (ours, beyond LibPaxos3's nine; issue 10 item 3): the instance,
 * the acceptor's promise, the ballot the value was accepted in, and the value's size and digest.
 *
 * Why it is enough for some receivers: in replica mode every replica's acceptor receives the
 * leader's `accept` for (iid, b) with the value, and under one ballot only one value is ever
 * proposed (B2: ballots are unique per proposer, and a proposer proposes one value per ballot), so
 * the value of that accept is the value of every `accepted` for (iid, b). A replica's learner that
 * holds it need not get it three more times from the other acceptors. An acceptor's *broadcast*
 * of an accepted (to `subscribers`) may therefore go as a digest to a peer that said at
 * connection start that it holds the values of the accepts its acceptor receives
 * (`ACCEPTED_DIGESTS_FEATURE`); repeat replies (to one `peer`) always carry the value, because
 * they are how a learner gets a value it is missing. C LibPaxos3 peers, and ours that did not
 * say so, get the full message.
 *
 * The learner's rule (learner.ts): a digest vote for (iid, vb) counts only as a vote for a value
 * the learner holds for exactly (iid, vb), received in full and found to have the same size and
 * digest; a quorum of digest votes without such a value gets the value by asking the acceptors
 * to repeat the instance. A learner never delivers bytes it did not receive.
 */
export interface AcceptedDigestMsg {
  readonly type: 'accepted_digest';
  readonly aid: number;
  readonly iid: number;
  /** The acceptor's promise, as in `accepted`. */
  readonly ballot: number;
  /** The ballot the value was accepted in. */
  readonly valueBallot: number;
  /** The value's length in bytes. */
  readonly size: number;
  /** The value's digest (`valueDigest`): two 32-bit halves. */
  readonly d1: number;
  readonly d2: number;
}

/** What a libpaxos-ts replica's hello says when it takes `accepted_digest` for its acceptor's accepts. */
export const ACCEPTED_DIGESTS_FEATURE = 'accepted-digests';

/**
 * A 64-bit digest of `value` as two uint32 halves: two multiply-rotate lanes (MurmurHash3's
 * 32-bit mixing with two seeds and constants) over the value's 32-bit little-endian words, with
 * the length mixed in. It is not cryptographic and need not be: it protects against bugs — a
 * peer that broke B2 (two values under one ballot: a C LibPaxos3 proposer restarted, two
 * proposers given one id), a corrupted or mismatched held value, a learner bug matching the wrong
 * ballot — where two different values of one (iid, ballot) meet; with the size also compared, an
 * accidental match of two such values is a 2^-64 event. It does not protect against a malicious
 * peer, which can forge any message of this unauthenticated protocol anyway.
 */
export function valueDigest(value: Uint8Array): [number, number] {
  let h1 = 0x9747b28c;
  let h2 = 0x2b7e1516;
  const n = value.length;
  const words = n & ~3;
  // A DataView reads each little-endian word in one load, aligned or not (values are views at any
  // offset of a read buffer): the same words as assembling four bytes, a third less time at 8 KiB.
  // (evpaxos digests only values of accepted-digests-min-value-size, 2 KiB by default, and more,
  // where making the view costs little next to the loop.)
  const view = new DataView(value.buffer, value.byteOffset, n);
  let i = 0;
  for (; i < words; i += 4) {
    const w = view.getInt32(i, true);
    let k1 = Math.imul(w, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, 0x1b873593);
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let k2 = Math.imul(w, 0x85ebca77);
    k2 = (k2 << 17) | (k2 >>> 15);
    h2 ^= Math.imul(k2, 0xc2b2ae3d);
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x27d4eb2f) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let t = value[i] as number;
    if (rest > 1) t ^= (value[i + 1] as number) << 8;
    if (rest > 2) t ^= (value[i + 2] as number) << 16;
    let k1 = Math.imul(t, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, 0x1b873593);
    let k2 = Math.imul(t, 0x85ebca77);
    k2 = (k2 << 17) | (k2 >>> 15);
    h2 ^= Math.imul(k2, 0xc2b2ae3d);
  }
  return [finish(h1 ^ n, 0x85ebca6b, 0xc2b2ae35), finish(h2 ^ n, 0x7feb352d, 0x846ca68b)];
}

/** MurmurHash3's finaliser: every input bit reaches every output bit. */
function finish(h: number, m1: number, m2: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, m1);
  h ^= h >>> 13;
  h = Math.imul(h, m2);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The digest form of an accepted (what a peer that holds accept values gets instead). */
export function digestOf(msg: AcceptedMsg): AcceptedDigestMsg {
  const [d1, d2] = valueDigest(msg.value);
  return { type: 'accepted_digest', aid: msg.aid, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.valueBallot, size: msg.value.length, d1, d2 };
}

/** Whether `value` has the size and digest a digest vote names. */
export function digestMatches(value: Uint8Array, msg: AcceptedDigestMsg): boolean {
  if (value.length !== msg.size) return false;
  const [d1, d2] = valueDigest(value);
  return d1 === msg.d1 && d2 === msg.d2;
}

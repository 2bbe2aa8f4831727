import { describe, expect, it } from 'vitest';
import { Learner, Replica, digestMatches, digestOf, newEffects, valueDigest, type AcceptedDigestMsg, type Effects } from '../src/index.js';
import { accepted, dec, enc, fx, msgs } from './helpers.js';

const digest = (aid: number, iid: number, ballot: number, value: Uint8Array, valueBallot = ballot): AcceptedDigestMsg => digestOf(accepted(aid, iid, ballot, value, valueBallot));
const delivered = (out: Effects) => out.deliver.map((d) => [d.iid, dec(d.value)]);

describe('value digests', () => {
  it('tell values of one size apart, and each value from its own copy', () => {
    const a = enc('value-0001');
    expect(valueDigest(a)).toEqual(valueDigest(new Uint8Array(a)));
    expect(valueDigest(a)).not.toEqual(valueDigest(enc('value-0002')));
    // Every length's tail bytes count (1..3 bytes past the last word).
    for (let n = 1; n <= 9; n++) {
      const v = new Uint8Array(n).fill(7);
      const w = new Uint8Array(v);
      w[n - 1] = 8;
      expect(valueDigest(v)).not.toEqual(valueDigest(w));
    }
    expect(digestMatches(a, digest(0, 1, 11, a))).toBe(true);
    expect(digestMatches(enc('value-0002'), digest(0, 1, 11, a))).toBe(false);
  });

  it('are the same numbers in every version: digests cross the wire between libpaxos-ts peers (pinned, views at any offset)', () => {
    // [length, byte offset of the view, d1, d2], from the byte-by-byte implementation of 9f474f9.
    const pinned = [
      [0, 0, 3954623016, 3231419583],
      [1, 0, 3585820281, 745715185],
      [3, 1, 3558834347, 736441326],
      [4, 0, 1826938556, 1309804996],
      [7, 2, 583972295, 2789891012],
      [64, 1, 999598116, 1293821394],
      [256, 3, 1936795759, 2110638404],
      [8192, 1, 2131195140, 3689633609],
    ] as const;
    const fill = (v: Uint8Array, seed: number) => {
      for (let i = 0; i < v.length; i++) v[i] = (i * 131 + seed * 17 + (i >> 3)) & 255;
      return v;
    };
    for (const [n, off, d1, d2] of pinned) {
      const v = fill(new Uint8Array(n + off).subarray(off), n);
      expect(valueDigest(v), `${n} bytes at offset ${off}`).toEqual([d1, d2]);
    }
    // Views in the middle of a larger buffer (bytes on both sides), as values decoded from a socket read are.
    for (const [n, off, d1, d2] of [
      [6, 5, 2648853456, 1857956385],
      [10, 2, 3891352731, 534790199],
      [1021, 7, 127233093, 607523470],
    ] as const) {
      expect(valueDigest(fill(new Uint8Array(n + off + 9), n + 1).subarray(off, off + n)), `${n} bytes inside a buffer at ${off}`).toEqual([d1, d2]);
    }
    // An empty view at the end of a non-empty buffer, and a view of a SharedArrayBuffer.
    expect(valueDigest(new Uint8Array(12).fill(5).subarray(12))).toEqual([3954623016, 3231419583]);
    expect(valueDigest(fill(new Uint8Array(new SharedArrayBuffer(40)), 40).subarray(3, 38))).toEqual([1497833044, 85159460]);
  });

  it('differ for values that differ only in length (zero bytes appended)', () => {
    expect(valueDigest(new Uint8Array(4))).not.toEqual(valueDigest(new Uint8Array(5)));
    expect(valueDigest(new Uint8Array(0))).not.toEqual(valueDigest(new Uint8Array(1)));
  });
});

describe('learner with digest votes', () => {
  it('delivers on a quorum of digest votes together with a held value of the same (iid, ballot) whose digest matches', () => {
    const l = new Learner({ acceptors: 3 });
    const v = enc('v');
    const out = fx();
    l.holdValue(1, 11, v, out);
    expect(out.deliver).toEqual([]);
    l.receiveDigest(0, digest(0, 1, 11, v), out);
    expect(out.deliver).toEqual([]);
    l.receiveDigest(1, digest(1, 1, 11, v), out);
    expect(delivered(out)).toEqual([[1, 'v']]);
    // The bytes delivered are those held (received in the accept), not made up, in a copy of their own (below).
    expect(out.deliver[0]?.value).toEqual(v);
  });

  it('delivers a held value in a copy: an application writing into what it was delivered leaves the held bytes (its acceptor’s record) as they were', () => {
    // Votes after the value is held, and votes waiting for it when it comes.
    for (const votesFirst of [false, true]) {
      const l = new Learner({ acceptors: 3 });
      const v = enc('the record');
      const out = fx();
      if (!votesFirst) l.holdValue(1, 11, v, out);
      for (const aid of [0, 1]) l.receiveDigest(aid, digest(aid, 1, 11, v), out);
      if (votesFirst) l.holdValue(1, 11, v, out);
      const got = out.deliver[0]?.value as Uint8Array;
      expect(dec(got)).toBe('the record');
      expect(got.buffer).not.toBe(v.buffer);
      got.fill(0x2a);
      expect(dec(v)).toBe('the record');
    }
  });

  it('counts digest votes with a full vote’s bytes equal to the held value rather than copy it (a replica’s own acceptor’s accepted)', () => {
    const l = new Learner({ acceptors: 3 });
    const record = enc('the record');
    const ownVote = enc('the record');
    const out = fx();
    l.holdValue(1, 11, record, out);
    l.receive(2, accepted(2, 1, 11, ownVote), out);
    l.receiveDigest(0, digest(0, 1, 11, record), out);
    expect(out.deliver[0]?.value).toBe(ownVote);
    // A full vote under that ballot with other bytes (B2 broken) is not taken for the held value: a copy is.
    const l2 = new Learner({ acceptors: 5 });
    const out2 = fx();
    l2.holdValue(1, 11, record, out2);
    l2.receive(4, accepted(4, 1, 11, enc('other byte')), out2);
    for (const aid of [0, 1, 2]) l2.receiveDigest(aid, digest(aid, 1, 11, record), out2);
    const got = out2.deliver[0]?.value as Uint8Array;
    expect(dec(got)).toBe('the record');
    expect(got.buffer).not.toBe(record.buffer);
  });

  it('delivers a full accepted vote’s bytes as they came (they are the learner’s own: no copy)', () => {
    const l = new Learner({ acceptors: 3 });
    const v = enc('v');
    const out = fx();
    l.receive(2, accepted(2, 1, 11, v), out);
    l.receiveDigest(0, digest(0, 1, 11, v), out);
    expect(out.deliver[0]?.value).toBe(v);
  });

  it('counts digest votes that came before the value once the value arrives', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.receiveDigest(0, digest(0, 1, 11, enc('v')), out);
    l.receiveDigest(1, digest(1, 1, 11, enc('v')), out);
    expect(out.deliver).toEqual([]);
    l.holdValue(1, 11, enc('v'), out);
    expect(delivered(out)).toEqual([[1, 'v']]);
  });

  it('counts a digest vote with a full accepted of the same ballot (its value is held with the vote)', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.receive(2, accepted(2, 1, 11, enc('v')), out);
    l.receiveDigest(0, digest(0, 1, 11, enc('v')), out);
    expect(delivered(out)).toEqual([[1, 'v']]);
  });

  it('never delivers a held value on digest votes that do not match it', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.holdValue(1, 11, enc('mine'), out);
    for (const aid of [0, 1, 2]) l.receiveDigest(aid, digest(aid, 1, 11, enc('theirs')), out);
    expect(out.deliver).toEqual([]);
    expect(out.events.filter((e) => e.kind === 'digest-mismatch')).toHaveLength(3);
    // The same size with other bytes does not match either.
    const l2 = new Learner({ acceptors: 3 });
    const out2 = fx();
    l2.holdValue(1, 11, enc('abcd'), out2);
    for (const aid of [0, 1]) l2.receiveDigest(aid, digest(aid, 1, 11, enc('abce')), out2);
    expect(out2.deliver).toEqual([]);
  });

  it('never counts digest votes for a ballot with the value held for another ballot', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    // Same bytes, but held for ballot 11 only: the digest votes are for ballot 21.
    l.holdValue(1, 11, enc('v'), out);
    for (const aid of [0, 1, 2]) l.receiveDigest(aid, digest(aid, 1, 21, enc('v')), out);
    expect(out.deliver).toEqual([]);
    // Once the value of ballot 21 is held, they count.
    l.holdValue(1, 21, enc('v'), out);
    expect(delivered(out)).toEqual([[1, 'v']]);
  });

  it('asks the acceptors for a value that a quorum of digest votes named without one held, and delivers once the repeat brings it', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.tick(0, out);
    const before = msgs(out, 'repeat').length;
    l.receiveDigest(0, digest(0, 5, 11, enc('v')), out);
    l.receiveDigest(1, digest(1, 5, 11, enc('v')), out);
    expect(out.deliver).toEqual([]);
    // Not before the second tick: the accept with the value may still be on its way, or unread.
    expect(msgs(out, 'repeat').length).toBe(before);
    const first = fx();
    l.tick(5, first);
    expect(msgs(first, 'repeat')).not.toContainEqual({ type: 'repeat', from: 5, to: 5 });
    const tick = fx();
    l.tick(10, tick);
    expect(msgs(tick, 'repeat')).toContainEqual({ type: 'repeat', from: 5, to: 5 });
    // The repeat's answer carries the value: the digest votes count with it.
    const answer = fx();
    l.setInstanceId(4);
    l.receive(2, accepted(2, 5, 11, enc('v')), answer);
    expect(delivered(answer)).toEqual([[5, 'v']]);
  });

  it('asks for runs of missing instances in one repeat each', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    for (const iid of [3, 4, 5, 9]) for (const aid of [0, 1]) l.receiveDigest(aid, digest(aid, iid, 11, enc(`v${iid}`)), out);
    l.tick(5, fx());
    const tick = fx();
    l.tick(10, tick);
    expect(msgs(tick, 'repeat')).toEqual(expect.arrayContaining([{ type: 'repeat', from: 3, to: 5 }, { type: 'repeat', from: 9, to: 9 }]));
  });

  it('a digest vote that does not match the held value waits, and counts once bytes it names arrive (two values under one ballot, B2 broken)', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.holdValue(1, 11, enc('w'), out);
    l.receive(2, accepted(2, 1, 11, enc('v')), out);
    l.receiveDigest(0, digest(0, 1, 11, enc('v')), out);
    // Counted with the full vote's bytes, which it names: a quorum of two for 'v'.
    expect(delivered(out)).toEqual([[1, 'v']]);
    // Votes for the other bytes, alone: a quorum of them waits and asks for the instance in full.
    const l2 = new Learner({ acceptors: 3 });
    const out2 = fx();
    l2.tick(0, out2);
    l2.holdValue(1, 11, enc('w'), out2);
    l2.receiveDigest(0, digest(0, 1, 11, enc('v')), out2);
    l2.receiveDigest(1, digest(1, 1, 11, enc('v')), out2);
    expect(out2.deliver).toEqual([]);
    expect(out2.events.filter((e) => e.kind === 'digest-mismatch')).toHaveLength(2);
    l2.tick(5, fx());
    const tick = fx();
    l2.tick(10, tick);
    expect(msgs(tick, 'repeat')).toContainEqual({ type: 'repeat', from: 1, to: 1 });
    const answer = fx();
    l2.receive(2, accepted(2, 1, 11, enc('v')), answer);
    expect(delivered(answer)).toEqual([[1, 'v']]);
  });

  it('drops digest votes with fields out of range', () => {
    const l = new Learner({ acceptors: 3 });
    const out = fx();
    l.receiveDigest(0, { ...digest(0, 1, 11, enc('v')), aid: 3 }, out);
    l.receiveDigest(0, { ...digest(0, 1, 11, enc('v')), iid: 0 }, out);
    l.receiveDigest(0, { ...digest(0, 1, 11, enc('v')), valueBallot: 0 }, out);
    expect(out.events.filter((e) => e.kind === 'dropped' && e.reason === 'invalid')).toHaveLength(3);
  });
});

describe('replica with digest votes', () => {
  it('holds the value of an accept its acceptor received and delivers on the others’ digest votes', () => {
    const r = new Replica({ id: 2, replicas: 3, acceptedDigests: true });
    const out = newEffects();
    r.receive(0, { type: 'accept', iid: 1, ballot: 10, value: enc('x') }, out);
    expect(out.deliver).toEqual([]);
    r.receiveDigest(0, digest(0, 1, 10, enc('x')), out);
    r.receiveDigest(1, digest(1, 1, 10, enc('x')), out);
    expect(delivered(out)).toEqual([[1, 'x']]);
  });

  it('an application writing into a value delivered on digest votes does not change what its acceptor repeats (P2c)', () => {
    const r = new Replica({ id: 2, replicas: 3, acceptedDigests: true });
    const out = newEffects();
    r.receive(0, { type: 'accept', iid: 1, ballot: 10, value: enc('chosen') }, out);
    for (const aid of [0, 1]) r.receiveDigest(aid, digest(aid, 1, 10, enc('chosen')), out);
    expect(delivered(out)).toEqual([[1, 'chosen']]);
    (out.deliver[0]?.value as Uint8Array).fill(0x2a);
    const repeat = newEffects();
    r.receive(0, { type: 'repeat', from: 1, to: 1 }, repeat);
    expect(msgs(repeat, 'accepted').map((m) => [m.iid, m.valueBallot, dec(m.value)])).toEqual([[1, 10, 'chosen']]);
  });

  it('holds nothing of an accept its acceptor refused (a low ballot from anyone who reaches the port costs no memory)', () => {
    const r = new Replica({ id: 2, replicas: 3, acceptedDigests: true });
    const out = newEffects();
    r.receive(0, { type: 'prepare', iid: 1, ballot: 20 }, out);
    r.receive(0, { type: 'accept', iid: 1, ballot: 10, value: enc('x') }, out);
    // The others' digest votes for ballot 10 find no value held: they wait, and ask for it in full.
    r.receiveDigest(0, digest(0, 1, 10, enc('x')), out);
    r.receiveDigest(1, digest(1, 1, 10, enc('x')), out);
    expect(out.deliver).toEqual([]);
    const tick = newEffects();
    r.tick(1000, tick);
    r.tick(2000, tick);
    expect(msgs(tick, 'repeat').some((m) => m.from <= 1 && m.to >= 1)).toBe(true);
  });

  it('its proposer counts a digest vote its learner could not resolve when the digest matches the value of its own accept, and only then', () => {
    // The learner holds no value for (iid 1, ballot) here (its acceptor's copy of the accept never
    // came), so it cannot count the votes; the proposer checks them against what it proposed.
    const run = (voted: Uint8Array) => {
      const r = new Replica({ id: 0, replicas: 3, acceptedDigests: true, proposer: { preexecWindow: 1 } });
      const out = newEffects();
      r.tick(0, out);
      const prepare = msgs(out, 'prepare')[0];
      if (prepare === undefined) throw new Error('no prepare');
      for (const aid of [1, 2]) r.receive(aid, { type: 'promise', aid, iid: prepare.iid, ballot: prepare.ballot, valueBallot: 0, value: new Uint8Array(0) }, out);
      r.propose(enc('mine'), out);
      expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: prepare.iid, ballot: prepare.ballot, value: enc('mine') }]);
      const votes = newEffects();
      for (const aid of [1, 2]) r.receiveDigest(aid, digest(aid, prepare.iid, prepare.ballot, voted), votes);
      return votes.events;
    };
    // Matching votes: a quorum for its own accept, the instance is chosen.
    expect(run(enc('mine')).filter((e) => e.kind === 'chosen')).toEqual([{ kind: 'chosen', iid: 1, values: 1 }]);
    // Votes naming other bytes: said, never counted.
    const other = run(enc('else'));
    expect(other.filter((e) => e.kind === 'chosen')).toEqual([]);
    expect(other.filter((e) => e.kind === 'digest-mismatch')).toHaveLength(2);
  });

  it('without acceptedDigests holds nothing, so digest votes alone never deliver', () => {
    const r = new Replica({ id: 2, replicas: 3 });
    const out = newEffects();
    r.receive(0, { type: 'accept', iid: 1, ballot: 10, value: enc('x') }, out);
    r.receiveDigest(0, digest(0, 1, 10, enc('x')), out);
    r.receiveDigest(1, digest(1, 1, 10, enc('x')), out);
    expect(out.deliver).toEqual([]);
  });
});

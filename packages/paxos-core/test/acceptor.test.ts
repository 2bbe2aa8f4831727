import { describe, expect, it } from 'vitest';
import { Acceptor, MAX_UINT32, type AcceptorRecord } from '../src/index.js';
import { dec, enc, fx, msgs, sent } from './helpers.js';

const PEER = 7;

function prepare(a: Acceptor, iid: number, ballot: number) {
  const out = fx();
  a.receive(PEER, { type: 'prepare', iid, ballot }, out);
  return out;
}
function accept(a: Acceptor, iid: number, ballot: number, value: string) {
  const out = fx();
  a.receive(PEER, { type: 'accept', iid, ballot, value: enc(value) }, out);
  return out;
}
function repeat(a: Acceptor, from: number, to: number) {
  const out = fx();
  a.receive(PEER, { type: 'repeat', from, to }, out);
  return out;
}

// LibPaxos3's acceptor unit tests (reference §9), one rule each.
describe('acceptor', () => {
  it('Prepare: promises the ballot, persists the promise, replies to the sender', () => {
    const a = new Acceptor({ id: 2 });
    const out = prepare(a, 1, 101);
    expect(out.persist).toEqual([{ kind: 'record', iid: 1, ballot: 101, valueBallot: 0, value: new Uint8Array(0) }]);
    expect(sent(out, 'promise')).toEqual([
      { to: 'peer', peer: PEER, msg: { type: 'promise', aid: 2, iid: 1, ballot: 101, valueBallot: 0, value: new Uint8Array(0) } },
    ]);
  });

  it('PrepareDuplicate: a repeated prepare gets the same promise and writes nothing new', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 101);
    const out = prepare(a, 1, 101);
    expect(out.persist).toEqual([]);
    expect(msgs(out, 'promise')[0]?.ballot).toBe(101);
  });

  it('PrepareSmallerBallot: the promise keeps the highest ballot (the rejection signal)', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 201);
    const out = prepare(a, 1, 101);
    expect(out.persist).toEqual([]);
    expect(msgs(out, 'promise')[0]?.ballot).toBe(201);
  });

  it('PrepareHigherBallot: a higher ballot raises the promise', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 101);
    const out = prepare(a, 1, 201);
    expect(msgs(out, 'promise')[0]?.ballot).toBe(201);
    expect(a.record(1)?.ballot).toBe(201);
  });

  it('Accept: accepts without a prior prepare and tells every subscriber', () => {
    const a = new Acceptor({ id: 1 });
    const out = accept(a, 1, 101, 'foo');
    expect(out.persist).toEqual([{ kind: 'record', iid: 1, ballot: 101, valueBallot: 101, value: enc('foo') }]);
    expect(sent(out, 'accepted')).toEqual([
      { to: 'subscribers', msg: { type: 'accepted', aid: 1, iid: 1, ballot: 101, valueBallot: 101, value: enc('foo') } },
    ]);
  });

  it('AcceptPrepared: accepts at the promised ballot', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 101);
    expect(msgs(accept(a, 1, 101, 'foo'), 'accepted')).toHaveLength(1);
  });

  it('AcceptHigherBallot: accepts above the promise', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 101);
    const out = accept(a, 1, 201, 'foo');
    expect(msgs(out, 'accepted')[0]?.ballot).toBe(201);
  });

  it('AcceptSmallerBallot: refuses below the promise with preempted(promised ballot)', () => {
    const a = new Acceptor({ id: 3 });
    prepare(a, 1, 201);
    const out = accept(a, 1, 101, 'foo');
    expect(out.persist).toEqual([]);
    expect(sent(out, 'preempted')).toEqual([{ to: 'peer', peer: PEER, msg: { type: 'preempted', aid: 3, iid: 1, ballot: 201 } }]);
  });

  it('PrepareWithAcceptedValue: a promise reports the accepted value and its ballot', () => {
    const a = new Acceptor({ id: 0 });
    accept(a, 1, 101, 'foo');
    const p = msgs(prepare(a, 1, 201), 'promise')[0];
    expect(p).toMatchObject({ ballot: 201, valueBallot: 101 });
    expect(dec(p?.value ?? new Uint8Array())).toBe('foo');
  });

  it('Repeat: answers the requester with every accepted instance in range', () => {
    const a = new Acceptor({ id: 0 });
    for (let i = 1; i <= 10; i++) accept(a, i, 101, `v${i}`);
    const out = repeat(a, 1, 10);
    const got = sent(out, 'accepted');
    expect(got.map((e) => e.msg.iid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(got.every((e) => e.to === 'peer' && e.peer === PEER)).toBe(true);
  });

  it('re-accepting the same value under a higher ballot keeps the earlier vote, and repeat reports it first', () => {
    const a = new Acceptor({ id: 0 });
    accept(a, 1, 11, 'v');
    prepare(a, 1, 21);
    const out = accept(a, 1, 31, 'v');
    expect(out.persist).toEqual([{ kind: 'record', iid: 1, ballot: 31, valueBallot: 31, value: enc('v'), earlierBallots: [11] }]);
    expect(msgs(repeat(a, 1, 1), 'accepted').map((m) => [m.ballot, m.valueBallot, dec(m.value)])).toEqual([
      [11, 11, 'v'],
      [31, 31, 'v'],
    ]);
    // A promise reports only the newest vote: that is what Paxos P2c needs.
    expect(msgs(prepare(a, 1, 41), 'promise')).toEqual([{ type: 'promise', aid: 0, iid: 1, ballot: 41, valueBallot: 31, value: enc('v') }]);
    expect(a.record(1)?.earlierBallots).toEqual([11]);
  });

  it('accepting other bytes forgets the earlier votes; of a long run the oldest seven ballots and the newest are kept', () => {
    const a = new Acceptor({ id: 0 });
    accept(a, 1, 11, 'v');
    accept(a, 1, 21, 'w');
    expect(a.record(1)?.earlierBallots).toBeUndefined();
    for (let b = 31; b <= 121; b += 10) accept(a, 1, b, 'w');
    // 21 may be where w was chosen: the re-proposals that follow a choice never push it out.
    expect(a.record(1)?.earlierBallots).toEqual([21, 31, 41, 51, 61, 71, 81]);
    expect(a.record(1)?.valueBallot).toBe(121);
  });

  it('RepeatEmpty: nothing accepted, nothing sent', () => {
    expect(repeat(new Acceptor({ id: 0 }), 1, 100).send).toEqual([]);
  });

  it('RepeatPrepared: promise-only instances are not repeated', () => {
    const a = new Acceptor({ id: 0 });
    prepare(a, 1, 101);
    expect(repeat(a, 1, 1).send).toEqual([]);
  });

  it('TrimmedInstances: prepare, accept and repeat at or below the trim point are ignored', () => {
    const a = new Acceptor({ id: 0 });
    for (let i = 1; i <= 10; i++) accept(a, i, 101, `v${i}`);
    const t = fx();
    a.receive(PEER, { type: 'trim', iid: 5 }, t);
    expect(t.persist).toEqual([{ kind: 'trim', iid: 5 }]);
    expect(prepare(a, 5, 999).send).toEqual([]);
    expect(accept(a, 3, 999, 'x').send).toEqual([]);
    expect(msgs(repeat(a, 1, 10), 'accepted').map((m) => m.iid)).toEqual([6, 7, 8, 9, 10]);
    expect(a.recordCount).toBe(5);
  });

  it('B1: a repeat reply carries the value ballot, not a later promise, so no learner can mix them up', () => {
    const a = new Acceptor({ id: 1 });
    accept(a, 1, 11, 'v');
    prepare(a, 1, 300);
    const m = msgs(repeat(a, 1, 1), 'accepted')[0];
    expect(m).toMatchObject({ ballot: 11, valueBallot: 11 });
  });

  it('repeats a decided no-op (empty value), which LibPaxos3 skips and so strands learners', () => {
    const a = new Acceptor({ id: 0 });
    accept(a, 1, 11, '');
    expect(msgs(repeat(a, 1, 1), 'accepted')).toHaveLength(1);
  });

  it('answers a huge repeat range in bounded work', () => {
    const a = new Acceptor({ id: 0, maxRepeat: 100 });
    for (let i = 1; i <= 500; i++) accept(a, i, 11, 'v');
    expect(msgs(repeat(a, 1, MAX_UINT32), 'accepted')).toHaveLength(100);
  });

  it('drops malformed input with an event instead of acting on it', () => {
    const a = new Acceptor({ id: 0 });
    for (const m of [
      { type: 'prepare', iid: 0, ballot: 11 },
      { type: 'prepare', iid: 1, ballot: MAX_UINT32 + 1 },
      { type: 'accept', iid: -1, ballot: 11, value: enc('x') },
      { type: 'repeat', from: 10, to: 1 },
    ] as const) {
      const out = fx();
      a.receive(PEER, m, out);
      expect(out.send).toEqual([]);
      expect(out.persist).toEqual([]);
      expect(out.events[0]).toMatchObject({ kind: 'dropped', reason: 'invalid' });
    }
  });

  it('broadcasts acceptor_state with its trim point once per interval', () => {
    const a = new Acceptor({ id: 4, stateIntervalMs: 1000 });
    const states = (now: number) => {
      const out = fx();
      a.tick(now, out);
      return msgs(out, 'acceptor_state');
    };
    expect(states(0)).toEqual([{ type: 'acceptor_state', aid: 4, trimIid: 0 }]);
    expect(states(999)).toEqual([]);
    expect(states(1000)).toHaveLength(1);
  });

  it('recovers promises, accepted values and the trim point from storage', () => {
    const records: AcceptorRecord[] = [
      { kind: 'record', iid: 3, ballot: 21, valueBallot: 0, value: new Uint8Array(0) },
      { kind: 'record', iid: 4, ballot: 31, valueBallot: 31, value: enc('kept') },
    ];
    const a = new Acceptor({ id: 0 }, { trimIid: 2, records });
    expect(msgs(prepare(a, 3, 11), 'promise')[0]?.ballot).toBe(21);
    expect(msgs(prepare(a, 4, 41), 'promise')[0]).toMatchObject({ valueBallot: 31, value: enc('kept') });
    expect(prepare(a, 2, 99).send).toEqual([]);
  });
});

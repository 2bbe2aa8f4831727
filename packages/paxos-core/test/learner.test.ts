import { describe, expect, it } from 'vitest';
import { Learner, MAX_UINT32, NOOP, type LearnerOptions } from '../src/index.js';
import { accepted, dec, enc, fx, msgs } from './helpers.js';

function learner(options: Partial<LearnerOptions> = {}) {
  return new Learner({ acceptors: 3, ...options });
}

function feed(l: Learner, ...ms: ReturnType<typeof accepted>[]) {
  const out = fx();
  for (const m of ms) l.receive(m.aid, m, out);
  return out;
}

const delivered = (out: ReturnType<typeof fx>) => out.deliver.map((d) => [d.iid, dec(d.value)]);

// LibPaxos3's learner unit tests (reference §9), one rule each, then our fixes.
describe('learner', () => {
  it('Learn: a quorum of accepted for the same ballot delivers the value', () => {
    const l = learner();
    expect(delivered(feed(l, accepted(0, 1, 11, enc('v'))))).toEqual([]);
    expect(delivered(feed(l, accepted(1, 1, 11, enc('v'))))).toEqual([[1, 'v']]);
  });

  it('LearnInOrder: instances are delivered in iid order', () => {
    const l = learner();
    const out = feed(l, accepted(0, 2, 11, enc('b')), accepted(1, 2, 11, enc('b')));
    expect(delivered(out)).toEqual([]);
    expect(delivered(feed(l, accepted(0, 1, 11, enc('a')), accepted(1, 1, 11, enc('a'))))).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
  });

  it('IgnoreDuplicates: a closed instance is delivered once', () => {
    const l = learner();
    const out = feed(l, accepted(0, 1, 11, enc('v')), accepted(1, 1, 11, enc('v')), accepted(2, 1, 11, enc('v')), accepted(1, 1, 11, enc('v')));
    expect(delivered(out)).toEqual([[1, 'v']]);
  });

  it('LearnMajority: one acceptor repeating itself is not a quorum', () => {
    const l = learner();
    expect(feed(l, accepted(0, 1, 11, enc('v')), accepted(0, 1, 11, enc('v'))).deliver).toEqual([]);
  });

  it('IgnoreOlderBallot: a quorum forms at the newer ballot', () => {
    const l = learner();
    const out = feed(l, accepted(0, 1, 11, enc('old')), accepted(1, 1, 21, enc('new')), accepted(2, 1, 21, enc('new')));
    expect(delivered(out)).toEqual([[1, 'new']]);
  });

  it('NoHoles: nothing to repeat when everything is delivered', () => {
    const l = learner();
    feed(l, accepted(0, 1, 11, enc('v')), accepted(1, 1, 11, enc('v')));
    const out = fx();
    l.tick(0, out);
    l.tick(100, out);
    expect(msgs(out, 'repeat')).toEqual([]);
  });

  it('OneHole: an instance stuck below closed ones is repeated', () => {
    const l = learner();
    feed(l, accepted(0, 2, 11, enc('b')), accepted(1, 2, 11, enc('b')));
    const out = fx();
    l.tick(0, out);
    l.tick(100, out);
    expect(msgs(out, 'repeat')[0]).toMatchObject({ type: 'repeat', from: 1 });
  });

  it('ManyHoles: the repeat covers the holes up to what was seen', () => {
    const l = learner();
    for (const i of [3, 5, 9]) feed(l, accepted(0, i, 11, enc('x')), accepted(1, i, 11, enc('x')));
    const out = fx();
    l.tick(0, out);
    l.tick(100, out);
    const r = msgs(out, 'repeat')[0];
    expect(r?.from).toBe(1);
    expect(r?.to).toBeGreaterThanOrEqual(9);
  });

  it('B1: a stale value repeated under a newer promise never closes an instance', () => {
    // Reference B1: acceptor 1 accepted v@11 and later promised 300; w was chosen @300 by {0,2}.
    // The learner hears w@300 from acceptor 0 and, from a LibPaxos3 acceptor answering repeat,
    // (ballot 300, value ballot 11, v) from acceptor 1. LibPaxos3 closes on ballot 300 with v.
    const l = learner();
    const out = feed(l, accepted(0, 1, 300, enc('w')), accepted(1, 1, 300, enc('v'), 11));
    expect(out.deliver).toEqual([]);
    expect(delivered(feed(l, accepted(2, 1, 300, enc('w'))))).toEqual([[1, 'w']]);
  });

  it('a newer vote does not withdraw an older one: a quorum at an earlier ballot still closes', () => {
    // v chosen at 11 by {0, 1}; re-proposals later moved acceptor 0 to 31 and acceptor 1 to 21.
    const l = learner();
    expect(feed(l, accepted(0, 1, 31, enc('v')), accepted(1, 1, 21, enc('v')), accepted(2, 1, 41, enc('v'))).deliver).toEqual([]);
    expect(delivered(feed(l, accepted(0, 1, 11, enc('v')), accepted(1, 1, 11, enc('v'))))).toEqual([[1, 'v']]);
  });

  it('delivers instance 2^32 − 1, the last LibPaxos3 can name, once, says so, and asks for nothing past it', () => {
    const l = learner();
    l.setInstanceId(MAX_UINT32 - 2);
    const out = feed(l, ...[0, 1].flatMap((aid) => [accepted(aid, MAX_UINT32 - 1, 11, enc('y')), accepted(aid, MAX_UINT32, 11, enc('z'))]));
    expect(delivered(out)).toEqual([
      [MAX_UINT32 - 1, 'y'],
      [MAX_UINT32, 'z'],
    ]);
    expect(out.events).toContainEqual({ kind: 'iid-space-exhausted', role: 'learner' });
    // A late vote and repeated ones for the last instance deliver nothing again.
    const late = feed(l, accepted(2, MAX_UINT32, 11, enc('z')), accepted(0, MAX_UINT32, 11, enc('z')), accepted(1, MAX_UINT32, 11, enc('z')));
    expect(late.deliver).toEqual([]);
    for (let now = 0; now <= 5000; now += 100) {
      const t = fx();
      l.tick(now, t);
      expect(msgs(t, 'repeat')).toEqual([]);
    }
  });

  // Found by the simulator (seed 357, split mode): a trim point moved a learner past a hole, just
  // below an instance it had closed; later copies of that instance's votes are duplicates, so it
  // was never delivered and its proposer re-ran it for ever.
  it('set-instance-id past a hole delivers the instance already closed right above it', () => {
    const l = learner();
    const out = feed(l, accepted(0, 2, 11, enc('two')), accepted(1, 2, 11, enc('two')));
    expect(out.deliver).toEqual([]);
    l.setInstanceId(1, out);
    expect(delivered(out)).toEqual([[2, 'two']]);
    expect(l.nextIid).toBe(3);
  });

  it('refuses to count two different values under one value ballot (a broken peer)', () => {
    const l = learner();
    const out = feed(l, accepted(0, 1, 11, enc('a')), accepted(1, 1, 11, enc('b')));
    expect(out.deliver).toEqual([]);
    expect(out.events).toContainEqual({ kind: 'conflict', iid: 1, ballot: 11 });
  });

  it('skips decided no-ops instead of delivering them: NOOP, and the empty no-op of earlier builds', () => {
    const l = learner();
    const out = feed(
      l,
      ...[1, 2].flatMap((aid) => [accepted(aid, 1, 11, NOOP), accepted(aid, 2, 11, new Uint8Array(0)), accepted(aid, 3, 11, enc('x'))]),
    );
    expect(delivered(out)).toEqual([[3, 'x']]);
    expect(out.events).toContainEqual({ kind: 'noop', iid: 1 });
    expect(out.events).toContainEqual({ kind: 'noop', iid: 2 });
  });

  it('B8: catch-up asks for far more than 11 instances, and asks for the next range as soon as one is in', () => {
    const l = learner({ repeatBatch: 100 });
    feed(l, accepted(0, 1000, 11, enc('x')), accepted(1, 1000, 11, enc('x')));
    const out = fx();
    l.tick(0, out);
    expect(msgs(out, 'repeat')).toEqual([{ type: 'repeat', from: 1, to: 100 }]);
    const replies = [];
    for (let i = 1; i <= 100; i++) replies.push(accepted(0, i, 11, enc('r')), accepted(1, i, 11, enc('r')));
    const next = feed(l, ...replies);
    expect(next.deliver).toHaveLength(100);
    expect(msgs(next, 'repeat')).toEqual([{ type: 'repeat', from: 101, to: 200 }]);
  });

  it('B8: an idle learner probes for instances nobody announced', () => {
    const l = learner({ probeIntervalMs: 1000 });
    const out = fx();
    l.tick(5000, out);
    expect(msgs(out, 'repeat')).toEqual([{ type: 'repeat', from: 1, to: 1024 }]);
  });

  it('a connection to an acceptor that comes up is asked at once for what that acceptor broadcast before', () => {
    // Acceptor 1's accepted of instance 2 went out before this learner was connected to it: with
    // acceptor 0's alone, instance 2 waits for a quorum.
    const l = learner();
    feed(l, accepted(0, 1, 11, enc('a')), accepted(1, 1, 11, enc('a')), accepted(0, 2, 11, enc('b')));
    const out = fx();
    l.step({ kind: 'acceptor-connected', peer: 1 }, out);
    expect(out.send).toEqual([{ to: 'peer', peer: 1, msg: { type: 'repeat', from: 2, to: 1025 } }]);
    // Its answer closes the instance, without waiting for a repeat period.
    expect(delivered(feed(l, accepted(1, 2, 11, enc('b'))))).toEqual([[2, 'b']]);
    // A connection that flaps asks once per repeat period (100 ms by default), not at every reconnect.
    const flap = fx();
    l.tick(1000, flap);
    flap.send.length = 0;
    l.step({ kind: 'acceptor-connected', peer: 1 }, flap);
    l.step({ kind: 'acceptor-connected', peer: 1 }, flap);
    l.tick(1050, fx());
    l.step({ kind: 'acceptor-connected', peer: 1 }, flap);
    expect(flap.send).toHaveLength(1);
    l.tick(1100, fx());
    l.step({ kind: 'acceptor-connected', peer: 1 }, flap);
    expect(flap.send).toEqual([
      { to: 'peer', peer: 1, msg: { type: 'repeat', from: 3, to: 1026 } },
      { to: 'peer', peer: 1, msg: { type: 'repeat', from: 3, to: 1026 } },
    ]);
    // A learner that starts where it first hears (learner-catch-up no) asks nothing.
    const late = fx();
    learner({ catchUp: false }).step({ kind: 'acceptor-connected', peer: 0 }, late);
    expect(late.send).toEqual([]);
  });

  it('learner-catch-up no: starts at the first instance it hears of', () => {
    const l = learner({ catchUp: false });
    expect(delivered(feed(l, accepted(0, 50, 11, enc('x')), accepted(1, 50, 11, enc('x'))))).toEqual([[50, 'x']]);
  });

  it('set-instance-id: continues after the given instance', () => {
    const l = learner();
    l.setInstanceId(41);
    expect(l.nextIid).toBe(42);
    expect(delivered(feed(l, accepted(0, 42, 11, enc('x')), accepted(1, 42, 11, enc('x'))))).toEqual([[42, 'x']]);
  });

  it('buffers a bounded window of future instances', () => {
    const l = learner({ window: 10 });
    const out = feed(l, accepted(0, 11, 11, enc('x')));
    expect(out.events).toEqual([{ kind: 'dropped', reason: 'beyond-window', msg: 'accepted', iid: 11 }]);
    expect(l.bufferedCount).toBe(0);
  });

  it('trim asks every acceptor to trim', () => {
    const out = fx();
    learner().trim(7, out);
    expect(out.send).toEqual([{ to: 'acceptors', msg: { type: 'trim', iid: 7 } }]);
  });

  it('B8: a learner far behind catches up range after range with no timer in between', () => {
    const l = learner({ repeatBatch: 100 });
    const out = fx();
    l.tick(0, out);
    let request = msgs(out, 'repeat')[0];
    expect(request).toEqual({ type: 'repeat', from: 1, to: 100 });
    let delivered = 0;
    // Acceptors hold 1,050 instances: ten full ranges, then a short one, then nothing to ask for.
    for (let round = 0; round < 20 && request !== undefined; round++) {
      const replies = [];
      for (let i = request.from; i <= Math.min(request.to, 1050); i++) replies.push(accepted(0, i, 11, enc('r')), accepted(1, i, 11, enc('r')));
      const next = feed(l, ...replies);
      delivered += next.deliver.length;
      request = msgs(next, 'repeat')[0];
    }
    expect(delivered).toBe(1050);
    expect(l.nextIid).toBe(1051);
  });
});

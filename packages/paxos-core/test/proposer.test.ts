import { describe, expect, it } from 'vitest';
import { MAX_UINT32, NOOP, PaxosConfigError, Proposer, encodeCheckpointReport, type ProposerOptions } from '../src/index.js';
import { accepted, dec, enc, fx, msgs, promise } from './helpers.js';

const A = 3;

function started(options: Partial<ProposerOptions> = {}, floor?: number) {
  const p = new Proposer({ id: 2, acceptors: A, preexecWindow: 1, timeoutMs: 1000, ...options }, floor === undefined ? undefined : { roundFloor: floor });
  const out = fx();
  p.tick(0, out);
  return { p, out };
}

/** Promises from a quorum for `iid` at `ballot`. */
function promiseQuorum(p: Proposer, iid: number, ballot: number, n = 2) {
  const out = fx();
  for (let aid = 0; aid < n; aid++) p.receive(aid, promise(aid, iid, ballot), out);
  return out;
}

// LibPaxos3's proposer unit tests (reference §9), one rule each, then our fixes.
describe('proposer', () => {
  it('Prepare: opens iids 1.. with ballot 10+id, after persisting its round floor', () => {
    const { out } = started({ preexecWindow: 3 });
    expect(msgs(out, 'prepare')).toEqual([
      { type: 'prepare', iid: 1, ballot: 12 },
      { type: 'prepare', iid: 2, ballot: 12 },
      { type: 'prepare', iid: 3, ballot: 12 },
    ]);
    expect(out.persist).toEqual([{ kind: 'round-floor', round: 101 }]);
    expect(out.send.every((e) => e.to === 'acceptors')).toBe(true);
  });

  it('IgnoreOldBallots: a promise for a lower ballot is dropped', () => {
    const { p } = started();
    const out = fx();
    p.receive(0, promise(0, 1, 2), out);
    expect(out.events).toEqual([{ kind: 'dropped', reason: 'stale', msg: 'promise', iid: 1 }]);
  });

  it('IgnoreDuplicatePrepareAcks: one acceptor counts once', () => {
    const { p } = started();
    const out = fx();
    p.propose(enc('v'), out);
    p.receive(0, promise(0, 1, 12), out);
    p.receive(0, promise(0, 1, 12), out);
    expect(msgs(out, 'accept')).toEqual([]);
  });

  it('PrepareAndAccept: a quorum of promises sends accept with the queued value', () => {
    const { p } = started();
    const out = fx();
    p.propose(enc('v'), out);
    const q = promiseQuorum(p, 1, 12);
    expect(msgs(q, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('v') }]);
    expect(out.send).toEqual([]);
  });

  it('PreparePreempted: a promise with a higher ballot restarts phase 1 above it', () => {
    const { p } = started({ backoffBaseMs: 1 });
    const out = fx();
    p.receive(0, promise(0, 1, 13), out);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 1, ballot: 22 }]);
  });

  it('PrepareAlreadyClosed: promises for an instance that is no longer in phase 1 are dropped', () => {
    const { p } = started();
    const out = fx();
    p.propose(enc('v'), out);
    promiseQuorum(p, 1, 12);
    p.receive(2, promise(2, 1, 12), out);
    expect(out.events).toEqual([{ kind: 'dropped', reason: 'unknown-instance', msg: 'promise', iid: 1 }]);
  });

  it('PreparePreemptedWithTwoValues: the highest value ballot wins; the own value moves on', () => {
    const { p } = started({ preexecWindow: 2 });
    const out = fx();
    p.propose(enc('mine'), out);
    p.receive(0, promise(0, 1, 12, 5, enc('old')), out);
    p.receive(1, promise(1, 1, 12, 8, enc('newer')), out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('newer') }]);
    // The own value was never bound to instance 1, so it takes instance 2.
    const q = promiseQuorum(p, 2, 12);
    expect(msgs(q, 'accept').map((m) => dec(m.value))).toEqual(['mine']);
  });

  it('AcceptPreempted: preempted(higher) sends the instance back to phase 1 with its value', () => {
    const { p } = started({ backoffBaseMs: 1 });
    const out = fx();
    p.propose(enc('v'), out);
    promiseQuorum(p, 1, 12);
    p.receive(0, { type: 'preempted', aid: 0, iid: 1, ballot: 15 }, out);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 1, ballot: 22 }]);
    const q = promiseQuorum(p, 1, 22);
    expect(msgs(q, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 22, value: enc('v') }]);
  });

  it('PreparedCount: accepting an instance opens the next one to keep the window full', () => {
    const { p } = started({ preexecWindow: 2 });
    expect(p.phase1Count).toBe(2);
    p.propose(enc('v'), fx());
    const q = promiseQuorum(p, 1, 12);
    expect(msgs(q, 'prepare')).toEqual([{ type: 'prepare', iid: 3, ballot: 12 }]);
    expect(p.phase1Count).toBe(2);
    expect(p.phase2Count).toBe(1);
  });

  it('PendingPrepareShouldTimeout: an unanswered prepare is resent unchanged', () => {
    const { p } = started();
    const out = fx();
    p.tick(999, out);
    expect(msgs(out, 'prepare')).toEqual([]);
    p.tick(1000, out);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 1, ballot: 12 }]);
    expect(out.events).toContainEqual({ kind: 'timeout', phase: 1, iid: 1, ballot: 12 });
  });

  it('PreparedShouldNotTimeout: a prepared instance waiting for a value never times out', () => {
    const { p } = started();
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.tick(5000, out);
    expect(msgs(out, 'prepare')).toEqual([]);
  });

  it('PendingAcceptShouldTimeout: an unanswered accept is resent unchanged', () => {
    const { p } = started();
    p.propose(enc('v'), fx());
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.tick(1000, out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('v') }]);
  });

  // A tick walks the open instances only once something can be due (see Proposer.resendDue):
  // these two pin that a send or a backoff made while nothing was due is not missed.
  it('resends an accept sent while nothing was due, when it is the only send (a no-op closing a hole)', () => {
    const { p } = started();
    promiseQuorum(p, 1, 12);
    // The walk finds nothing due: instance 1 is prepared and waits for a value.
    p.tick(5000, fx());
    // Instance 5 is in use elsewhere: 1 is a hole, closed with a no-op at the next tick; an idle
    // proposer opens nothing with it, so the accept is the only send.
    p.receive(0, accepted(0, 5, 11, enc('x')), fx());
    const first = fx();
    p.tick(5001, first);
    expect(msgs(first, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: NOOP }]);
    expect(msgs(first, 'prepare')).toEqual([]);
    const out = fx();
    p.tick(6000, out);
    expect(msgs(out, 'accept')).toEqual([]);
    p.tick(6001, out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: NOOP }]);
  });

  it('sends a backed-off prepare when it is due, not at the next timeout', () => {
    const { p } = started({ seed: 1, backoffBaseMs: 200, backoffMaxMs: 400 });
    promiseQuorum(p, 1, 12);
    p.tick(5000, fx());
    p.propose(enc('v'), fx());
    const pre = fx();
    p.receive(0, { type: 'preempted', aid: 0, iid: 1, ballot: 15 }, pre);
    const preempted = pre.events.find((e) => e.kind === 'preempted');
    const delay = preempted?.kind === 'preempted' ? preempted.delayMs : 0;
    expect(msgs(pre, 'prepare')).toEqual([]);
    expect(delay).toBeGreaterThan(1);
    const out = fx();
    p.tick(5000 + delay - 1, out);
    expect(msgs(out, 'prepare')).toEqual([]);
    p.tick(5000 + delay, out);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 1, ballot: 22 }]);
  });

  it('AcceptedShouldNotTimeout: a chosen instance is finished', () => {
    const { p } = started();
    p.propose(enc('v'), fx());
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.receive(0, accepted(0, 1, 12, enc('v')), out);
    p.receive(1, accepted(1, 1, 12, enc('v')), out);
    p.tick(1000, out);
    expect(msgs(out, 'accept')).toEqual([]);
    expect(p.phase2Count).toBe(0);
  });

  it('ShouldNotTimeoutTwice: after a resend the timer starts again', () => {
    const { p } = started();
    const out = fx();
    p.tick(1000, out);
    p.tick(1500, out);
    expect(msgs(out, 'prepare')).toHaveLength(1);
    p.tick(2000, out);
    expect(msgs(out, 'prepare')).toHaveLength(2);
  });

  it('AvoidDuplicateProposals: a value goes into exactly one accept', () => {
    const { p } = started({ preexecWindow: 3 });
    const out = fx();
    p.propose(enc('v'), out);
    for (let iid = 1; iid <= 3; iid++) for (const aid of [0, 1, 2]) p.receive(aid, promise(aid, iid, 12), out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('v') }]);
  });

  it('SetInstanceId: the next instance opened follows the hint', () => {
    const { p } = started();
    const out = fx();
    p.setInstanceId(10, out);
    p.propose(enc('v'), out);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 11, ballot: 12 }]);
  });

  it('opens nothing past instance 2^32 − 1: says so once, and gives up values no instance is left to take', () => {
    const { p } = started({ preexecWindow: 2 });
    const out = fx();
    p.setInstanceId(MAX_UINT32 - 2, out);
    for (const v of ['a', 'b', 'c']) p.propose(enc(v), out);
    expect(msgs(out, 'prepare').map((m) => m.iid)).toEqual([MAX_UINT32 - 1, MAX_UINT32]);
    const all = fx();
    for (const iid of [MAX_UINT32 - 1, MAX_UINT32]) {
      for (let aid = 0; aid < 2; aid++) p.receive(aid, promise(aid, iid, 12), all);
    }
    expect(msgs(all, 'accept').map((m) => [m.iid, dec(m.value)])).toEqual([
      [MAX_UINT32 - 1, 'a'],
      [MAX_UINT32, 'b'],
    ]);
    p.propose(enc('d'), all);
    const events = [...out.events, ...all.events];
    expect(events.filter((e) => e.kind === 'iid-space-exhausted')).toEqual([{ kind: 'iid-space-exhausted', role: 'proposer' }]);
    expect(events.filter((e) => e.kind === 'value-lost').map((e) => (e.kind === 'value-lost' ? [e.reason, dec(e.value)] : []))).toEqual([
      ['iid-space-exhausted', 'c'],
      ['iid-space-exhausted', 'd'],
    ]);
    expect(msgs(all, 'prepare')).toEqual([]);
    expect(p.queueLength).toBe(0);
  });

  it('pre-executes one window at start, and refills it only while it has client values', () => {
    const { p } = started({ preexecWindow: 2 });
    const out = fx();
    promiseQuorum(p, 1, 12);
    p.decided(1, enc('theirs'), out);
    expect(msgs(out, 'prepare')).toEqual([]);
    p.propose(enc('mine'), out);
    expect(msgs(out, 'prepare').map((m) => m.iid)).toEqual([3]);
  });

  it('opens an instance for a checkpoint report, but a report does not keep it pre-executing (seed 1293)', () => {
    const report = encodeCheckpointReport({ node: 2, iid: 40 });
    for (const [value, refills] of [
      [enc('mine'), [4]],
      [report, []],
    ] as const) {
      const { p } = started({ preexecWindow: 2, fedDecisions: true });
      promiseQuorum(p, 1, 12);
      promiseQuorum(p, 2, 12);
      const out = fx();
      p.decided(1, enc('theirs'), out);
      p.decided(2, enc('theirs'), out);
      // Idle, with nothing open: the value needs a new instance, whatever it is.
      p.propose(value, out);
      expect(msgs(out, 'prepare').map((m) => m.iid)).toEqual([3, 4]);
      const bound = promiseQuorum(p, 3, 12);
      expect(msgs(bound, 'accept')).toEqual([{ type: 'accept', iid: 3, ballot: 12, value }]);
      // Once it is bound, a client value keeps the window full (more usually follow); a report
      // leaves it as it is, so idle replicas that report do not compete for every instance.
      p.decided(3, value, bound);
      p.decided(4, enc('theirs'), bound);
      p.tick(10, bound);
      expect(msgs(bound, 'prepare').map((m) => m.iid)).toEqual(refills.length === 0 ? [] : [5, 6]);
    }
  });

  it('B7: window 0, which makes LibPaxos3 silently never propose, is refused', () => {
    expect(() => new Proposer({ id: 0, acceptors: 3, preexecWindow: 0 })).toThrow(PaxosConfigError);
    expect(() => new Proposer({ id: 0, acceptors: 3, preexecWindow: 0 })).toThrow(/never/);
  });

  it('refuses proposer ids that do not fit the ballot digit', () => {
    expect(() => new Proposer({ id: 10, acceptors: 3 })).toThrow(/proposer id must be an integer from 0 to 9/);
  });

  it('B2: a restarted proposer starts above its durable round floor, never reusing a ballot', () => {
    const first = started({ roundChunk: 5 });
    const floor = first.out.persist.find((r) => r.kind === 'round-floor');
    expect(floor).toEqual({ kind: 'round-floor', round: 6 });
    // LibPaxos3 restarts at 10+id again; with the recovered floor the first ballot is above it.
    const again = started({ roundChunk: 5 }, floor?.kind === 'round-floor' ? floor.round : 0);
    expect(msgs(again.out, 'prepare')[0]?.ballot).toBe(72);
    expect(again.out.persist).toEqual([{ kind: 'round-floor', round: 12 }]);
  });

  it('B2: a ballot above the reserved rounds is persisted before it is sent', () => {
    const { p } = started({ roundChunk: 5, backoffBaseMs: 1 });
    const out = fx();
    p.receive(0, promise(0, 1, 993), out);
    expect(msgs(out, 'prepare')[0]?.ballot).toBe(1002);
    expect(out.persist).toEqual([{ kind: 'round-floor', round: 105 }]);
  });

  it('B10: jumps past a far higher competing ballot in one step, keeping ballot % 10 == id', () => {
    const { p } = started({ backoffBaseMs: 1 });
    const out = fx();
    p.receive(0, promise(0, 1, 123_457), out);
    const b = msgs(out, 'prepare')[0]?.ballot ?? 0;
    expect(b).toBe(123_462);
    expect(b % 10).toBe(2);
  });

  it('B10: repeated preemptions of one instance back off with seeded jitter', () => {
    const run = (seed: number) => {
      const { p } = started({ seed, backoffBaseMs: 8, backoffMaxMs: 1000 });
      const delays: number[] = [];
      let ballot = 12;
      for (let i = 0; i < 6; i++) {
        const out = fx();
        p.receive(0, promise(0, 1, ballot + 1), out);
        const ev = out.events.find((e) => e.kind === 'preempted');
        if (ev?.kind !== 'preempted') throw new Error('no preempted event');
        delays.push(ev.delayMs);
        ballot = ev.ballot;
        p.tick(100_000 * (i + 1), fx());
      }
      return delays;
    };
    const a = run(1);
    expect(run(1)).toEqual(a);
    expect(a.every((d, i) => d >= 0 && d < Math.min(1000, 8 * 2 ** i))).toBe(true);
    expect(a.slice(2).some((d) => d > 0)).toBe(true);
  });

  it('B10: backoffs scale to the round trip phase 1 took, so competitors end up a round trip apart', () => {
    // Phase 1 takes 80 ms here (a WAN, or a loaded host): backoffs of a few ms, capped at half a
    // 100 ms timeout, kept two proposers preempting each other round after round.
    const { p } = started({ seed: 3, timeoutMs: 100 });
    p.propose(enc('v'), fx());
    const out = fx();
    p.tick(80, out);
    for (let aid = 0; aid < 2; aid++) p.receive(aid, promise(aid, 1, 12), out);
    expect(msgs(out, 'accept')).toHaveLength(1);
    const delays: number[] = [];
    let ballot = 12;
    for (let i = 0; i < 12; i++) {
      const o = fx();
      p.receive(0, i === 0 ? { type: 'preempted', aid: 0, iid: 1, ballot: ballot + 1 } : promise(0, 1, ballot + 1), o);
      const ev = o.events.find((e) => e.kind === 'preempted');
      if (ev?.kind !== 'preempted') throw new Error('no preempted event');
      delays.push(ev.delayMs);
      ballot = ev.ballot;
      p.tick(10_000 * (i + 1), fx());
    }
    // Up to twice the round trip (160 ms), above half the timeout (50 ms) the plain cap allows.
    expect(delays.every((d) => d >= 0 && d < 160)).toBe(true);
    expect(delays.some((d) => d > 50)).toBe(true);
  });

  it('takes an instance that is slow for one that is stuck only when no new accept shows up there either', () => {
    const { p } = started({ preexecWindow: 1, fedDecisions: true, timeoutMs: 100 });
    const out = fx();
    p.decided(1, enc('a'), out);
    p.receive(0, accepted(0, 5, 31, enc('e')), out); // instances up to 5 are in use
    // Another proposer is at work on instance 2: its accepts keep coming, at higher ballots.
    for (let t = 0; t <= 2000; t += 50) {
      p.receive(1, accepted(1, 2, 41 + t, enc('b')), out);
      p.tick(t, out);
    }
    expect(msgs(out, 'prepare').filter((m) => m.iid === 2)).toEqual([]);
    // They stop: after two or three timeouts it re-runs the stuck instance.
    const rec = fx();
    for (let t = 2050; t <= 2400; t += 10) p.tick(t, rec);
    expect(new Set(msgs(rec, 'prepare').map((m) => m.iid))).toEqual(new Set([2]));
  });

  it('B11: a displaced own value is re-queued once its instance is known to have chosen another value', () => {
    const { p } = started();
    const out = fx();
    p.propose(enc('mine'), out);
    promiseQuorum(p, 1, 12);
    // Another proposer's value is chosen in instance 1 (seen through the acceptors' broadcasts).
    p.receive(0, accepted(0, 1, 25, enc('theirs')), out);
    p.receive(1, accepted(1, 1, 25, enc('theirs')), out);
    expect(out.events).toContainEqual({ kind: 'requeued', iid: 1 });
    expect(p.queueLength).toBe(1);
  });

  it('B11: a value whose instance was trimmed before the outcome was known is not proposed again', () => {
    const { p } = started();
    const out = fx();
    p.propose(enc('mine'), out);
    promiseQuorum(p, 1, 12);
    // LibPaxos3 re-queues it here and may so get it chosen twice.
    p.receive(0, { type: 'acceptor_state', aid: 0, trimIid: 1 }, out);
    expect(out.events).toContainEqual({ kind: 'value-lost', reason: 'outcome-unknown', iid: 1, value: enc('mine') });
    expect(p.queueLength).toBe(0);
    expect([...p.heldValues()]).toEqual([]);
  });

  it('B11: the local learner deciding our value finishes it; deciding another re-queues ours', () => {
    const { p } = started({ preexecWindow: 2 });
    const out = fx();
    p.propose(enc('a'), out);
    p.propose(enc('b'), out);
    promiseQuorum(p, 1, 12);
    promiseQuorum(p, 2, 12);
    p.decided(1, enc('a'), out);
    p.decided(2, enc('other'), out);
    expect([...p.heldValues()].map(dec)).toEqual(['b']);
  });

  it('closes a hole below instances in use with a no-op after a timeout', () => {
    const { p } = started({ preexecWindow: 1 });
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.receive(0, accepted(0, 5, 31, enc('later')), out);
    p.tick(999, out);
    expect(msgs(out, 'accept')).toEqual([]);
    p.tick(1000, out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: NOOP }]);
    expect(out.events).toContainEqual({ kind: 'noop', iid: 1 });
  });

  it('refuses empty client values and the no-op bytes (reserved for closing holes), and values beyond its queue limit', () => {
    const { p } = started({ maxQueue: 1 });
    const out = fx();
    p.propose(new Uint8Array(0), out);
    p.propose(NOOP.slice(), out);
    p.propose(enc('a'), out);
    p.propose(enc('b'), out);
    expect(out.events).toEqual([
      { kind: 'value-lost', reason: 'reserved', iid: 0, value: new Uint8Array(0) },
      { kind: 'value-lost', reason: 'reserved', iid: 0, value: NOOP },
      { kind: 'value-lost', reason: 'queue-full', iid: 0, value: enc('b') },
    ]);
  });

  it('drops acks naming an acceptor id out of range (B3)', () => {
    const { p } = started();
    const out = fx();
    p.receive(0, promise(3, 1, 12), out);
    p.receive(0, accepted(200, 1, 12, enc('x')), out);
    expect(out.events.map((e) => e.kind === 'dropped' && e.reason)).toEqual(['invalid', 'invalid']);
  });

  it('finishes its own accept on a quorum at its ballot, not on a stale quorum from repeat replies', () => {
    const { p } = started();
    p.propose(enc('v'), fx());
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.receive(0, accepted(0, 1, 5, enc('v')), out);
    p.receive(1, accepted(1, 1, 5, enc('v')), out);
    // Chosen at ballot 5 long ago, but our accept at 12 may have moved acceptor 2 already.
    expect(p.phase2Count).toBe(1);
    p.receive(0, accepted(0, 1, 12, enc('v')), out);
    p.receive(1, accepted(1, 1, 12, enc('v')), out);
    expect(p.phase2Count).toBe(0);
  });

  it('a decision further on does not abandon an accept it has not finished', () => {
    const { p } = started();
    p.propose(enc('v'), fx());
    promiseQuorum(p, 1, 12);
    const out = fx();
    p.decided(1, enc('v'), out);
    p.decided(7, enc('x'), out);
    expect(p.phase2Count).toBe(1);
    expect([...p.heldValues()]).toEqual([]);
    p.tick(1000, out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('v') }]);
  });

  it('re-runs instances whose decisions stall, closing a hole with a no-op and adopting a chosen value', () => {
    const { p } = started({ preexecWindow: 4, fedDecisions: true });
    const out = fx();
    p.decided(1, enc('a'), out);
    // Instances 3 and 4 are in use; 2 is a hole nobody will come back to.
    p.receive(0, accepted(0, 4, 31, enc('d')), out);
    p.tick(999, out);
    expect(msgs(out, 'prepare')).toEqual([]);
    // Without leadership every proposer may re-run stuck instances: it waits two timeouts (the
    // instance's owner resends after one) plus a random share of a third, so they do not all
    // re-run the same one at once.
    const rec = fx();
    p.tick(3000, rec);
    // 2–4 were open from the start window (and their prepares time out now); 5 was not.
    expect(msgs(rec, 'prepare').map((m) => m.iid)).toEqual([2, 3, 4]);
    const r2 = promiseQuorum(p, 2, 12);
    expect(msgs(r2, 'accept')).toEqual([{ type: 'accept', iid: 2, ballot: 12, value: NOOP }]);
    const r3 = fx();
    p.receive(0, promise(0, 3, 12, 21, enc('c')), r3);
    p.receive(1, promise(1, 3, 12), r3);
    expect(msgs(r3, 'accept')).toEqual([{ type: 'accept', iid: 3, ballot: 12, value: enc('c') }]);
  });
});

describe('a connection to an acceptor comes up', () => {
  it('sends that acceptor, alone, the prepares it has not promised and every accept under way; the timeout stays', () => {
    const { p } = started({ preexecWindow: 3 });
    const out = fx();
    // iid 1 prepared by acceptors 0 and 1 and in phase 2; iid 2 promised by acceptor 0 only; iids 3
    // and 4 (opened as 1 left the window of prepared instances) by none.
    p.propose(enc('v'), out);
    p.receive(0, promise(0, 1, 12), out);
    p.receive(1, promise(1, 1, 12), out);
    p.receive(0, promise(0, 2, 12), out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 12, value: enc('v') }]);
    expect(msgs(out, 'prepare')).toEqual([{ type: 'prepare', iid: 4, ballot: 12 }]);

    const to0 = fx();
    p.acceptorConnected(0, to0);
    expect(to0.send).toEqual([
      { to: 'peer', peer: 0, msg: { type: 'accept', iid: 1, ballot: 12, value: enc('v') } },
      { to: 'peer', peer: 0, msg: { type: 'prepare', iid: 3, ballot: 12 } },
      { to: 'peer', peer: 0, msg: { type: 'prepare', iid: 4, ballot: 12 } },
    ]);
    const to2 = fx();
    p.acceptorConnected(2, to2);
    expect(to2.send).toEqual([
      { to: 'peer', peer: 2, msg: { type: 'accept', iid: 1, ballot: 12, value: enc('v') } },
      { to: 'peer', peer: 2, msg: { type: 'prepare', iid: 2, ballot: 12 } },
      { to: 'peer', peer: 2, msg: { type: 'prepare', iid: 3, ballot: 12 } },
      { to: 'peer', peer: 2, msg: { type: 'prepare', iid: 4, ballot: 12 } },
    ]);
    expect(to0.persist).toEqual([]);

    // Not an acceptor of the config: nothing.
    for (const peer of [3, -1, 1.5]) {
      const none = fx();
      p.acceptorConnected(peer, none);
      expect(none.send).toEqual([]);
    }
    // The resends did not move the timeout: due 1 s after the first sends, to everyone (iid 4's too:
    // it went out at 0 as well, the clock having not moved).
    const early = fx();
    p.tick(999, early);
    expect(early.send).toEqual([]);
    const due = fx();
    p.tick(1000, due);
    expect(due.send.map((e) => `${e.to} ${e.msg.type} ${'iid' in e.msg ? e.msg.iid : ''}`)).toEqual(['acceptors accept 1', 'acceptors prepare 2', 'acceptors prepare 3', 'acceptors prepare 4']);
  });

  it('leaves out an instance prepared and waiting for a value, and one backing off after a preemption', () => {
    const { p } = started({ preexecWindow: 2, backoffBaseMs: 500, backoffMaxMs: 1000 });
    const out = fx();
    // iid 1 promised by acceptors 0 and 1, no value to propose; iid 2 preempted by acceptor 0's higher ballot.
    p.receive(0, promise(0, 1, 12), out);
    p.receive(1, promise(1, 1, 12), out);
    p.receive(0, promise(0, 2, 13), out);
    // Backing off: its next prepare waits (a delay of 0 would have sent it at once).
    expect(msgs(out, 'prepare')).toEqual([]);
    expect(out.events.filter((e) => e.kind === 'preempted')).toHaveLength(1);
    const to2 = fx();
    p.acceptorConnected(2, to2);
    expect(to2.send).toEqual([]);
  });

  it('sends again at most once per timeout to each acceptor, and accepts of at most 4 MiB of values at once', () => {
    const { p } = started({ preexecWindow: 3 });
    const out = fx();
    const big = (fill: number) => new Uint8Array(3 << 20).fill(fill);
    for (const v of [big(1), big(2), enc('small')]) p.propose(v, out);
    for (let iid = 1; iid <= 3; iid++) promiseQuorum(p, iid, 12);
    const to2 = fx();
    p.acceptorConnected(2, to2);
    // The second 3 MiB value would pass 4 MiB: it waits for the timeout; the small one after it fits.
    // (Prepares go too: iids 4–6, opened as 1–3 left the window, are promised by nobody yet.)
    expect(msgs(to2, 'accept').map((m) => `${m.iid} ${m.value.length}`)).toEqual([`1 ${3 << 20}`, '3 5']);
    expect(msgs(to2, 'prepare').map((m) => m.iid)).toEqual([4, 5, 6]);
    const again = fx();
    p.acceptorConnected(2, again);
    p.tick(999, again);
    p.acceptorConnected(2, again);
    expect(again.send).toEqual([]);
    // A timeout later: the timeout resends to everyone, and a connection coming up gets its resend again.
    const later = fx();
    p.tick(1000, later);
    expect(msgs(later, 'accept').map((m) => m.iid)).toEqual([1, 2, 3]);
    const to2Later = fx();
    p.acceptorConnected(2, to2Later);
    expect(msgs(to2Later, 'accept').map((m) => m.iid)).toEqual([1, 3]);
  });

  it('a connection that brought nothing to send again leaves the next one its resend; a first accept over 4 MiB goes alone', () => {
    const { p } = started({ preexecWindow: 1 });
    const out = fx();
    promiseQuorum(p, 1, 12);
    p.receive(2, promise(2, 1, 12), out);
    // Everything promised by acceptor 2 and nothing in phase 2: nothing to send it.
    const idle = fx();
    p.acceptorConnected(2, idle);
    expect(idle.send).toEqual([]);
    // Within the same timeout, two values go into phase 2 (the second in iid 2, promised by 0 and 1 only).
    p.propose(new Uint8Array(5 << 20), out);
    p.propose(enc('small'), out);
    const second = promiseQuorum(p, 2, 12);
    expect([...msgs(out, 'accept'), ...msgs(second, 'accept')].map((m) => m.iid)).toEqual([1, 2]);
    const again = fx();
    p.acceptorConnected(2, again);
    expect(msgs(again, 'accept').map((m) => `${m.iid} ${m.value.length}`)).toEqual([`1 ${5 << 20}`]);
  });

  it('before its first tick a proposer has sent nothing, so it sends nothing again', () => {
    const p = new Proposer({ id: 2, acceptors: A, preexecWindow: 3, timeoutMs: 1000 });
    const out = fx();
    p.acceptorConnected(1, out);
    expect(out.send).toEqual([]);
  });
});

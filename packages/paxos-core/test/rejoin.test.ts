import { describe, expect, it } from 'vitest';
import { Acceptor, MAX_UINT32, Proposer, REJOIN_PENDING, Replica, ballotOf, encodeMasterOp, rejoinMargin, rejoinPoint } from '../src/index.js';
import { accepted, enc, fx, msgs, promise } from './helpers.js';

/** A proposer that does not lead (leadership on), campaigning with its claim: its first prepare. */
function campaigning() {
  const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 1, led: true });
  const out = fx();
  p.tick(0, out);
  const op = encodeMasterOp({ kind: 'claim', node: 0, leaseMs: 1000, version: 0, nonce: 1, openLimit: p.openLimit });
  p.proposeControl(op, out);
  const prepare = msgs(out, 'prepare').at(-1) as { iid: number; ballot: number };
  return { p, out, op, prepare };
}

describe('a replica that lost its storage rejoins', () => {
  it('waits for every other replica, then fences above the highest instance any holds plus the margin, and starts above every round promised', () => {
    const answers = [
      { highest: 500, maxBallot: ballotOf(7, 1) },
      { highest: 480, maxBallot: ballotOf(9, 2) },
    ];
    expect(rejoinPoint(answers.slice(0, 1), 2, 100)).toBeUndefined();
    expect(rejoinPoint(answers, 2, 100)).toEqual({ fence: 600, roundFloor: 10 });
    expect(rejoinPoint([{ highest: MAX_UINT32 - 5, maxBallot: 0 }], 1, 100)?.fence).toBe(MAX_UINT32 - 1);
  });

  it('a fenced acceptor takes no part at or below its fence, and answers above it', () => {
    const a = new Acceptor({ id: 0 }, { trimIid: 0, records: [], fence: 100 });
    const out = fx();
    a.receive(1, { type: 'prepare', iid: 100, ballot: 11 }, out);
    a.receive(1, { type: 'accept', iid: 50, ballot: 11, value: enc('x') }, out);
    expect(out.send).toEqual([]);
    expect(out.persist).toEqual([]);
    expect(out.events.map((e) => (e.kind === 'dropped' ? e.reason : e.kind))).toEqual(['fenced', 'fenced']);
    a.receive(1, { type: 'prepare', iid: 101, ballot: 11 }, out);
    expect(msgs(out, 'promise')).toHaveLength(1);
    expect(a.rejoinInfo).toEqual({ highest: 101, maxBallot: 11 });
    // A rejoin under way fences everything.
    const pending = new Acceptor({ id: 0 }, { trimIid: 0, records: [], fence: REJOIN_PENDING });
    const o2 = fx();
    pending.receive(1, { type: 'prepare', iid: 1_000_000, ballot: 11 }, o2);
    expect(o2.send).toEqual([]);
  });

  it("with leadership the fence covers a new leader's whole takeover: its window plus its phase-2 limit above the master operation", () => {
    // A leader opens nothing further than openLimit past its last decided instance, and a new one
    // runs phase 1 on every instance up to its master operation's instance plus the largest
    // openLimit announced, all at once: more than the window. Those prepares may have reached only
    // the acceptor that was then lost, so the fence must reach that far above what others hold.
    const window = 4;
    const maxAccepting = 2;
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: window, maxAccepting, led: true });
    const out = fx();
    p.tick(0, out);
    p.setInstanceId(10, out); // the master operation that made it leader, in instance 10
    out.send.length = 0;
    p.takeover(10 + p.openLimit, out);
    const prepared = msgs(out, 'prepare').map((m) => m.iid);
    expect(p.openLimit).toBe(rejoinMargin(window, maxAccepting, true));
    expect(Math.max(...prepared) - 10).toBe(rejoinMargin(window, maxAccepting, true));
    expect(Math.max(...prepared) - 10).toBeGreaterThan(rejoinMargin(window, maxAccepting, false));
  });

  it('a rejoined replica never campaigns at or below its fence, not even after leases of being behind; past it, it campaigns above it', () => {
    const lease = { leaseMs: 1000, marginMs: 100 };
    const r = new Replica({ id: 0, replicas: 3, proposer: { preexecWindow: 1 }, leadership: lease }, { proposer: { roundFloor: 10, fence: 100 } });
    const out = fx();
    // Instance 50 is in use (one acceptor's vote): behind, for ever (nobody fills 1..49 here).
    r.receive(1, accepted(1, 50, 21, enc('x')), out);
    for (let t = 0; t <= 5000; t += 10) r.tick(t, out);
    expect(msgs(out, 'prepare')).toEqual([]);
    // Once its learner is past the fence (the others filled it), it may campaign: above the fence.
    r.step({ kind: 'set-instance-id', iid: 100 }, out);
    for (let t = 5010; t <= 8000; t += 10) r.tick(t, out);
    const campaign = msgs(out, 'prepare');
    expect(campaign.length).toBeGreaterThan(0);
    expect(Math.min(...campaign.map((m) => m.iid))).toBe(101);
  });

  it('a campaign abandoned (another node took over) stops: no accept for the value its phase 1 found, none in the next instance', () => {
    const { p, prepare } = campaigning();
    p.abandonControl();
    expect(p.phase1Count).toBe(0);
    // Promises still arriving for it (one reporting a value an earlier leader had accepted) get
    // no accept: completing it is the new leader's, and the campaign does not move on.
    const later = fx();
    p.receive(1, promise(1, prepare.iid, prepare.ballot, 5, enc('v')), later);
    p.receive(2, promise(2, prepare.iid, prepare.ballot), later);
    p.tick(5000, later);
    expect(msgs(later, 'accept')).toEqual([]);
    expect(msgs(later, 'prepare')).toEqual([]);
  });

  // Another candidate won the instance our campaign is in. Stopping must not wait for the learner
  // to deliver the other's operation (LearningProposer's abandonControl): behind a gap in the
  // learner, the campaign would go on completing what its phase 1 finds, instance after instance,
  // preempting the new leader there.
  const theirs = (p: Proposer) => encodeMasterOp({ kind: 'claim', node: 1, leaseMs: 1000, version: 0, nonce: 7, openLimit: p.openLimit });

  it.each([
    ['another node\'s master operation', true],
    ['a client value', false],
  ] as const)('a campaign whose accepted instance chose %s stops there (true), or campaigns again (false), before its learner delivers it', (_, stops) => {
    const { p, out, op, prepare } = campaigning();
    p.receive(1, promise(1, prepare.iid, prepare.ballot), out);
    p.receive(2, promise(2, prepare.iid, prepare.ballot), out);
    expect(msgs(out, 'accept').map((m) => [m.iid, m.value])).toEqual([[prepare.iid, op]]);
    const value = stops ? theirs(p) : enc('v');
    const later = fx();
    p.receive(1, accepted(1, prepare.iid, ballotOf(9, 1), value), later);
    p.receive(2, accepted(2, prepare.iid, ballotOf(9, 1), value), later);
    p.tick(10, later);
    // Then the learner delivers that instance (to this proposer alone: no LearningProposer here).
    p.decided(prepare.iid, value, later);
    const prepares = msgs(later, 'prepare');
    expect(stops ? prepares : prepares.at(-1)?.iid).toEqual(stops ? [] : prepare.iid + 1);
    expect(p.phase1Count).toBe(stops ? 0 : 1);
  });

  it("a campaign whose instance chose another node's master operation while it was in phase 1 stops there too", () => {
    const { p, prepare } = campaigning();
    const later = fx();
    p.receive(1, accepted(1, prepare.iid, 5, theirs(p)), later);
    p.receive(2, accepted(2, prepare.iid, 5, theirs(p)), later);
    p.tick(10, later);
    p.decided(prepare.iid, theirs(p), later);
    expect(msgs(later, 'prepare')).toEqual([]);
    expect(p.phase1Count).toBe(0);
  });

  it("a stopped campaign still finishes its accepts in its instance when the other's operation was reported at a lower ballot (a stale quorum)", () => {
    const { p, out, prepare } = campaigning();
    p.receive(1, promise(1, prepare.iid, prepare.ballot), out);
    p.receive(2, promise(2, prepare.iid, prepare.ballot), out);
    const later = fx();
    p.receive(0, accepted(0, prepare.iid, 5, theirs(p)), later);
    p.receive(1, accepted(1, prepare.iid, 5, theirs(p)), later);
    // Kept, deciding the other's value, until its own ballot has a quorum; no new campaign.
    expect(p.phase2Count).toBe(1);
    p.tick(10, later);
    expect(msgs(later, 'prepare')).toEqual([]);
  });

  it('a campaign under way when the learner skips instances (a trim point, a checkpoint) is dropped, not carried above the skip', () => {
    const r = new Replica({ id: 0, replicas: 3, proposer: { preexecWindow: 1 }, leadership: { leaseMs: 1000, marginMs: 100 } });
    const out = fx();
    let t = 0;
    for (; t <= 3000 && msgs(out, 'prepare').length === 0; t += 10) r.tick(t, out);
    expect(msgs(out, 'prepare')).not.toEqual([]);
    // Skipped to instance 100, where another node may have led since (the jump waits a lease
    // before campaigning again, on what it then knows).
    const after = fx();
    r.step({ kind: 'set-instance-id', iid: 100 }, after);
    // The next instance decided (another node's value) moved the campaign on to instance 102.
    r.receive(1, accepted(1, 101, 21, enc('x')), after);
    r.receive(2, accepted(2, 101, 21, enc('x')), after);
    for (const end = t + 900; t <= end; t += 10) r.tick(t, after);
    expect(msgs(after, 'prepare')).toEqual([]);
    expect(msgs(after, 'accept')).toEqual([]);
  });

  it('a campaign that yielded to a higher ballot campaigns above it the next time (its owner may be gone for good)', () => {
    const { p, out, op, prepare: first } = campaigning();
    expect(first).toMatchObject({ iid: 1 });
    // A ballot of a proposer that lost its storage (and stays below its fence since): it yields…
    p.receive(1, promise(1, 1, ballotOf(250, 3)), out);
    expect(p.phase1Count).toBe(0);
    // …and campaigns above it the next time, instead of yielding to it for ever.
    const again = fx();
    p.proposeControl(op, again);
    const next = msgs(again, 'prepare');
    expect(next).toHaveLength(1);
    expect(next[0]?.iid).toBe(1);
    expect(next[0]?.ballot).toBeGreaterThan(ballotOf(250, 3));
  });
});

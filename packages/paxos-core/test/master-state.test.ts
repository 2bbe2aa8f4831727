import { describe, expect, it } from 'vitest';
import { Leadership, Learner, Replica, decodeMasterOp, encodeMasterOp, type MasterOp, type MasterState, type SnapshotRef } from '../src/index.js';
import { fx } from './helpers.js';

const lease = { leaseMs: 1000, marginMs: 100 };
const claim = (node: number, version: number, openLimit = 130): MasterOp => ({ kind: 'claim', node, leaseMs: 1000, version, nonce: version + 1, openLimit });

/** Node 0 that campaigned at 2000 and leads from the claim decided at instance 5 (its lease: until 2900). */
function leaderAt5(): { a: Leadership; out: ReturnType<typeof fx> } {
  const a = new Leadership(lease, 0, 1);
  const out = fx();
  a.tick(0, true, 130, out);
  const campaign = op(a.tick(2000, true, 130, out).propose);
  expect(campaign).toMatchObject({ kind: 'claim', node: 0, version: 0 });
  expect(a.learn(5, campaign, out)).toBe(true);
  return { a, out };
}

/** The master operation in a proposal (fails the test when there is none). */
function op(bytes: Uint8Array | undefined): MasterOp {
  const decoded = decodeMasterOp(bytes ?? new Uint8Array(0));
  expect(decoded).toBeDefined();
  return decoded as MasterOp;
}

describe("leadership's state as of an instance (what a checkpoint of that instance carries)", () => {
  it('is the state after the last master operation at or below it, effective or not', () => {
    const l = new Leadership(lease, 0, 1);
    const out = fx();
    l.tick(0, true, 0, out);
    expect(l.learn(5, claim(1, 0), out)).toBe(true);
    expect(l.learn(9, claim(1, 5, 140), out)).toBe(true);
    // Proposed on stale knowledge: decided, but void.
    expect(l.learn(12, claim(2, 3), out)).toBe(false);
    expect(l.stateAsOf(4)).toEqual({ lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 });
    expect(l.stateAsOf(8)).toEqual({ lastOp: 5, version: 5, master: 1, maxOpenLimit: 130 });
    expect(l.stateAsOf(11)).toEqual({ lastOp: 9, version: 9, master: 1, maxOpenLimit: 140 });
    expect(l.stateAsOf(30)).toEqual({ lastOp: 12, version: 9, master: 1, maxOpenLimit: 140 });
    expect(l.state()).toEqual(l.stateAsOf(30));
  });

  it('is unknown across a jump, until an operation takes effect again', () => {
    const l = new Leadership(lease, 0, 1);
    const out = fx();
    l.tick(0, true, 0, out);
    l.learn(5, claim(1, 0), out);
    l.jump(10, out);
    expect(l.state()).toBeUndefined();
    expect(l.stateAsOf(5)).toBeUndefined();
    // The first operation after the jump makes the last one known (enough to judge the next one)
    // but not the version: that stays unknown to a checkpoint.
    expect(l.learn(20, claim(2, 17), out)).toBe(false);
    expect(l.state()).toBeUndefined();
    expect(l.learn(25, claim(2, 20), out)).toBe(true);
    expect(l.state()).toEqual({ lastOp: 25, version: 25, master: 2, maxOpenLimit: 130 });
    expect(l.stateAsOf(24)).toBeUndefined();
    expect(l.stateAsOf(25)).toEqual(l.state());
  });

  it('is the log\'s after a jump even when the first operation to take effect again is a resignation', () => {
    // The leader's own resignation carries the openLimit it led with, as its claims do (it
    // carried 0, and a node judging again from it had maxOpenLimit 0: pnpm sim --seed 175 --leader on).
    const leader = new Leadership(lease, 1, 2);
    const out = fx();
    leader.tick(0, true, 130, out);
    const campaign = op(leader.tick(2000, true, 130, out).propose);
    expect(campaign.kind).toBe('claim');
    expect(leader.learn(5, campaign, out)).toBe(true);
    expect(leader.isLeader(2001)).toBe(true);
    const resignation = op(leader.resign(2001, 130, out));
    expect(resignation).toMatchObject({ kind: 'resign', node: 1, version: 5, openLimit: 130 });

    // A node that learned nothing before its jump: maxOpenLimit comes from the resignation alone.
    const l = new Leadership(lease, 0, 1);
    l.tick(0, true, 0, out);
    l.jump(10, out);
    expect(l.learn(20, claim(1, 17), out)).toBe(false);
    expect(l.learn(21, { ...resignation, version: 20 }, out)).toBe(true);
    expect(l.state()).toEqual({ lastOp: 21, version: 21, master: undefined, maxOpenLimit: 130 });
  });

  it('a resigned node holds off for three leases when nobody takes over, then campaigns again', () => {
    const { a, out } = leaderAt5();
    const resignation = op(a.resign(2001, 130, out));
    expect(a.learn(6, resignation, out)).toBe(true);
    // Nobody else claims: the first thing it proposes is its own campaign, three leases on (one,
    // before: on a loaded host the others' contest could outlast it, and it led again).
    let first: { at: number; op: MasterOp | undefined } | undefined;
    for (let t = 2010; t <= 7000 && first === undefined; t += 10) {
      const p = a.tick(t, true, 130, out).propose;
      if (p !== undefined) first = { at: t, op: decodeMasterOp(p) };
    }
    expect(first?.op).toMatchObject({ kind: 'claim', node: 0, version: 6 });
    expect(first?.at).toBeGreaterThanOrEqual(2001 + 3 * 1000);
    expect(first?.at).toBeLessThan(2001 + 3 * 1000 + 20);
  });

  it('a resigned node follows as usual once another node took over: it campaigns a lease after its successor\'s last claim', () => {
    const { a, out } = leaderAt5();
    const resignation = op(a.resign(2001, 130, out));
    expect(a.learn(6, resignation, out)).toBe(true);
    a.tick(2010, true, 130, out);
    // Node 1 takes over, and then is heard of no more.
    expect(a.learn(7, claim(1, 6), out)).toBe(true);
    a.tick(2020, true, 130, out);
    expect(a.tick(2900, true, 130, out).propose).toBeUndefined();
    // Its lease (1000 ms from the tick after the learn) is over well before the hold-off (3 leases
    // from the resignation) would be.
    const next = a.tick(3030, true, 130, out).propose;
    expect(op(next)).toMatchObject({ kind: 'claim', node: 0, version: 7 });
  });

  it('a resignation made void by a renewal decided first is proposed again within that renewal\'s lease, once at a time, and again when lost', () => {
    const { a, out } = leaderAt5();
    const renewal = op(a.tick(2340, true, 130, out).propose);
    expect(renewal).toMatchObject({ kind: 'claim', node: 0, version: 5 });
    const resignation = op(a.resign(2341, 130, out));
    // The renewal is decided first: it takes effect (the log names node 0 again, though it no
    // longer holds a lease), and the resignation, on the same version, is void.
    expect(a.learn(6, renewal, out)).toBe(true);
    expect(a.learn(7, resignation, out)).toBe(false);
    expect(a.isLeader(2345)).toBe(false);
    // Not while behind; then once; then not again while it is in flight...
    expect(a.tick(2350, false, 130, out).propose).toBeUndefined();
    const again = op(a.tick(2360, true, 130, out).propose);
    expect(again).toMatchObject({ kind: 'resign', node: 0, version: 7 });
    expect(a.tick(2370, true, 130, out).propose).toBeUndefined();
    // ...until half a lease passed without it being decided (lost).
    expect(op(a.tick(2860, true, 130, out).propose)).toMatchObject({ kind: 'resign', node: 0, version: 7 });
    expect(a.isLeader(2860)).toBe(false);
    // Never past the lease that renewal would have given it (2340 + 1000 − 100): another node may
    // lead by then, and a resignation chosen above its recovery breaks its lease reads.
    expect(a.tick(3400, true, 130, out).propose).toBeUndefined();
  });

  it('a first resignation that is lost goes out again within the lease the node held, and no later', () => {
    const { a, out } = leaderAt5();
    // Its lease: 2000 + 1000 − 100. The resignation never gets decided.
    expect(op(a.resign(2001, 130, out))).toMatchObject({ kind: 'resign', version: 5 });
    expect(a.tick(2010, true, 130, out).propose).toBeUndefined();
    expect(op(a.tick(2510, true, 130, out).propose)).toMatchObject({ kind: 'resign', node: 0, version: 5 });
    expect(a.tick(3020, true, 130, out).propose).toBeUndefined();
  });

  it('a node that restores a checkpoint while it resigns again forgets that resignation and its window', () => {
    const { a, out } = leaderAt5();
    const renewal = op(a.tick(2340, true, 130, out).propose);
    const resignation = op(a.resign(2341, 130, out));
    expect(a.learn(6, renewal, out)).toBe(true);
    expect(a.learn(7, resignation, out)).toBe(false);
    expect(a.tick(2360, true, 130, out).propose).toBeDefined();
    // Restored from a checkpoint (of a later instance, the log naming this node there): what is
    // in flight and the window it had belong to instances it skipped; it resigns no more (and
    // holds no lease). A jump forgets them the same way.
    a.restore({ lastOp: 20, version: 20, master: 0, maxOpenLimit: 130 }, 2400, out);
    for (let t = 2410; t < 3240; t += 10) expect(a.tick(t, true, 130, out).propose).toBeUndefined();
    expect(a.isLeader(3000)).toBe(false);
  });

  it('remembers only the last few operations: a checkpoint further behind carries none', () => {
    const l = new Leadership(lease, 0, 1);
    const out = fx();
    l.tick(0, true, 0, out);
    let last = 0;
    for (let iid = 10; iid <= 1000; iid += 10) {
      l.learn(iid, claim(1, last), out);
      last = iid;
    }
    expect(l.stateAsOf(995)?.lastOp).toBe(990);
    expect(l.stateAsOf(20)).toBeUndefined();
  });
});

describe('a node that continues from a checkpoint or an installed snapshot takes the leadership state it carries', () => {
  const master: MasterState = { lastOp: 40, version: 40, master: 2, maxOpenLimit: 130 };

  /** A replica that falls behind the trim and installs the checkpoint of instance 60 from peer 1. */
  function install(carried: MasterState | undefined): Replica {
    const r = new Replica({ id: 0, replicas: 3, learner: { snapshots: { offerWaitMs: 0 } }, leadership: lease });
    const out = fx();
    r.tick(0, out);
    r.receive(1, { type: 'acceptor_state', aid: 1, trimIid: 50 }, out);
    expect(out.snapshot.map((e) => e.kind)).toEqual(['query']);
    const ref: SnapshotRef = { iid: 60, size: 4, sum: Uint8Array.of(1, 2, 3, 4) };
    r.receiveSnapshot(1, { type: 'snapshot_offer', ...ref, reports: [], ...(carried !== undefined ? { master: carried } : {}) }, out);
    r.tick(10, out);
    r.snapshotIo({ kind: 'opened', ref, have: 4 }, out);
    r.snapshotIo({ kind: 'verified', ref, ok: true }, out);
    r.snapshotIo({ kind: 'installed', ref, ok: true }, out);
    expect(r.lastInstalled).toBe(60);
    return r;
  }

  it('a replica that installs a fetched snapshot knows the current master and version at once', () => {
    const r = install(master);
    expect(r.masterState()).toEqual(master);
    expect(r.leader(20)).toMatchObject({ id: 2, version: 40 });
    // The next master operation is judged against the restored one: a renewal by 2 takes effect.
    const out = fx();
    for (const aid of [1, 2]) r.receive(aid, { type: 'accepted', aid, iid: 61, ballot: 12, valueBallot: 12, value: encodeMasterOp(claim(2, 40)) }, out);
    expect(r.masterState()).toEqual({ lastOp: 61, version: 61, master: 2, maxOpenLimit: 130 });
  });

  it('without a state in the snapshot it knows it skipped master operations it cannot judge', () => {
    const r = install(undefined);
    expect(r.masterState()).toBeUndefined();
    expect(r.leader(20)).toBeUndefined();
  });

  it("restored before the first tick, the master's lease is counted from that tick, which reports the leader", () => {
    const r = new Replica({ id: 0, replicas: 3, leadership: lease });
    r.step({ kind: 'set-instance-id', iid: 60, master }, fx());
    // This process's clock reads 50,000 at its first tick: the lease counts from there, not from 0.
    const out = fx();
    r.tick(50_000, out);
    expect(out.events.filter((e) => e.kind === 'leader')).toEqual([{ kind: 'leader', id: 2, version: 40 }]);
    expect(r.leader(50_500)).toMatchObject({ id: 2, version: 40 });
    const later = fx();
    r.tick(50_600, later);
    // It does not campaign while master 2's lease may hold.
    expect(later.send.filter((e) => e.msg.type === 'prepare')).toEqual([]);
  });

  it('a replica and a following learner restarted from a checkpoint take its state through set-instance-id', () => {
    const r = new Replica({ id: 0, replicas: 3, leadership: lease });
    r.step({ kind: 'set-instance-id', iid: 60, master }, fx());
    expect(r.masterState()).toEqual(master);
    const l = new Learner({ acceptors: 3, leadership: lease });
    l.setInstanceId(60, fx(), master);
    expect(l.masterState()).toEqual(master);
    expect(l.masterStateAsOf(70)).toEqual(master);
    const blind = new Learner({ acceptors: 3, leadership: lease });
    blind.setInstanceId(60, fx());
    expect(blind.masterState()).toBeUndefined();
  });
});

describe('campaigns after a resignation', () => {
  it('a node whose campaign was in vain campaigns within a stagger of learning the leader resigned, not at the time that campaign set', () => {
    // Lease 1000 ms: a stagger is under (id + 2) × 100 ms; a campaign in vain puts the next one
    // half a lease and a stagger ahead (1,500–1,800 ms for node 1's at 900).
    const l = new Leadership(lease, 1, 1);
    const out = fx();
    l.tick(0, true, 130, out);
    const mine = op(l.tick(900, true, 130, out).propose);
    expect(mine).toMatchObject({ kind: 'claim', node: 1, version: 0 });
    // Node 0's claim is decided first, node 1's after it in vain.
    expect(l.learn(5, claim(0, 0), out)).toBe(true);
    expect(l.learn(6, mine, out)).toBe(false);
    l.tick(910, true, 130, out);
    // Node 0 resigns (its version: the last operation decided, node 1's void claim included).
    expect(l.learn(7, { kind: 'resign', node: 0, leaseMs: 0, version: 6, nonce: 9, openLimit: 130 }, out)).toBe(true);
    let campaignedAt: number | undefined;
    for (let t = 920; t <= 1400 && campaignedAt === undefined; t += 10) {
      if (l.tick(t, true, 130, out).propose !== undefined) campaignedAt = t;
    }
    expect(campaignedAt).toBeDefined();
    expect(campaignedAt).toBeLessThanOrEqual(910 + 300);
  });
});

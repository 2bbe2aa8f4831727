import { describe, expect, it } from 'vitest';
import {
  CheckpointSchedule,
  CheckpointTrim,
  DEFAULT_TRIM_REPORTERS,
  Learner,
  LearningProposer,
  Proposer,
  Replica,
  decodeBatch,
  decodeCheckpointReport,
  decodeMasterOp,
  encodeBatch,
  encodeCheckpointReport,
  isCheckpointReport,
  isMasterOp,
  isNoop,
} from '../src/index.js';
import { accepted, enc, fx, msgs, promise } from './helpers.js';

function decide(l: Learner, iid: number, value: Uint8Array) {
  const out = fx();
  for (const aid of [0, 1]) l.receive(aid, accepted(aid, iid, 11, value), out);
  return out;
}

describe('checkpoint reports (values in the log)', () => {
  it('round-trip, and are neither a no-op, a master operation nor a batch', () => {
    const v = encodeCheckpointReport({ node: 7, iid: 123_456 });
    expect(decodeCheckpointReport(v)).toEqual({ node: 7, iid: 123_456 });
    expect(isCheckpointReport(v)).toBe(true);
    expect(isNoop(v) || isMasterOp(v) || decodeMasterOp(v) !== undefined || decodeBatch(v) !== undefined).toBe(false);
    // LibPaxos3's client payload with client id −3: C learners read it as someone else's value.
    expect([...v.subarray(0, 4)]).toEqual([0xfd, 0xff, 0xff, 0xff]);
    expect(String.fromCharCode(...v.subarray(32, 42))).toBe('paxos-ckpt');
    expect(isCheckpointReport(enc('paxos-ckpt'))).toBe(false);
  });

  it('a learner never delivers one, with or without batching, but decides it', () => {
    for (const batched of [false, true]) {
      const l = new Learner({ acceptors: 3, batched });
      const report = encodeCheckpointReport({ node: 1, iid: 5 });
      const out = decide(l, 1, report);
      expect(out.deliver).toEqual([]);
      expect(l.lastDecided).toEqual([{ iid: 1, value: report }]);
      expect(l.nextIid).toBe(2);
    }
  });

  it('a proposer with batching puts a report alone in its instance, never inside a batch', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 4, batchMaxValues: 16, maxAccepting: 1 });
    const out = fx();
    p.tick(0, out);
    const report = encodeCheckpointReport({ node: 0, iid: 9 });
    p.propose(enc('a'), out);
    p.propose(report, out);
    p.propose(enc('b'), out);
    for (const iid of [1, 2, 3, 4]) for (const aid of [0, 1]) p.receive(aid, promise(aid, iid, 10), out);
    // One instance in phase 2 at a time: each accept is chosen before the next goes out.
    for (let iid = 1; iid <= 3; iid++) {
      const acc = msgs(out, 'accept').find((m) => m.iid === iid);
      expect(acc, `accept for instance ${iid}`).toBeDefined();
      for (const aid of [0, 1]) p.receive(aid, accepted(aid, iid, 10, acc?.value ?? enc('')), out);
    }
    const values = msgs(out, 'accept').map((m) => m.value);
    expect(values.some((v) => isCheckpointReport(v))).toBe(true);
    expect(values).toHaveLength(3);
    expect(values.map((v) => (isCheckpointReport(v) ? 'report' : decodeBatch(v)?.length))).toEqual([1, 'report', 1]);
    for (const v of values) {
      if (isCheckpointReport(v)) continue;
      expect(decodeBatch(v)?.some((e) => isCheckpointReport(e))).toBe(false);
    }
  });
});

describe('trim by the lowest checkpoint', () => {
  it('is hold instances below the lowest report of every reporter, and never goes down', () => {
    const t = new CheckpointTrim(100);
    expect(t.report(0, 1000)).toBeUndefined(); // one reporter: the first trim waits for a second
    expect(t.report(1, 500)).toBe(400);
    expect(t.report(1, 300)).toBeUndefined(); // its disk was replaced: lowest 300, the trim stays at 400
    expect(t.report(1, 2000)).toBe(900); // lowest back to 1000
    expect(t.report(0, 3000)).toBe(1900); // lowest 2000
    expect(t.report(2, 50)).toBeUndefined(); // a new reporter far behind holds the trim
    expect(t.trimIid).toBe(1900);
    expect(t.lowest()).toBe(50);
  });

  it('waits for reports of two nodes, so that one lost disk cannot leave the trim past every checkpoint held', () => {
    // Sim seed 375 (split mode): node 1 reported a checkpoint of 44 and then lost its disk; node 0
    // held only a checkpoint of 1, its report not yet decided. Trimming on node 1's report alone
    // (to 41) left no checkpoint at or above the trim anywhere.
    const single = new CheckpointTrim(3, 1);
    expect(single.report(1, 44)).toBe(41);
    const t = new CheckpointTrim(3);
    expect(t.reporters).toBe(DEFAULT_TRIM_REPORTERS);
    expect(t.report(1, 44)).toBeUndefined();
    expect(t.report(1, 60)).toBeUndefined(); // still one reporter, however often
    expect(t.trimIid).toBe(0);
    expect(t.report(0, 1)).toBeUndefined(); // lowest 1: nothing to trim below it
    expect(t.report(0, 50)).toBe(47); // both reported: each holds a checkpoint ≥ 47
    // Three reporters required: two are not enough.
    const three = new CheckpointTrim(0, 3);
    three.report(0, 10);
    expect(three.report(1, 20)).toBeUndefined();
    expect(three.report(2, 30)).toBe(10);
    expect(() => new CheckpointTrim(0, 0)).toThrow(/reporters/);
  });

  it('counts reports only from the nodes it is told exist: a report-shaped value from anyone else neither makes the second reporter nor holds the trim back', () => {
    const t = new CheckpointTrim(0, 2, 3);
    expect(t.report(0, 100)).toBeUndefined();
    expect(t.report(7, 500)).toBeUndefined(); // node 7 does not exist: still one reporter
    expect(t.report(-1, 1)).toBeUndefined();
    expect([...t.reported.keys()]).toEqual([0]);
    expect(t.report(2, 200)).toBe(100);
    t.restore([[0, 300], [9, 1], [2, 400]], 50);
    expect([...t.reported.keys()]).toEqual([0, 2]);
    // A replica tells its learner its replica count.
    const r = new Replica({ id: 0, replicas: 3, learner: { checkpointTrim: { hold: 0 } } });
    expect(r.learner.checkpointTrim?.nodes).toBe(3);
  });

  it('a node reports a checkpoint only when its report can move the trim: first, going down, or from the lowest', () => {
    const t = new CheckpointTrim(0);
    t.report(0, 100);
    t.report(1, 200);
    expect(t.wantsReport(2, 50)).toBe(true); // never reported
    expect(t.wantsReport(0, 300)).toBe(true); // holds the trim back at 100
    expect(t.wantsReport(1, 300)).toBe(false); // above the lowest: the trim cannot pass 100 anyway
    expect(t.wantsReport(1, 150)).toBe(true); // its disk was replaced: lower than it said
    expect(t.wantsReport(0, 100)).toBe(false); // nothing new
    t.report(0, 300);
    expect(t.wantsReport(1, 400)).toBe(true); // now the lowest
  });

  it('a learner that trims by checkpoints asks every acceptor to trim when a report raises the point', () => {
    const l = new Learner({ acceptors: 3, checkpointTrim: { hold: 10 } });
    let out = decide(l, 1, encodeCheckpointReport({ node: 0, iid: 50 }));
    expect(msgs(out, 'trim')).toEqual([]); // one reporter: waits for a second, and says so
    expect(out.events).toContainEqual({ kind: 'checkpoint-trim-waiting', iid: 1, reporters: 1, needed: 2 });
    out = decide(l, 2, encodeCheckpointReport({ node: 1, iid: 30 }));
    expect(msgs(out, 'trim')).toEqual([{ type: 'trim', iid: 20 }]);
    expect(out.events).toContainEqual({ kind: 'checkpoint-trim', iid: 2, lowest: 30, trimIid: 20 });
    out = decide(l, 3, encodeCheckpointReport({ node: 1, iid: 80 }));
    expect(msgs(out, 'trim')).toEqual([{ type: 'trim', iid: 40 }]); // lowest is node 0's 50
    out = decide(l, 4, encodeCheckpointReport({ node: 0, iid: 60 }));
    expect(msgs(out, 'trim')).toEqual([{ type: 'trim', iid: 50 }]);
    expect(out.events.filter((e) => e.kind === 'checkpoint-trim-waiting')).toEqual([]);
    // One reporter is enough when the learner is told so, and by default with a single acceptor.
    const told = new Learner({ acceptors: 3, checkpointTrim: { hold: 10, reporters: 1 } });
    expect(msgs(decide(told, 1, encodeCheckpointReport({ node: 0, iid: 50 })), 'trim')).toEqual([{ type: 'trim', iid: 40 }]);
    const single = new Learner({ acceptors: 1, checkpointTrim: { hold: 10 } });
    expect(msgs(decide(single, 1, encodeCheckpointReport({ node: 0, iid: 50 })), 'trim')).toEqual([{ type: 'trim', iid: 40 }]);
    // A learner without the option only skips reports.
    const plain = new Learner({ acceptors: 3 });
    expect(msgs(decide(plain, 1, encodeCheckpointReport({ node: 0, iid: 50 })), 'trim')).toEqual([]);
  });
});

describe('checkpoint reports are replicated state, carried by checkpoints', () => {
  it('reportsAsOf gives each reporter’s latest report decided at or before an instance', () => {
    const t = new CheckpointTrim(0);
    t.report(0, 100, 5);
    t.report(1, 90, 7);
    t.report(0, 200, 12);
    expect(t.reportsAsOf(4)).toEqual([]);
    expect(t.reportsAsOf(7)).toEqual([
      [0, 100],
      [1, 90],
    ]);
    expect(t.reportsAsOf(12)).toEqual([
      [0, 200],
      [1, 90],
    ]);
  });

  it('a learner restarted from a checkpoint trims knowing the reporters decided before it', () => {
    // Without the checkpoint's reports, node 1's low report (decided before the restart point)
    // would be forgotten and the trim would pass it.
    const l = new Learner({ acceptors: 3, checkpointTrim: { hold: 0 } });
    l.setInstanceId(20);
    l.restoreReports([[1, 30]], 20);
    const out = decide(l, 21, encodeCheckpointReport({ node: 0, iid: 80 }));
    expect(msgs(out, 'trim')).toEqual([{ type: 'trim', iid: 30 }]);
  });
});

describe('checkpoint schedule', () => {
  it('a checkpoint a peer asks for is taken at the decided prefix, even when nothing was applied since the last one', () => {
    const s = new CheckpointSchedule({ instances: 100, intervalMs: 60_000 }, 560, 0);
    // Idle: the last client value was in 560; master operations and no-ops run on to 1428.
    expect(s.next(560, 1000, 1428)).toBeUndefined();
    s.want(563); // a peer stuck at 563 (the votes it needs are gone) asks for one at least that new
    expect(s.next(560, 1001, 562)).toBeUndefined(); // not decided that far yet
    expect(s.next(560, 1002, 1428)).toBe(1428);
    s.written(1428, 1003);
    expect(s.next(560, 1004, 1500)).toBeUndefined(); // served: nothing more wanted
  });

  it('every N instances or T ms, one write at a time, only when something was applied', () => {
    const s = new CheckpointSchedule({ instances: 100, intervalMs: 1000 }, 0, 0);
    expect(s.next(99, 10)).toBeUndefined();
    expect(s.next(100, 20)).toBe(100);
    expect(s.next(500, 30)).toBeUndefined(); // one at a time
    s.written(100, 40);
    expect(s.next(150, 500)).toBeUndefined();
    expect(s.next(150, 1040)).toBe(150); // by time
    s.failed();
    expect(s.next(150, 1041)).toBe(150); // a failed write is tried again
    s.written(150, 1050);
    expect(s.next(150, 99_999)).toBeUndefined(); // nothing applied since: an idle cluster stops
    expect(s.lastIid).toBe(150);
  });
});

describe('split-mode learning proposer restarts where it had learned to', () => {
  it('writes a learned record at most once a second and starts after it when recovered', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 2 });
    const out = fx();
    lp.tick(0, out);
    for (let iid = 1; iid <= 5; iid++) for (const aid of [0, 1]) lp.receive(aid, accepted(aid, iid, 11, enc(`v${iid}`)), out);
    lp.tick(10, out);
    expect(out.persist.filter((r) => r.kind === 'learned')).toEqual([{ kind: 'learned', iid: 5 }]);
    for (const aid of [0, 1]) lp.receive(aid, accepted(aid, 6, 11, enc('v6')), out);
    lp.tick(500, out);
    expect(out.persist.filter((r) => r.kind === 'learned')).toHaveLength(1);
    lp.tick(1010, out);
    expect(out.persist.filter((r) => r.kind === 'learned').at(-1)).toEqual({ kind: 'learned', iid: 6 });

    const again = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 2 }, { roundFloor: 100, learned: 6 });
    expect(again.learner.nextIid).toBe(7);
    const out2 = fx();
    again.tick(0, out2);
    // Its window opens after what it learned, not at instance 1.
    expect(msgs(out2, 'prepare').map((m) => m.iid)).toEqual([7, 8]);
  });

  it('a replica ignores learned (its application decides where to start)', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3, deliver: true }, { roundFloor: 0, learned: 6 });
    expect(lp.learner.nextIid).toBe(1);
    const out = fx();
    lp.tick(0, out);
    lp.tick(5000, out);
    expect(out.persist.filter((r) => r.kind === 'learned')).toEqual([]);
  });

  it('with batching a report is skipped inside no batch because it never is in one', () => {
    const l = new Learner({ acceptors: 3, batched: true });
    const out = decide(l, 1, encodeBatch([enc('x'), enc('y')]));
    expect(out.deliver.map((d) => d.index)).toEqual([0, 1]);
  });
});

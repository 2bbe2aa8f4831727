import { describe, expect, it } from 'vitest';
import { NOOP, encodeBatch, encodeCheckpointReport, encodeMasterOp, type AcceptorRecord, type Message } from '@libpaxos/paxos-core';
import { Checker, makeValue, type Sender } from '../src/index.js';
import { controlDisagreement, isNoopValue, masterOpOf, ownControlKind, unpackBatch } from '../src/oracle-values.js';

const rec = (iid: number, ballot: number, valueBallot: number, value: Uint8Array, earlierBallots?: number[]): AcceptorRecord => ({
  kind: 'record',
  iid,
  ballot,
  valueBallot,
  value,
  ...(earlierBallots ? { earlierBallots } : {}),
});
const acceptor = (aid: number): Sender => ({ kind: 'acceptor', name: `acceptor ${aid}`, incarnation: 1, aid });
const proposer: Sender = { kind: 'proposer', name: 'proposer 0', incarnation: 1 };
const empty = new Uint8Array(0);

function checker(batched = false): Checker {
  return new Checker({ quorum: 2, batched });
}

/** A proposer's accept, then the durable writes of `aids` accepting it (records at that promise). */
function acceptAndWrite(c: Checker, iid: number, ballot: number, value: Uint8Array, aids: number[], earlier?: number[]): void {
  c.sent(proposer, { type: 'accept', iid, ballot, value });
  for (const aid of aids) c.durableWrite(aid, rec(iid, ballot, ballot, value, earlier));
}

function accepted(c: Checker, aid: number, iid: number, ballot: number, valueBallot: number, value: Uint8Array): void {
  c.sent(acceptor(aid), { type: 'accepted', aid, iid, ballot, valueBallot, value });
}

const v = makeValue(0, 1, 0);
const w = makeValue(0, 2, 3);
const x = makeValue(1, 7, 1);

describe('checker: votes come from durable writes only', () => {
  it('chooses a value when a quorum has durable votes for the same bytes under one ballot', () => {
    const c = checker();
    c.submittedValue(v);
    acceptAndWrite(c, 1, 11, v, [0]);
    expect(c.chosen.get(1)).toBeUndefined();
    acceptAndWrite(c, 1, 21, v, [1]);
    expect(c.chosen.get(1), 'votes under different ballots are no quorum').toBeUndefined();
    acceptAndWrite(c, 1, 11, v, [2]);
    expect(c.chosen.get(1)).toEqual(v);
    expect(c.violations).toEqual([]);
  });

  it('counts no vote for accepted messages, however many say so', () => {
    const c = checker();
    c.submittedValue(v);
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    for (const aid of [0, 1, 2]) accepted(c, aid, 1, 11, 11, v);
    expect(c.chosen.get(1)).toBeUndefined();
    expect(c.violations.join()).toMatch(/acceptor 0 sent accepted\(iid 1, ballot 11, value ballot 11\), but it never durably accepted anything under ballot 11/);
  });

  it('counts no vote for earlier ballots a record claims without a durable accept under them', () => {
    const c = checker();
    c.submittedValue(v);
    acceptAndWrite(c, 1, 11, v, [1]);
    // Acceptor 0 claims it accepted v under 11 before 21, but its disk never held ballot 11.
    acceptAndWrite(c, 1, 21, v, [0], [11]);
    expect(c.chosen.get(1)).toBeUndefined();
    accepted(c, 0, 1, 11, 11, v);
    expect(c.violations.join()).toMatch(/acceptor 0 sent accepted\(iid 1, ballot 11, value ballot 11\), but it never durably accepted/);
  });

  it('accepts repeats of earlier votes that were durable, and the current one', () => {
    const c = checker();
    c.submittedValue(v);
    acceptAndWrite(c, 1, 11, v, [0]);
    acceptAndWrite(c, 1, 21, v, [0], [11]);
    accepted(c, 0, 1, 11, 11, v);
    accepted(c, 0, 1, 21, 21, v);
    expect(c.violations).toEqual([]);
  });

  it('refuses an accepted whose bytes differ from the durable vote under that ballot', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0]);
    accepted(c, 0, 1, 11, 11, w);
    expect(c.violations.join()).toMatch(/acceptor 0 sent accepted\(iid 1, ballot 11, value ballot 11\) with bytes other than those it durably accepted under ballot 11/);
  });

  it('refuses an accepted whose ballot claims more than the durable promise', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0]);
    accepted(c, 0, 1, 31, 11, v);
    expect(c.violations.join()).toMatch(/acceptor 0 sent accepted\(iid 1, ballot 31, value ballot 11\) claiming more than its durable promise 11/);
  });

  it('refuses an acceptor message from another node or in another acceptor\'s name', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0]);
    c.sent(acceptor(1), { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: v });
    expect(c.violations.join()).toMatch(/acceptor 1 sent accepted in the name of acceptor 0/);
    const d = checker();
    acceptAndWrite(d, 1, 11, v, [0]);
    d.sent(proposer, { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: v });
    expect(d.violations.join()).toMatch(/proposer 0 sent accepted, which only acceptors send/);
  });

  it('notices two values chosen for one instance', () => {
    const c = checker();
    c.submittedValue(v);
    c.submittedValue(w);
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    expect(c.chosen.get(1)).toEqual(v);
    acceptAndWrite(c, 1, 22, w, [1, 2]);
    expect(c.violations.join()).toMatch(/iid 1: two different values chosen \(ballot 11 and ballot 22\)/);
  });

  it('notices one value chosen in two instances', () => {
    const c = checker();
    c.submittedValue(v);
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    acceptAndWrite(c, 2, 11, v, [0, 1]);
    expect(c.violations.join()).toMatch(/value c0#1 was chosen twice, in iid 1 and iid 2/);
  });

  it('notices a chosen client value whose bytes differ from what its client submitted', () => {
    const c = checker();
    c.submittedValue(w);
    const mangled = Uint8Array.of(...w, 0);
    acceptAndWrite(c, 1, 11, mangled, [0, 1]);
    expect(c.violations.join()).toMatch(/iid 1 chose value c0#2 with bytes other than its client submitted/);
  });

  it('notices a chosen value no client submitted', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    expect(c.violations.join()).toMatch(/iid 1 chose a value no client submitted/);
  });

  it('notices a durable vote for bytes no proposer sent under that ballot', () => {
    const c = checker();
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    c.durableWrite(0, rec(1, 11, 11, w));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durably accepted, under ballot 11, a value no proposer sent under that ballot/);
  });
});

describe('checker: acceptor rules on durable state', () => {
  it('notices a durable promise going down', () => {
    const c = checker();
    c.durableWrite(0, rec(1, 30, 0, empty));
    c.durableWrite(0, rec(1, 20, 0, empty));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durable promise went down from 30 to 20/);
  });

  it('notices a vote below the durable promise (the promise kept, the accept let through)', () => {
    const c = checker();
    c.durableWrite(0, rec(1, 30, 0, empty));
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 20, value: v });
    c.durableWrite(0, rec(1, 30, 20, v));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durably accepted ballot 20 below its durable promise 30/);
  });

  it('notices one acceptor durably accepting two values under one ballot', () => {
    const c = checker();
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    c.durableWrite(0, rec(1, 11, 11, v));
    c.durableWrite(0, rec(1, 11, 11, w));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durably accepted two different values under ballot 11/);
  });

  it('notices a record accepting a ballot above its own promise', () => {
    const c = checker();
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 21, value: v });
    c.durableWrite(0, rec(1, 11, 21, v));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durable record accepts ballot 21 above its own promise 11/);
  });

  it('notices two acceptors durably holding different values under one ballot', () => {
    const c = checker();
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    c.durableWrite(0, rec(1, 11, 11, v));
    c.durableWrite(1, rec(1, 11, 11, w));
    expect(c.violations.join()).toMatch(/iid 1: acceptors durably accepted two different values under ballot 11/);
  });

  it('notices a durable value ballot going down', () => {
    const c = checker();
    acceptAndWrite(c, 1, 21, v, [0]);
    c.durableWrite(0, rec(1, 21, 0, empty));
    expect(c.violations.join()).toMatch(/acceptor 0 iid 1: durable value ballot went down from 21 to 0/);
  });

  it('notices a promise sent before it was durable', () => {
    const c = checker();
    c.sent(acceptor(0), { type: 'promise', aid: 0, iid: 1, ballot: 11, valueBallot: 0, value: empty });
    expect(c.violations.join()).toMatch(/acceptor 0 sent promise\(iid 1, ballot 11, value ballot 0\) before it was durable/);
  });

  it('notices a promise reporting a vote that was never durable', () => {
    const c = checker();
    c.durableWrite(0, rec(1, 31, 0, empty));
    c.sent(acceptor(0), { type: 'promise', aid: 0, iid: 1, ballot: 31, valueBallot: 21, value: v });
    expect(c.violations.join()).toMatch(/promise\(iid 1, ballot 31, value ballot 21\) reporting a vote that matches none of its durable writes/);
  });

  it('notices a promise hiding a durable vote below it', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0]);
    acceptAndWrite(c, 1, 21, w, [0]);
    c.durableWrite(0, rec(1, 31, 21, w));
    c.sent(acceptor(0), { type: 'promise', aid: 0, iid: 1, ballot: 31, valueBallot: 21, value: w });
    expect(c.violations).toEqual([]);
    c.sent(acceptor(0), { type: 'promise', aid: 0, iid: 1, ballot: 31, valueBallot: 11, value: v });
    expect(c.violations.join()).toMatch(/promise\(iid 1, ballot 31, value ballot 11\) hiding its durable vote under ballot 21/);
  });

  it('notices a promise or accepted whose value ballot is above its ballot', () => {
    const c = checker();
    acceptAndWrite(c, 1, 21, v, [0]);
    c.sent(acceptor(0), { type: 'promise', aid: 0, iid: 1, ballot: 11, valueBallot: 21, value: v });
    expect(c.violations.join()).toMatch(/promise\(iid 1, ballot 11, value ballot 21\): value ballot above the promise/);
    accepted(c, 0, 1, 11, 21, v);
    expect(c.violations.join()).toMatch(/accepted\(iid 1, ballot 11, value ballot 21\): ballot below the value ballot/);
  });

  it('notices an acceptor sending what only proposers and learners send', () => {
    const c = checker();
    c.sent(acceptor(0), { type: 'prepare', iid: 1, ballot: 11 });
    expect(c.violations.join()).toMatch(/acceptor 0 sent prepare, which acceptors never send/);
  });

  it('notices a preempted claiming a promise that is not durable', () => {
    const c = checker();
    c.durableWrite(0, rec(1, 21, 0, empty));
    c.sent(acceptor(0), { type: 'preempted', aid: 0, iid: 1, ballot: 21 });
    expect(c.violations).toEqual([]);
    c.sent(acceptor(0), { type: 'preempted', aid: 0, iid: 1, ballot: 41 });
    expect(c.violations.join()).toMatch(/sent preempted\(iid 1, ballot 41\) claiming more than its durable promise 21/);
  });

  it('notices one ballot used for two values', () => {
    const c = checker();
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: w });
    expect(c.violations.join()).toMatch(/ballot 11 was used for two different values/);
  });

  it('notices a ballot used again by a restarted proposer (B2), also in a prepare', () => {
    const c = checker();
    c.sent(proposer, { type: 'prepare', iid: 1, ballot: 11 });
    c.sent(proposer, { type: 'accept', iid: 1, ballot: 11, value: v });
    c.sent(proposer, { type: 'prepare', iid: 2, ballot: 11 });
    expect(c.violations).toEqual([]);
    c.sent({ ...proposer, incarnation: 2 }, { type: 'prepare', iid: 1, ballot: 11 });
    expect(c.violations.join()).toMatch(/iid 1: ballot 11 was used by proposer 0 \(incarnation 1\) and again by proposer 0 \(incarnation 2\)/);
  });

  it('notices a ballot outside uint32', () => {
    const c = checker();
    c.sent(proposer, { type: 'prepare', iid: 1, ballot: 2 ** 32 } satisfies Message);
    expect(c.violations.join()).toMatch(/outside uint32/);
  });
});

describe('checker: decisions', () => {
  it('notices out-of-order, unchosen and wrong decisions', () => {
    const c = checker();
    c.submittedValue(v);
    c.submittedValue(w);
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    c.decided('learner 0', 1, 1, v);
    expect(c.ok).toBe(true);
    c.decided('learner 0', 2, 3, w);
    expect(c.violations.join()).toMatch(/decided iid 3 but the next in order is 2/);
    expect(c.violations.join()).toMatch(/decided iid 3, for which no value was chosen/);
    acceptAndWrite(c, 2, 11, w, [0, 1]);
    c.decided('learner 1', 2, 2, x);
    expect(c.violations.join()).toMatch(/learner 1 decided iid 2 with a value other than the chosen one/);
  });
});

describe('checker: what applications receive', () => {
  /** Chooses `values` (one Paxos value each) in instances 1, 2, … */
  function chosenLog(batched: boolean, ...values: Uint8Array[]): Checker {
    const c = checker(batched);
    values.forEach((value, i) => {
      for (const e of c.clientValues(value)) c.submittedValue(e);
      acceptAndWrite(c, i + 1, 11, value, [0, 1]);
    });
    return c;
  }

  it('accepts every batch position in order, skipping chosen no-ops', () => {
    const c = chosenLog(true, encodeBatch([v, w]), NOOP, encodeBatch([x]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.deliver({ iid: 1, index: 1, value: w });
    s.settle(2);
    s.deliver({ iid: 3, index: 0, value: x });
    s.settle(3);
    expect(c.violations).toEqual([]);
    expect([...c.delivered].length).toBe(3);
  });

  it('notices element 0 delivered for every position', () => {
    const c = chosenLog(true, encodeBatch([v, w]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.deliver({ iid: 1, index: 1, value: v });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 1 position 1 with bytes other than the chosen value's element 1/);
    expect(c.violations.join()).toMatch(/delivered value c0#1 a second time/);
  });

  it('notices positions out of order', () => {
    const c = chosenLog(true, encodeBatch([v, w]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 1, value: w });
    expect(c.violations.join()).toMatch(/learner 0 began iid 1 at position 1 instead of 0/);
  });

  it('notices a jump to the next instance in the middle of a batch', () => {
    const c = chosenLog(true, encodeBatch([v, w]), encodeBatch([x]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.deliver({ iid: 2, index: 0, value: x });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 2 position 0 while position 1 of iid 1 was next/);
  });

  it('notices a delivered value no client submitted, even when it was chosen', () => {
    const c = checker();
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    c.openStream('learner 0', 0).deliver({ iid: 1, index: 0, value: v });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 1 position 0: a value no client submitted/);
  });

  it('notices a skipped instance that chose client values', () => {
    const c = chosenLog(false, v, w);
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 2, index: 0, value: w });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 2 without delivering iid 1, which chose client values/);
  });

  it('notices a skipped instance for which nothing was chosen yet', () => {
    const c = checker();
    c.submittedValue(w);
    acceptAndWrite(c, 2, 11, w, [0, 1]);
    c.openStream('learner 0', 0).deliver({ iid: 2, index: 0, value: w });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 2 without delivering iid 1, for which nothing was chosen/);
  });

  it('notices a delivery where nothing was chosen, or where a no-op was', () => {
    const c = chosenLog(false, NOOP);
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    expect(c.violations.join()).toMatch(/delivered iid 1 position 0, but iid 1 chose a control value/);
    const d = chosenLog(false);
    d.submittedValue(v);
    d.openStream('learner 0', 0).deliver({ iid: 1, index: 0, value: v });
    expect(d.violations.join()).toMatch(/delivered iid 1, for which no value was chosen by a quorum/);
  });

  it('notices a decided instance its application never received', () => {
    const c = chosenLog(false, v);
    const s = c.openStream('learner 0', 0);
    s.settle(1);
    expect(c.violations.join()).toMatch(/learner 0 decided up to iid 1 without delivering iid 1, which chose client values/);
  });

  it('notices deliveries beyond what was decided, and half-delivered batches', () => {
    const c = chosenLog(true, encodeBatch([v, w]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.settle(1);
    expect(c.violations.join()).toMatch(/learner 0 stopped before position 1 of iid 1, which has 2 values to deliver/);
    const d = chosenLog(false, v);
    const t = d.openStream('learner 0', 0);
    t.deliver({ iid: 1, index: 0, value: v });
    t.settle(0);
    expect(d.violations.join()).toMatch(/learner 0 delivered iid 1 but decided only up to iid 0/);
  });

  it('notices an instance delivered again in one incarnation, and allows it in the next', () => {
    const c = chosenLog(false, v);
    const s = c.openStream('learner 0 (incarnation 1)', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    c.openStream('learner 0 (incarnation 2)', 0).deliver({ iid: 1, index: 0, value: v });
    expect(c.violations).toEqual([]);
    s.deliver({ iid: 1, index: 0, value: v });
    expect(c.violations.join()).toMatch(/learner 0 \(incarnation 1\) delivered iid 1 position 0 again/);
  });

  it('notices a client value twice in one incarnation, even inside one batch', () => {
    const c = chosenLog(true, encodeBatch([v, v]));
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.deliver({ iid: 1, index: 1, value: v });
    expect(c.violations.join()).toMatch(/learner 0 delivered value c0#1 a second time \(iid 1 position 1\)/);
  });

  it('starts where the incarnation starts', () => {
    const c = chosenLog(false, v, w);
    const s = c.openStream('learner 0', 1);
    s.deliver({ iid: 2, index: 0, value: w });
    s.settle(2);
    expect(c.violations).toEqual([]);
  });

  it('skips a control value inside a batch at its position, as learners do, and flags the batch', () => {
    const c = chosenLog(true, encodeBatch([v, NOOP, w]));
    expect(c.violations.join()).toMatch(/iid 1 chose a batch holding a control value/);
    const s = c.openStream('learner 0', 0);
    s.deliver({ iid: 1, index: 0, value: v });
    s.deliver({ iid: 1, index: 2, value: w });
    s.settle(1);
    expect(c.violations).toHaveLength(1);
    s.deliver({ iid: 1, index: 1, value: NOOP });
    expect(c.violations.join()).toMatch(/learner 0 delivered iid 1 position 1 again/);
  });

  it('notices a chosen value that is not a batch when batching is on', () => {
    const c = checker(true);
    c.submittedValue(v);
    acceptAndWrite(c, 1, 11, v, [0, 1]);
    expect(c.violations.join()).toMatch(/iid 1 chose a value that is not a well-formed batch although batching is on/);
  });
});

describe('checker: every lost value accounted for', () => {
  it('counts values held at a crash or reported lost, and flags the rest at the end of a complete run', () => {
    const c = checker(true);
    const values = [0, 1, 2, 3, 4].map((seq) => makeValue(0, seq, 2));
    for (const value of values) c.submittedValue(value);
    acceptAndWrite(c, 1, 11, encodeBatch([values[0] as Uint8Array]), [0, 1]);
    c.openStream('learner 0', 0).deliver({ iid: 1, index: 0, value: values[0] as Uint8Array });
    c.heldAtCrash(values[1] as Uint8Array);
    c.reportedLost(encodeBatch([values[2] as Uint8Array]));
    c.reportedLost(values[3] as Uint8Array);
    expect(c.account(false)).toEqual({ lostWithCrash: 1, reportedLost: 2 });
    expect(c.violations).toEqual([]);
    expect(c.account(true)).toEqual({ lostWithCrash: 1, reportedLost: 2 });
    expect(c.violations.join()).toMatch(/1 submitted value\(s\) never delivered, neither held by a proposer when it crashed nor reported lost: c0#4/);
  });
});

describe("the oracle's own reading of values", () => {
  it('unpacks what paxos-core packs, and refuses anything else', () => {
    const values = [v, empty, w, x];
    expect(unpackBatch(encodeBatch(values))).toEqual(values);
    const good = encodeBatch([v, w]);
    expect(unpackBatch(good.subarray(0, good.length - 1))).toBeUndefined();
    expect(unpackBatch(new Uint8Array([...good, 0]))).toBeUndefined();
    expect(unpackBatch(new Uint8Array([2, ...good.subarray(1)]))).toBeUndefined();
    expect(unpackBatch(new Uint8Array([1, 0, 0, 0, 0]))).toBeUndefined();
    expect(unpackBatch(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toBeUndefined();
    expect(unpackBatch(v)).toBeUndefined();
  });

  it('treats the empty value and paxos-core NOOP as no-ops, and nothing a client sends', () => {
    expect(isNoopValue(empty)).toBe(true);
    expect(isNoopValue(NOOP)).toBe(true);
    expect(isNoopValue(v)).toBe(false);
  });

  it("reads no-ops, master operations and checkpoint reports by their layouts as paxos-core's control-value predicate does", () => {
    const op = encodeMasterOp({ kind: 'resign', node: 3, leaseMs: 0, version: 17, nonce: 5, openLimit: 9 });
    const report = encodeCheckpointReport({ node: 2, iid: 1234 });
    expect([empty, NOOP, op, report, v].map(ownControlKind)).toEqual(['noop', 'noop', 'master-op', 'checkpoint-report', undefined]);
    expect(masterOpOf(op)).toEqual({ kind: 'resign', node: 3, version: 17, openLimit: 9 });
    for (const x of [empty, NOOP, op, report, v, encodeBatch([v, w])]) expect(controlDisagreement(x)).toBeUndefined();
    // Bytes one field off a control value's layout are a client's value to both readers.
    const badFormat = report.slice();
    badFormat[43] = 2;
    expect(ownControlKind(badFormat)).toBeUndefined();
    expect(controlDisagreement(badFormat)).toBeUndefined();
  });
});

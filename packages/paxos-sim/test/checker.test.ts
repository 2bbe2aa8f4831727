import { describe, expect, it } from 'vitest';
import type { AcceptorRecord } from '@libpaxos/paxos-core';
import { Checker, makeValue } from '../src/index.js';

const rec = (iid: number, ballot: number, valueBallot: number, value: Uint8Array): AcceptorRecord => ({ kind: 'record', iid, ballot, valueBallot, value });
const noDisk = { record: () => undefined, trimIid: () => 0 };

describe('checker', () => {
  const v = makeValue(0, 1, 0);
  const w = makeValue(0, 2, 0);

  it('notices two values chosen for one instance', () => {
    const c = new Checker(2);
    c.durableWrite(0, undefined, rec(1, 11, 11, v));
    c.durableWrite(1, undefined, rec(1, 11, 11, v));
    expect(c.chosen.get(1)).toEqual(v);
    c.durableWrite(1, rec(1, 11, 11, v), rec(1, 22, 22, w));
    c.durableWrite(2, undefined, rec(1, 22, 22, w));
    expect(c.violations.join()).toMatch(/two different values chosen/);
  });

  it('notices a durable promise going down', () => {
    const c = new Checker(2);
    c.durableWrite(0, rec(1, 30, 0, new Uint8Array()), rec(1, 20, 0, new Uint8Array()));
    expect(c.violations.join()).toMatch(/promise went down from 30 to 20/);
  });

  it('notices a promise sent before it was durable', () => {
    const c = new Checker(2);
    c.sent('acceptor', { type: 'promise', aid: 0, iid: 1, ballot: 11, valueBallot: 0, value: new Uint8Array() }, noDisk);
    expect(c.violations.join()).toMatch(/before it was durable/);
  });

  it('notices one ballot used for two values', () => {
    const c = new Checker(2);
    c.sent('proposer', { type: 'accept', iid: 1, ballot: 11, value: v }, noDisk);
    c.sent('proposer', { type: 'accept', iid: 1, ballot: 11, value: w }, noDisk);
    expect(c.violations.join()).toMatch(/ballot 11 was used for two different values/);
  });

  it('notices out-of-order, unchosen, unsubmitted and twice-decided deliveries', () => {
    const c = new Checker(2);
    c.submittedValue(v);
    for (const iid of [1, 2]) {
      c.durableWrite(0, undefined, rec(iid, 11, 11, v));
      c.durableWrite(1, undefined, rec(iid, 11, 11, v));
    }
    c.decided('learner 0', 1, 1, v);
    expect(c.ok).toBe(true);
    c.decided('learner 0', 2, 2, v);
    expect(c.violations.join()).toMatch(/decided twice/);
    c.decided('learner 0', 3, 5, w);
    expect(c.violations.join()).toMatch(/next in order is 3/);
    expect(c.violations.join()).toMatch(/no value was chosen/);
  });

  it('notices a ballot outside uint32', () => {
    const c = new Checker(2);
    c.sent('proposer', { type: 'prepare', iid: 1, ballot: 2 ** 32 }, noDisk);
    expect(c.violations.join()).toMatch(/outside uint32/);
  });
});

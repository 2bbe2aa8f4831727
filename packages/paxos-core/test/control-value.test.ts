import { describe, expect, it } from 'vitest';
import {
  EMPTY,
  Learner,
  NOOP,
  Proposer,
  controlValue,
  encodeBatch,
  encodeCheckpointReport,
  encodeMasterOp,
  isControlValue,
  type CoreEvent,
} from '../src/index.js';
import { accepted, enc, fx, msgs, promise } from './helpers.js';

const op = encodeMasterOp({ kind: 'claim', node: 2, leaseMs: 2000, version: 7, nonce: 99, openLimit: 130 });
const report = encodeCheckpointReport({ node: 1, iid: 40 });

describe('control values: no-op (−1), master operation (−2), checkpoint report (−3)', () => {
  it('are told apart from each other and from client values by one predicate', () => {
    expect(controlValue(EMPTY)).toEqual({ kind: 'noop' });
    expect(controlValue(NOOP)).toEqual({ kind: 'noop' });
    expect(controlValue(op)).toEqual({ kind: 'master-op', op: { kind: 'claim', node: 2, leaseMs: 2000, version: 7, nonce: 99, openLimit: 130 } });
    expect(controlValue(report)).toEqual({ kind: 'checkpoint-report', report: { node: 1, iid: 40 } });
    // A client value whose first byte happens to be a control value's (its client id's low byte).
    for (const first of [0xff, 0xfe, 0xfd]) {
      const v = new Uint8Array(65);
      v[0] = first;
      expect(isControlValue(v)).toBe(false);
    }
    expect(isControlValue(enc('hello'))).toBe(false);
    expect(isControlValue(encodeBatch([NOOP]))).toBe(false);
  });

  it('a learner decides each but delivers none, with or without batching', () => {
    for (const batched of [false, true]) {
      const l = new Learner({ acceptors: 3, batched, leadership: { leaseMs: 2000, marginMs: 200 } });
      const out = fx();
      const client = batched ? encodeBatch([enc('a')]) : enc('a');
      [NOOP, op, report, client].forEach((value, k) => {
        for (const aid of [0, 1]) l.receive(aid, accepted(aid, k + 1, 11, value), out);
      });
      expect(l.nextIid).toBe(5);
      expect(out.deliver.map((d) => [d.iid, String.fromCharCode(...d.value)])).toEqual([[4, 'a']]);
    }
  });

  it('a learner skips a control value a peer put inside a batch, keeping the other elements at their positions', () => {
    const l = new Learner({ acceptors: 3, batched: true });
    const out = fx();
    const batch = encodeBatch([enc('a'), NOOP, report, enc('b')]);
    for (const aid of [0, 1]) l.receive(aid, accepted(aid, 1, 11, batch), out);
    expect(out.deliver.map((d) => [d.index, String.fromCharCode(...d.value)])).toEqual([
      [0, 'a'],
      [3, 'b'],
    ]);
    expect(l.lastDecided.map((d) => d.iid)).toEqual([1]);
  });

  it('a proposer refuses a client value equal to a no-op or a master operation, takes a report alone and counts it as no client value', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 2, batchMaxValues: 8, maxAccepting: 1 });
    const out = fx();
    p.tick(0, out);
    for (const v of [NOOP, EMPTY, op]) p.propose(v, out);
    expect(out.events.filter((e) => e.kind === 'value-lost').map((e) => (e as Extract<CoreEvent, { kind: 'value-lost' }>).reason)).toEqual(['reserved', 'reserved', 'reserved']);
    p.propose(report, out);
    for (const aid of [0, 1]) p.receive(aid, promise(aid, 1, 10), out);
    expect(msgs(out, 'accept').map((m) => m.value)).toEqual([report]);
    const proposed = out.events.filter((e): e is Extract<CoreEvent, { kind: 'proposed' }> => e.kind === 'proposed');
    expect(proposed).toEqual([{ kind: 'proposed', iid: 1, values: 0, bytes: report.length }]);
  });
});

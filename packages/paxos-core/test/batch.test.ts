import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Learner, NOOP, Proposer, decodeBatch, encodeBatch } from '../src/index.js';
import { accepted, dec, enc, fx, msgs, promise } from './helpers.js';

describe('batching', () => {
  it('a batch decodes to the values it was made of', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 20 }), (values) => {
        expect(decodeBatch(encodeBatch(values))?.map((v) => [...v])).toEqual(values.map((v) => [...v]));
      }),
    );
  });

  it('refuses bytes that are not a batch', () => {
    for (const bad of [[], [2, 0, 0, 0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 1, 0, 0, 0, 9, 1], [1, 0, 0, 0, 1, 0, 0, 0, 0, 7]]) {
      expect(decodeBatch(Uint8Array.from(bad))).toBeUndefined();
    }
  });

  function proposer(batchMaxValues: number, batchMaxBytes = 1 << 20) {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 2, batchMaxValues, batchMaxBytes });
    p.tick(0, fx());
    return p;
  }
  const quorum = (p: Proposer, iid: number) => {
    const out = fx();
    for (const aid of [0, 1]) p.receive(aid, promise(aid, iid, 10), out);
    return msgs(out, 'accept');
  };

  it('a prepared instance takes every queued value that fits, in order; a lone value goes at once', () => {
    const p = proposer(3);
    for (const v of ['a', 'b', 'c', 'd']) p.propose(enc(v), fx());
    const [first] = quorum(p, 1);
    expect(decodeBatch(first?.value ?? new Uint8Array())?.map(dec)).toEqual(['a', 'b', 'c']);
    const [second] = quorum(p, 2);
    expect(decodeBatch(second?.value ?? new Uint8Array())?.map(dec)).toEqual(['d']);
  });

  it('with bindAtEndOfBatch, values that arrive in one turn wait for its end and share one instance', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 2, batchMaxValues: 100, bindAtEndOfBatch: true });
    p.tick(0, fx());
    quorum(p, 1); // instance 1 prepared, nothing to bind yet
    const out = fx();
    for (const v of ['a', 'b', 'c']) p.propose(enc(v), out);
    // One by one, the first value would have taken instance 1 alone.
    expect(msgs(out, 'accept')).toEqual([]);
    p.step({ kind: 'end-of-batch' }, out);
    const accepts = msgs(out, 'accept');
    expect(accepts.map((a) => decodeBatch(a.value)?.map(dec))).toEqual([['a', 'b', 'c']]);
    // A second end of batch with nothing new sends nothing.
    const again = fx();
    p.step({ kind: 'end-of-batch' }, again);
    expect(msgs(again, 'accept')).toEqual([]);
  });

  it('with bindAtEndOfBatch and no end of batch, the next tick binds what waits', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 2, batchMaxValues: 100, bindAtEndOfBatch: true });
    p.tick(0, fx());
    quorum(p, 1);
    for (const v of ['a', 'b']) p.propose(enc(v), fx());
    const out = fx();
    p.tick(1, out);
    expect(msgs(out, 'accept').map((a) => decodeBatch(a.value)?.map(dec))).toEqual([['a', 'b']]);
  });

  it('without batching, bindAtEndOfBatch changes nothing: each value is bound as it arrives', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 2, bindAtEndOfBatch: true });
    p.tick(0, fx());
    quorum(p, 1);
    const out = fx();
    p.propose(enc('a'), out);
    expect(msgs(out, 'accept').map((a) => dec(a.value))).toEqual(['a']);
  });

  it('a batch stops before its byte limit', () => {
    const p = proposer(100, 5 + 2 * (4 + 10));
    for (let i = 0; i < 5; i++) p.propose(enc('x'.repeat(10)), fx());
    expect(decodeBatch(quorum(p, 1)[0]?.value ?? new Uint8Array())).toHaveLength(2);
  });

  it('B11 with batches: a displaced batch puts each of its values back, in order', () => {
    const p = proposer(8);
    for (const v of ['a', 'b']) p.propose(enc(v), fx());
    quorum(p, 1);
    const out = fx();
    p.decided(1, encodeBatch([enc('theirs')]), out);
    expect([...p.heldValues()].map(dec)).toEqual(['a', 'b']);
  });

  it('a learner unpacks each batch into deliveries with instance and position', () => {
    const l = new Learner({ acceptors: 3, batched: true });
    const b = encodeBatch([enc('x'), enc('y')]);
    const out = fx();
    for (const aid of [0, 1]) l.receive(aid, accepted(aid, 1, 11, b), out);
    expect(out.deliver.map((d) => [d.iid, d.index, dec(d.value)])).toEqual([
      [1, 0, 'x'],
      [1, 1, 'y'],
    ]);
    expect(l.lastDecided).toEqual([{ iid: 1, value: b }]);
  });

  it('a learner delivers a decided value that is not a batch as one value, and says so, never skipping it', () => {
    // A C LibPaxos3 proposer in a cluster with batching on proposes plain values.
    const l = new Learner({ acceptors: 3, batched: true });
    const out = fx();
    for (const aid of [0, 1]) l.receive(aid, accepted(aid, 1, 11, enc('plain')), out);
    expect(out.deliver.map((d) => [d.iid, d.index, dec(d.value)])).toEqual([[1, 0, 'plain']]);
    expect(out.events).toContainEqual({ kind: 'not-a-batch', iid: 1, bytes: 5 });
  });

  it('a learner with batching on skips the no-op instead of reading it as a batch', () => {
    const l = new Learner({ acceptors: 3, batched: true });
    const out = fx();
    for (const aid of [0, 1]) l.receive(aid, accepted(aid, 1, 11, NOOP), out);
    expect(out.deliver).toEqual([]);
    expect(out.events).toEqual([{ kind: 'noop', iid: 1 }]);
  });
});

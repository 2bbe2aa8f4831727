import { describe, expect, it } from 'vitest';
import { LearningProposer, Proposer, type CoreEvent, type Effects } from '../src/index.js';
import { accepted, enc, fx, msgs, promise } from './helpers.js';

/** The events a metrics shell counts, in the order they came. */
const metricEvents = (out: Effects) => out.events.filter((e: CoreEvent) => e.kind === 'opened' || e.kind === 'prepared' || e.kind === 'proposed' || e.kind === 'chosen');

describe('events for metrics', () => {
  it('an instance reports opened, prepared, proposed (with its batch size) and chosen once each', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 1, batchMaxValues: 10 });
    const out = fx();
    p.tick(0, out);
    p.propose(enc('a'), out);
    p.propose(enc('b'), out);
    for (const aid of [0, 1]) p.receive(aid, promise(aid, 1, 10), out);
    const [accept] = msgs(out, 'accept');
    expect(accept).toBeDefined();
    // A third promise and a third accepted change nothing: each event comes once.
    p.receive(2, promise(2, 1, 10), out);
    for (const aid of [0, 1, 2]) p.receive(aid, accepted(aid, 1, 10, accept?.value as Uint8Array), out);
    expect(metricEvents(out)).toEqual([
      { kind: 'opened', iid: 1 },
      { kind: 'prepared', iid: 1 },
      { kind: 'proposed', iid: 1, values: 2, bytes: accept?.value.length },
      // With a window of 1, the next instance opens as soon as instance 1 leaves phase 1.
      { kind: 'opened', iid: 2 },
      { kind: 'chosen', iid: 1, values: 2 },
    ]);
  });

  it('an instance that chose another value reports chosen with 0 own values, and the value is proposed again', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 1 });
    const out = fx();
    p.tick(0, out);
    p.propose(enc('mine'), out);
    for (const aid of [0, 1]) p.receive(aid, promise(aid, 1, 10), out);
    for (const aid of [0, 1]) p.receive(aid, accepted(aid, 1, 21, enc('theirs')), out);
    const events = metricEvents(out);
    expect(events).toContainEqual({ kind: 'chosen', iid: 1, values: 0 });
    expect(events.filter((e) => e.kind === 'proposed')).toEqual([{ kind: 'proposed', iid: 1, values: 1, bytes: 4 }]);
  });

  it('a learning proposer whose learner decides first still reports chosen once', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 1 });
    const out = fx();
    lp.tick(0, out);
    lp.propose(enc('v'), out);
    for (const aid of [0, 1]) lp.receive(aid, promise(aid, 1, 10), out);
    for (const aid of [0, 1, 2]) lp.receive(aid, accepted(aid, 1, 10, enc('v')), out);
    expect(metricEvents(out).filter((e) => e.kind === 'chosen')).toEqual([{ kind: 'chosen', iid: 1, values: 1 }]);
  });

  it('a no-op closing a hole is not a proposal of client values', () => {
    const p = new Proposer({ id: 0, acceptors: 3, preexecWindow: 1 });
    const out = fx();
    p.tick(0, out);
    for (const aid of [0, 1]) p.receive(aid, promise(aid, 1, 10), out);
    p.receive(0, accepted(0, 5, 31, enc('later')), out);
    p.tick(1000, out);
    expect(out.events).toContainEqual({ kind: 'noop', iid: 1 });
    expect(metricEvents(out).filter((e) => e.kind === 'proposed')).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { LearningProposer } from '../src/index.js';
import { accepted, enc, fx, msgs, promise } from './helpers.js';

describe('learning proposer (split mode)', () => {
  it('learns decisions from the broadcasts it receives, delivers nothing, and settles its values by them', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 2 });
    const out = fx();
    lp.tick(0, out);
    lp.propose(enc('mine'), out);
    for (const aid of [0, 1]) lp.receive(aid, promise(aid, 1, 10), out);
    expect(msgs(out, 'accept')).toEqual([{ type: 'accept', iid: 1, ballot: 10, value: enc('mine') }]);
    for (const aid of [0, 1]) lp.receive(aid, accepted(aid, 1, 10, enc('mine')), out);
    expect(out.deliver).toEqual([]);
    expect(lp.learner.nextIid).toBe(2);
    expect([...lp.heldValues()]).toEqual([]);
  });

  it('skips past what acceptors trimmed: it only informs the proposer', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3 });
    lp.receive(0, { type: 'acceptor_state', aid: 0, trimIid: 50 }, fx());
    expect(lp.learner.nextIid).toBe(51);
  });
});

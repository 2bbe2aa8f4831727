import { describe, expect, it } from 'vitest';
import { Acceptor, Learner, type Message } from '../src/index.js';
import { dec, enc, fx, msgs } from './helpers.js';

const PROPOSER = 9;

/** Delivers `msg` to each of `to` and returns the accepted messages they broadcast. */
function send(to: Acceptor[], msg: Message): Message[] {
  const out = fx();
  for (const a of to) a.receive(PROPOSER, msg, out);
  return out.send.map((e) => e.msg);
}

describe('interrupted re-proposals of a chosen value', () => {
  // Chaos seed 3 (issue 5): the value was chosen by a quorum under one ballot, then proposers that
  // did not know it re-ran the instance and were killed part way, so each acceptor now holds the
  // value under a different value ballot. A learner that missed the live accepted messages used to
  // ask for repeats forever: no single current ballot has a quorum.
  it('a learner that missed the live votes still learns the value from repeat replies', () => {
    const [a0, a1, a2] = [0, 1, 2].map((id) => new Acceptor({ id })) as [Acceptor, Acceptor, Acceptor];
    const v = enc('v');
    // Ballot 11 chooses v with acceptors 0 and 1.
    send([a0, a1], { type: 'prepare', iid: 1, ballot: 11 });
    send([a0, a1], { type: 'accept', iid: 1, ballot: 11, value: v });
    // A restarted proposer prepares 22 at {1, 2}, learns v@11, re-proposes it; only 2 accepts.
    send([a1, a2], { type: 'prepare', iid: 1, ballot: 22 });
    send([a2], { type: 'accept', iid: 1, ballot: 22, value: v });
    // Another prepares 33 at {0, 2}, re-proposes v; only 0 accepts.
    send([a0, a2], { type: 'prepare', iid: 1, ballot: 33 });
    send([a0], { type: 'accept', iid: 1, ballot: 33, value: v });
    expect([a0, a1, a2].map((a) => a.record(1)?.valueBallot)).toEqual([33, 11, 22]);

    const learner = new Learner({ acceptors: 3 });
    const ask = fx();
    learner.tick(0, ask);
    const [request] = msgs(ask, 'repeat');
    expect(request).toEqual({ type: 'repeat', from: 1, to: 1024 });
    const out = fx();
    for (const [aid, a] of [a0, a1, a2].entries()) {
      for (const m of send([a], request as Message)) learner.receive(aid, m, out);
    }
    expect(out.deliver.map((d) => [d.iid, dec(d.value)])).toEqual([[1, 'v']]);
  });
});

import fc from 'fast-check';
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

  // Any schedule of Paxos proposals on one instance (overlapping ballots, prepares and accepts that
  // reach any subset of acceptors, proposers that stop half-way): a fresh learner that asks for
  // repeats learns the chosen value if there is one, and nothing otherwise.
  it('whatever interrupted proposals did, repeat replies show exactly the value chosen, if any', () => {
    const step = fc.record({ prepare: fc.boolean(), proposer: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 1, max: 7 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 16 }), (steps) => {
        const acceptors = [0, 1, 2].map((id) => new Acceptor({ id }));
        const proposers = [0, 1, 2].map(() => ({ ballot: 0, promises: new Map<number, { vb: number; value: Uint8Array }>(), value: null as Uint8Array | null }));
        const votes = new Map<string, Set<number>>();
        let nextBallot = 1;
        let accepts = 0;
        for (const { prepare, proposer, to } of steps) {
          const p = proposers[proposer] as (typeof proposers)[number];
          const targets = acceptors.filter((_, aid) => (to & (1 << aid)) !== 0);
          const out = fx();
          if (prepare) {
            Object.assign(p, { ballot: nextBallot++, promises: new Map(), value: null });
            for (const a of targets) a.receive(PROPOSER, { type: 'prepare', iid: 1, ballot: p.ballot }, out);
            for (const m of msgs(out, 'promise')) if (m.ballot === p.ballot) p.promises.set(m.aid, { vb: m.valueBallot, value: m.value });
            continue;
          }
          // Paxos P2c: with a quorum of promises, propose the value of the highest value ballot.
          // At most 7 accept rounds, so no acceptor drops an earlier ballot (it keeps 7).
          if (p.ballot === 0 || p.promises.size < 2 || accepts >= 7) continue;
          accepts++;
          if (p.value === null) {
            const best = [...p.promises.values()].reduce((a, b) => (b.vb > a.vb ? b : a));
            p.value = best.vb > 0 ? best.value : enc(`v${p.ballot}`);
          }
          for (const a of targets) a.receive(PROPOSER, { type: 'accept', iid: 1, ballot: p.ballot, value: p.value }, out);
          for (const m of msgs(out, 'accepted')) {
            const key = `${m.valueBallot} ${dec(m.value)}`;
            votes.set(key, (votes.get(key) ?? new Set()).add(m.aid));
          }
        }
        const chosen = new Set([...votes].filter(([, aids]) => aids.size >= 2).map(([key]) => key.split(' ')[1]));
        expect(chosen.size).toBeLessThanOrEqual(1);
        const learner = new Learner({ acceptors: 3 });
        const ask = fx();
        learner.tick(0, ask);
        const out = fx();
        for (const [aid, a] of acceptors.entries()) {
          const replies = fx();
          for (const m of msgs(ask, 'repeat')) a.receive(aid, m, replies);
          for (const m of msgs(replies, 'accepted')) learner.receive(aid, m, out);
        }
        expect(out.deliver.map((d) => dec(d.value))).toEqual([...chosen]);
      }),
      { numRuns: 3000 },
    );
  });
});

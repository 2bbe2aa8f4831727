import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Acceptor, Learner, MAX_EARLIER_BALLOTS, type Message } from '../src/index.js';
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

  /**
   * v is chosen at ballot 11 by acceptors 0 and 1; then `n` proposers that did not know it each
   * prepare a quorum, adopt v (P2c) and re-propose it, and are killed after their accept reached
   * only `reach(k)`. Returns the acceptors and the accepted messages those re-proposals broadcast.
   */
  function chosenThenInterrupted(n: number, reach: (k: number) => number): { acceptors: Acceptor[]; live: Message[][] } {
    const acceptors = [0, 1, 2].map((id) => new Acceptor({ id }));
    const [a0, a1, a2] = acceptors as [Acceptor, Acceptor, Acceptor];
    const v = enc('v');
    send([a0, a1], { type: 'prepare', iid: 1, ballot: 11 });
    send([a0, a1], { type: 'accept', iid: 1, ballot: 11, value: v });
    const live: Message[][] = [[], [], []];
    for (let k = 1; k <= n; k++) {
      const ballot = 11 + 10 * k;
      const target = acceptors[reach(k)] as Acceptor;
      send(target === a2 ? [a0, a2] : [target, a2], { type: 'prepare', iid: 1, ballot });
      (live[reach(k)] as Message[]).push(...send([target], { type: 'accept', iid: 1, ballot, value: v }));
    }
    return { acceptors, live };
  }

  /** A fresh learner asks every acceptor for repeats once (after hearing `heard`); what it delivers. */
  function learnFromRepeats(acceptors: Acceptor[], heard: Message[][] = [[], [], []]): string[] {
    const learner = new Learner({ acceptors: 3 });
    const out = fx();
    heard.forEach((ms, aid) => ms.forEach((m) => learner.receive(aid, m, out)));
    expect(out.deliver).toEqual([]);
    const ask = fx();
    learner.tick(0, ask);
    for (const [aid, a] of acceptors.entries()) {
      for (const m of msgs(ask, 'repeat')) for (const reply of send([a], m)) learner.receive(aid, reply, out);
    }
    return out.deliver.map((d) => dec(d.value));
  }

  // Issue 9: acceptors kept the newest seven earlier ballots and learners the highest 2n+2 pairs,
  // so the eighth interrupted re-proposal at one acceptor pushed out the ballot that chose v, and a
  // learner fed by repeats never delivered it. Now both keep the oldest of a run (see votes.ts).
  describe.each([8, 20, 100])('%i interrupted re-proposals of a chosen value', (n) => {
    it('all reaching one member of the choosing quorum: a learner fed only by repeat replies delivers it', () => {
      const { acceptors } = chosenThenInterrupted(n, () => 0);
      expect(acceptors[0]?.record(1)?.valueBallot).toBe(11 + 10 * n);
      expect(learnFromRepeats(acceptors)).toEqual(['v']);
    });

    it('spread over all three acceptors: a learner fed only by repeat replies delivers it', () => {
      const { acceptors } = chosenThenInterrupted(n, (k) => k % 3);
      expect(learnFromRepeats(acceptors)).toEqual(['v']);
    });

    it('a learner that heard every re-proposal live, but not the choice, delivers it from repeat replies', () => {
      const { acceptors, live } = chosenThenInterrupted(n, (k) => k % 2);
      expect(learnFromRepeats(acceptors, live)).toEqual(['v']);
    });

    it('state stays bounded: an acceptor keeps at most eight ballots of the run', () => {
      const { acceptors } = chosenThenInterrupted(n, () => 0);
      const rec = acceptors[0]?.record(1);
      expect((rec?.earlierBallots?.length ?? 0) + 1).toBeLessThanOrEqual(MAX_EARLIER_BALLOTS + 1);
      expect(rec?.earlierBallots?.[0]).toBe(11);
    });
  });

  // Any schedule of Paxos proposals on one instance (overlapping ballots, prepares and accepts that
  // reach any subset of acceptors, proposers that stop half-way): a fresh learner that asks for
  // repeats never learns a value that was not chosen, and learns the chosen one whenever the bound
  // argued in votes.ts holds (each member of the choosing quorum accepted the value at most
  // MAX_EARLIER_BALLOTS − 1 times in its run before the choosing ballot) — however many
  // re-proposals come after the choice.
  it('whatever interrupted proposals did, repeat replies show exactly the value chosen, if any', () => {
    // `round`: a whole re-proposal at once, interrupted (prepare at every acceptor, then the accept
    // reaches only acceptor `to % 3`): the long runs of them that a random mix rarely makes.
    const step = fc.record({ prepare: fc.boolean(), round: fc.boolean(), proposer: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 1, max: 7 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60, size: 'max' }), (steps) => {
        const acceptors = [0, 1, 2].map((id) => new Acceptor({ id }));
        const proposers = [0, 1, 2].map(() => ({ ballot: 0, promises: new Map<number, { vb: number; value: Uint8Array }>(), value: null as Uint8Array | null }));
        /** Per acceptor, every (ballot, value) it accepted, in order. */
        const history: { ballot: number; value: string }[][] = [[], [], []];
        let nextBallot = 1;
        for (const { prepare, round, proposer, to } of steps) {
          const p = proposers[proposer] as (typeof proposers)[number];
          const targets = round ? [acceptors[to % 3] as Acceptor] : acceptors.filter((_, aid) => (to & (1 << aid)) !== 0);
          const out = fx();
          if (round) {
            Object.assign(p, { ballot: nextBallot++, promises: new Map(), value: null });
            for (const a of acceptors) a.receive(PROPOSER, { type: 'prepare', iid: 1, ballot: p.ballot }, out);
            for (const m of msgs(out, 'promise')) if (m.ballot === p.ballot) p.promises.set(m.aid, { vb: m.valueBallot, value: m.value });
          } else if (prepare) {
            Object.assign(p, { ballot: nextBallot++, promises: new Map(), value: null });
            for (const a of targets) a.receive(PROPOSER, { type: 'prepare', iid: 1, ballot: p.ballot }, out);
            for (const m of msgs(out, 'promise')) if (m.ballot === p.ballot) p.promises.set(m.aid, { vb: m.valueBallot, value: m.value });
            continue;
          }
          // Paxos P2c: with a quorum of promises, propose the value of the highest value ballot.
          if (p.ballot === 0 || p.promises.size < 2) continue;
          if (p.value === null) {
            const best = [...p.promises.values()].reduce((a, b) => (b.vb > a.vb ? b : a));
            p.value = best.vb > 0 ? best.value : enc(`v${p.ballot}`);
          }
          for (const a of targets) a.receive(PROPOSER, { type: 'accept', iid: 1, ballot: p.ballot, value: p.value }, out);
          for (const m of msgs(out, 'accepted')) {
            const h = history[m.aid] as { ballot: number; value: string }[];
            if (h[h.length - 1]?.ballot !== m.valueBallot) h.push({ ballot: m.valueBallot, value: dec(m.value) });
          }
        }
        const quorums = new Map<string, Set<number>>();
        history.forEach((h, aid) => h.forEach(({ ballot, value }) => quorums.set(`${ballot} ${value}`, (quorums.get(`${ballot} ${value}`) ?? new Set()).add(aid))));
        const choices = [...quorums].filter(([, aids]) => aids.size >= 2).map(([key, aids]) => ({ ballot: Number(key.split(' ')[0]), value: key.split(' ')[1] as string, aids: [...aids] }));
        const chosen = new Set(choices.map((c) => c.value));
        expect(chosen.size).toBeLessThanOrEqual(1);
        const delivered = learnFromRepeats(acceptors);
        const first = choices.sort((a, b) => a.ballot - b.ballot)[0];
        if (first === undefined) {
          expect(delivered).toEqual([]);
          return;
        }
        const runBefore = (aid: number) => {
          const h = history[aid] ?? [];
          let i = h.findIndex((e) => e.ballot === first.ballot) - 1;
          let n = 0;
          while (i >= 0 && h[i]?.value === first.value) (n++, i--);
          return n;
        };
        if (first.aids.every((aid) => runBefore(aid) <= MAX_EARLIER_BALLOTS - 1)) expect(delivered).toEqual([first.value]);
        else expect(delivered.every((v) => chosen.has(v))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);
});

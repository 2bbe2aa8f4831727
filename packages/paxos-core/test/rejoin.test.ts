import { describe, expect, it } from 'vitest';
import { Acceptor, MAX_UINT32, REJOIN_PENDING, ballotOf, rejoinPoint } from '../src/index.js';
import { enc, fx, msgs } from './helpers.js';

describe('a replica that lost its storage rejoins', () => {
  it('waits for every other replica, then fences above the highest instance any holds plus the margin, and starts above every round promised', () => {
    const answers = [
      { highest: 500, maxBallot: ballotOf(7, 1) },
      { highest: 480, maxBallot: ballotOf(9, 2) },
    ];
    expect(rejoinPoint(answers.slice(0, 1), 2, 100)).toBeUndefined();
    expect(rejoinPoint(answers, 2, 100)).toEqual({ fence: 600, roundFloor: 10 });
    expect(rejoinPoint([{ highest: MAX_UINT32 - 5, maxBallot: 0 }], 1, 100)?.fence).toBe(MAX_UINT32 - 1);
  });

  it('a fenced acceptor takes no part at or below its fence, and answers above it', () => {
    const a = new Acceptor({ id: 0 }, { trimIid: 0, records: [], fence: 100 });
    const out = fx();
    a.receive(1, { type: 'prepare', iid: 100, ballot: 11 }, out);
    a.receive(1, { type: 'accept', iid: 50, ballot: 11, value: enc('x') }, out);
    expect(out.send).toEqual([]);
    expect(out.persist).toEqual([]);
    expect(out.events.map((e) => (e.kind === 'dropped' ? e.reason : e.kind))).toEqual(['fenced', 'fenced']);
    a.receive(1, { type: 'prepare', iid: 101, ballot: 11 }, out);
    expect(msgs(out, 'promise')).toHaveLength(1);
    expect(a.rejoinInfo).toEqual({ highest: 101, maxBallot: 11 });
    // A rejoin under way fences everything.
    const pending = new Acceptor({ id: 0 }, { trimIid: 0, records: [], fence: REJOIN_PENDING });
    const o2 = fx();
    pending.receive(1, { type: 'prepare', iid: 1_000_000, ballot: 11 }, o2);
    expect(o2.send).toEqual([]);
  });
});

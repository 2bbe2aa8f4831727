import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Acceptor, MAX_PROPOSERS, MAX_ROUND, MAX_UINT32, Prng, ballotOf, newEffects, roundAbove, type Message } from '../src/index.js';

describe('ballots', () => {
  it('roundAbove gives the smallest ballot of ours above any uint32 ballot', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_UINT32 }), fc.integer({ min: 0, max: MAX_PROPOSERS - 1 }), (seen, id) => {
        const r = roundAbove(seen, id);
        if (r === undefined) {
          expect(MAX_ROUND * MAX_PROPOSERS + id).toBeLessThanOrEqual(seen);
          return;
        }
        const b = ballotOf(r, id);
        expect(b).toBeGreaterThan(seen);
        expect(b % MAX_PROPOSERS).toBe(id);
        expect(b).toBeLessThanOrEqual(MAX_UINT32);
        if (r > 1) expect(ballotOf(r - 1, id)).toBeLessThanOrEqual(seen);
      }),
    );
  });
});

describe('prng', () => {
  it('is deterministic per seed and stays in range', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
        const a = new Prng(seed);
        const b = new Prng(seed);
        for (let i = 0; i < 20; i++) {
          const x = a.below(n);
          expect(x).toBe(b.below(n));
          expect(x >= 0 && x < n).toBe(true);
        }
      }),
    );
  });
});

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('prepare' as const), iid: fc.integer({ min: 1, max: 8 }), ballot: fc.integer({ min: 1, max: 60 }) }),
  fc.record({
    type: fc.constant('accept' as const),
    iid: fc.integer({ min: 1, max: 8 }),
    ballot: fc.integer({ min: 1, max: 60 }),
    value: fc.uint8Array({ maxLength: 3 }),
  }),
  fc.record({ type: fc.constant('trim' as const), iid: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ type: fc.constant('repeat' as const), from: fc.integer({ min: 1, max: 8 }), to: fc.integer({ min: 1, max: 8 }) }),
);

describe('acceptor model', () => {
  it('promises never go down, accepts stay at or below the promise, every reply is covered by a persisted record', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 60 }), (messages) => {
        const a = new Acceptor({ id: 0 });
        const durable = new Map<number, { ballot: number; valueBallot: number }>();
        const promised = new Map<number, number>();
        for (const m of messages) {
          const out = newEffects();
          a.receive(1, m, out);
          for (const p of out.persist) if (p.kind === 'record') durable.set(p.iid, p);
          for (const env of out.send) {
            const msg = env.msg;
            if (msg.type === 'promise' || msg.type === 'accepted') {
              const d = durable.get(msg.iid);
              expect(d, `${msg.type} for iid ${msg.iid} sent without a persisted record`).toBeDefined();
              expect(d?.ballot ?? -1).toBeGreaterThanOrEqual(msg.type === 'promise' ? msg.ballot : msg.valueBallot);
            }
          }
          for (let iid = 1; iid <= 8; iid++) {
            const r = a.record(iid);
            if (!r) continue;
            expect(r.ballot).toBeGreaterThanOrEqual(promised.get(iid) ?? 0);
            expect(r.valueBallot).toBeLessThanOrEqual(r.ballot);
            promised.set(iid, r.ballot);
          }
        }
      }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { NOOP, encodeMasterOp, type MasterOp } from '@libpaxos/paxos-core';
import { drawOptions, makeValue, simulate } from '../src/index.js';
import { LeaseChecker, type LeaseView } from '../src/lease-checker.js';
import { MasterReference } from '../src/master-reference.js';

const view = (name: string, v: Partial<LeaseView> = {}): LeaseView => ({ name, leads: false, version: 0, canRead: false, applied: 0, ...v });

describe('lease checks', () => {
  it('two processes that both believe they hold the lease are a violation', () => {
    const failed: string[] = [];
    new LeaseChecker((w) => failed.push(w), false).check([view('replica 0', { leads: true, version: 7 }), view('replica 1', { leads: true, version: 9 })], 0);
    expect(failed.join()).toMatch(/replica 0 \(version 7\) and replica 1 \(version 9\) both believe they hold the leader lease/);
  });

  it('one master version held by two processes is a violation', () => {
    const failed: string[] = [];
    const c = new LeaseChecker((w) => failed.push(w), false);
    c.check([view('replica 0', { leads: true, version: 7 })], 0);
    c.check([view('replica 1', { leads: true, version: 7 })], 0);
    expect(failed.join()).toMatch(/master version 7 is held by replica 0 and by replica 1/);
  });

  it('a lease read that misses a delivered instance is a violation', () => {
    const failed: string[] = [];
    new LeaseChecker((w) => failed.push(w), false).check([view('replica 2', { leads: true, version: 3, canRead: true, applied: 10 })], 11);
    expect(failed.join()).toMatch(/replica 2 says a local read is linearizable, but it has applied only up to iid 10 while iid 11 was delivered/);
  });

  it('with the clock assumption broken on purpose, breaches are counted, not failed', () => {
    const failed: string[] = [];
    const c = new LeaseChecker((w) => failed.push(w), true);
    c.check([view('a', { leads: true, version: 1 }), view('b', { leads: true, version: 2 })], 0);
    expect(failed).toEqual([]);
    expect(c.assumptionViolations).toBe(1);
  });
});

describe("leadership's state as of each instance, from the chosen log", () => {
  const op = (kind: 'claim' | 'resign', node: number, version: number, openLimit = 130): Uint8Array =>
    encodeMasterOp({ kind, node, leaseMs: 400, version, nonce: 1, openLimit } satisfies MasterOp);
  const log = new Map<number, Uint8Array>([
    [1, makeValue(0, 1, 0)],
    [2, op('claim', 1, 0)],
    [3, NOOP],
    [4, op('claim', 2, 0)], // stale: the last operation is 2
    [5, op('claim', 2, 4, 140)],
    [6, op('resign', 2, 5, 0)],
  ]);
  const ref = new MasterReference((iid) => log.get(iid));

  it('follows the rule: an operation takes effect when its version is the last operation before it', () => {
    expect(ref.asOf(1)).toEqual({ lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 });
    expect(ref.asOf(3)).toEqual({ lastOp: 2, version: 2, master: 1, maxOpenLimit: 130 });
    expect(ref.asOf(4)).toEqual({ lastOp: 4, version: 2, master: 1, maxOpenLimit: 130 });
    expect(ref.asOf(5)).toEqual({ lastOp: 5, version: 5, master: 2, maxOpenLimit: 140 });
    expect(ref.asOf(6)).toEqual({ lastOp: 6, version: 6, master: undefined, maxOpenLimit: 140 });
    expect(ref.asOf(7)).toBeUndefined();
  });

  it('names a node that holds another state than the log as of the last instance it learned', () => {
    expect(ref.mismatch('replica 1', 5, { lastOp: 5, version: 5, master: 2, maxOpenLimit: 140 })).toBeUndefined();
    // A checkpoint of instance 3 that carried the state as of instance 5 (newer than itself).
    expect(ref.mismatch('replica 1', 3, { lastOp: 5, version: 5, master: 2, maxOpenLimit: 140 })).toMatch(
      /replica 1 holds leadership state \{last operation 5, version 5, master 2, max openLimit 140\} as of instance 3, but the chosen log gives \{last operation 2, version 2, master 1, max openLimit 130\} there/,
    );
    // Not chosen yet: nothing to compare with.
    expect(ref.mismatch('replica 1', 9, { lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 })).toBeUndefined();
  });
});

describe('leadership in the simulator', () => {
  it('seeds with leadership on stay safe and live, and the leader proposes (followers forward)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = simulate(drawOptions(seed, { leadership: true, values: 300 }));
      expect(r.violations, `seed ${seed} (replay: pnpm sim --seed ${seed} --values 300 --leader on)`).toEqual([]);
      expect(r.assumptionViolations).toBe(0);
    }
  }, 120_000);

  it('clocks far outside the drift bound break the assumption: overlapping leases show up, as assumption breaches only', () => {
    let breaches = 0;
    for (let seed = 1; seed <= 80 && breaches === 0; seed++) {
      const r = simulate(drawOptions(seed, { leadership: true, driftViolation: true, values: 300 }));
      expect(r.violations, `seed ${seed} (replay: pnpm sim --seed ${seed} --values 300 --drift-violation)`).toEqual([]);
      breaches += r.assumptionViolations;
    }
    expect(breaches).toBeGreaterThan(0);
  }, 120_000);
});

describe('liveness after healing with a leader renewing its lease', () => {
  // Seed 119 --drift-violation: the leader's clock runs fast, it renews every ~50 ms, and at every
  // 100 ms check one learner had not yet heard of the renewal chosen a few ms before: the run
  // failed liveness with everything delivered. A learner must have learned what was chosen long
  // enough ago to have reached it (sync, message delay, tick); one that stays behind still fails.
  it('learners a message delay behind the latest renewal are live', () => {
    // The course that found it, from before the simulator modelled connections coming up, and the
    // seed as it runs now.
    const r = simulate(drawOptions(119, { leadership: true, driftViolation: true, connections: false }));
    expect(r.violations).toEqual([]);
    expect(simulate(drawOptions(119, { leadership: true, driftViolation: true })).violations).toEqual([]);
  }, 60_000);
});

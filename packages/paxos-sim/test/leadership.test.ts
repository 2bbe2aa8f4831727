import { describe, expect, it } from 'vitest';
import { drawOptions, simulate } from '../src/index.js';
import { LeaseChecker, type LeaseView } from '../src/lease-checker.js';

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

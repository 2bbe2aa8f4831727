import { describe, expect, it } from 'vitest';
import { drawOptions, parseRunCommand, replayCommand, resultLine, simulate } from '../src/index.js';

const SEEDS = [1, 2, 3, 4, 5, 6];

describe('KV workload (--workload kv)', () => {
  describe.each([
    { mode: 'split' as const, leadership: true },
    { mode: 'split' as const, leadership: false },
    { mode: 'replica' as const, leadership: true },
    { mode: 'replica' as const, leadership: false },
  ])('$mode mode, leadership $leadership', ({ mode, leadership }) => {
    it('clients under the nemesis see a linearizable history; every request not given up on is answered after healing', () => {
      let operations = 0;
      let localReads = 0;
      let retries = 0;
      let unknown = 0;
      for (const seed of SEEDS) {
        const r = simulate(drawOptions(seed, { workload: 'kv', mode, leadership, values: 300 }));
        expect(r.violations, resultLine(r)).toEqual([]);
        expect(r.kv?.verdict).toBe('ok');
        // Clients keep retrying after healing, so the only unknown outcomes are the requests a
        // client gave up on during the faults.
        expect(r.kv?.unknown).toBe(r.kv?.abandoned);
        unknown += r.kv?.unknown ?? 0;
        operations += r.kv?.operations ?? 0;
        localReads += r.kv?.localReads ?? 0;
        retries += r.kv?.retries ?? 0;
      }
      expect(operations).toBeGreaterThan(100);
      // Retries happen (timeouts under faults), so exactly-once is exercised, not assumed.
      expect(retries).toBeGreaterThan(0);
      // And requests whose outcome the client never learned, which the checker must allow for.
      expect(unknown).toBeGreaterThan(0);
      // Lease reads exactly when there is a lease.
      if (leadership) expect(localReads).toBeGreaterThan(0);
      else expect(localReads).toBe(0);
    }, 120_000);
  });

  it('is deterministic: the same seed gives the same trace and the same history figures', () => {
    const a = simulate(drawOptions(11, { workload: 'kv', values: 200 }));
    const b = simulate(drawOptions(11, { workload: 'kv', values: 200 }));
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.kv).toEqual(a.kv);
  });

  it('leaves the plain workload alone: kv figures only with --workload kv, and the replay command names it', () => {
    const plain = simulate(drawOptions(1, { values: 50 }));
    expect(plain.kv).toBeUndefined();
    expect(resultLine(plain)).not.toMatch(/kv-ops|workload=kv/);
    const kv = simulate(drawOptions(1, { workload: 'kv', values: 50 }));
    expect(resultLine(kv)).toMatch(/workload=kv .*kv-ops=\d+ .*linearizable=ok/);
    const replay = replayCommand(kv.options, { workload: 'kv' });
    expect(replay).toContain('--workload kv');
    expect(parseRunCommand(replay).overrides.workload).toBe('kv');
    expect(() => parseRunCommand('--seed 1 --workload nope')).toThrow(/--workload must be values or kv, got 'nope'/);
  });
});

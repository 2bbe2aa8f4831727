import { expect } from 'vitest';
import { drawOptions, simulate, type SimOverrides, type SimResult } from '../src/index.js';

/**
 * Runs seeds `first..first+count-1` and asserts each one safe and live, with faults of every kind
 * injected. A failure names the command that replays it.
 */
export function runSeeds(first: number, count: number, overrides: SimOverrides = {}): SimResult[] {
  const results: SimResult[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const r = simulate(drawOptions(seed, overrides));
    const replay = `pnpm sim --seed ${seed}${overrides.values ? ` --values ${overrides.values}` : ''}`;
    expect(r.violations, `seed ${seed} (replay: ${replay})`).toEqual([]);
    expect(r.submitted, `seed ${seed}: every value submitted`).toBe(r.options.values);
    const f = r.faults;
    expect(f.crashes > 0 && f.partitions > 0 && f.dropped > 0 && f.duplicated > 0, `seed ${seed} saw every kind of fault: ${JSON.stringify(f)}`).toBe(true);
    results.push(r);
  }
  return results;
}

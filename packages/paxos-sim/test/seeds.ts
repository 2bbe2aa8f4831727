import { expect } from 'vitest';
import { drawOptions, simulate, type SimOverrides, type SimResult } from '../src/index.js';

/**
 * Runs seeds `first..first+count-1` and asserts each one safe and live, with faults of every kind
 * injected. A failure names the command that replays it.
 */
function runSeeds(first: number, count: number, overrides: SimOverrides = {}): SimResult[] {
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

/** `runSeeds`, then checks the range as a whole delivered values and saw faults in bulk. */
export function checkSeedRange(first: number, count: number): void {
  const results = runSeeds(first, count);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const faults = results.reduce((n, r) => n + r.faults.crashes + r.faults.partitions, 0);
  expect(delivered).toBeGreaterThan(count * 500);
  expect(faults).toBeGreaterThan(count * 5);
}

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

/**
 * `runSeeds`, then checks the range as a whole delivered values and saw faults in bulk, and that the
 * seeds with checkpoints exercised all of it: checkpoints, restarts from them, trims by them, wiped
 * disks (replicas' acceptor storage too, and their rejoins), snapshot transfers installed, state
 * digests compared, and crashes at every step of a checkpoint write and of a transfer.
 */
export function checkSeedRange(first: number, count: number): void {
  const results = runSeeds(first, count);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const faults = results.reduce((n, r) => n + r.faults.crashes + r.faults.partitions, 0);
  expect(delivered).toBeGreaterThan(count * 500);
  expect(faults).toBeGreaterThan(count * 5);
  const ck = results.flatMap((r) => (r.checkpoints === undefined ? [] : [r.checkpoints]));
  const sum = (k: 'checkpoints' | 'restores' | 'trims' | 'wipes' | 'acceptorWipes' | 'rejoins' | 'transfersInstalled' | 'stateChecks') => ck.reduce((n, c) => n + c[k], 0);
  for (const k of ['checkpoints', 'restores', 'trims', 'wipes', 'acceptorWipes', 'rejoins', 'transfersInstalled', 'stateChecks'] as const) {
    expect(sum(k), `${k} over seeds ${first}..${first + count - 1}`).toBeGreaterThan(0);
  }
  const crashesAt: Record<string, number> = {};
  for (const c of ck) for (const [step, n] of Object.entries(c.crashesAt)) crashesAt[step] = (crashesAt[step] ?? 0) + n;
  const steps = ['checkpoint temp file written', 'checkpoint renamed', 'checkpoint directory synced', 'transfer open', 'transfer write', 'transfer verify', 'transfer install'];
  for (const step of steps) expect(crashesAt[step] ?? 0, `crashes at '${step}' over seeds ${first}..${first + count - 1}: ${JSON.stringify(crashesAt)}`).toBeGreaterThan(0);
}

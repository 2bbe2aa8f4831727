import { describe, expect, it } from 'vitest';
import { MUTANTS, drawOptions, simulate } from '../src/index.js';

/** Seeds tried per mutant: the CI seed budget. */
const BUDGET = 300;

// A checker that never fires would pass every seed; these broken cores prove each one can fire.
describe.each(MUTANTS)('mutant %s', (mutant) => {
  it('is caught within the CI seed budget', () => {
    let caught: { seed: number; violation: string } | undefined;
    for (let seed = 1; seed <= BUDGET && caught === undefined; seed++) {
      const r = simulate(drawOptions(seed, { mutant, mode: 'split' }));
      if (!r.ok) caught = { seed, violation: r.violations[0] ?? '' };
    }
    expect(caught, `${mutant} survived ${BUDGET} seeds`).toBeDefined();
    const expected: Record<(typeof MUTANTS)[number], RegExp> = {
      'acceptor-skips-promise-persist': /promise.*before it was durable/,
      'libpaxos3-learner-b1': /decided iid \d+(, for which no value was chosen|with a value other than the chosen one)/,
      'proposer-forgets-round-floor': /ballot \d+ was used by .* and again by|two different values/,
    };
    expect(caught?.violation).toMatch(expected[mutant]);
  }, 300_000);
});

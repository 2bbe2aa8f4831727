import { describe, expect, it } from 'vitest';
import { drawOptions, simulate } from '../src/index.js';

describe('determinism', () => {
  it('the same seed gives the same trace hash and the same outcome', () => {
    for (const seed of [3, 17, 42]) {
      const a = simulate(drawOptions(seed, { values: 300 }));
      const b = simulate(drawOptions(seed, { values: 300 }));
      expect(b.traceHash).toBe(a.traceHash);
      expect(b).toEqual(a);
    }
  });

  it('different seeds explore different runs', () => {
    const hashes = new Set([1, 2, 3, 4, 5].map((seed) => simulate(drawOptions(seed, { values: 100 })).traceHash));
    expect(hashes.size).toBe(5);
  });
});

import { expect, it } from 'vitest';
import { runSeeds } from './seeds.js';

// The CI budget is split over two files so that vitest runs the halves on both cores.
it('seeds 1–250: no safety or liveness violation under loss, duplication, delay, partitions and crashes', () => {
  const results = runSeeds(1, 250);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const faults = results.reduce((n, r) => n + r.faults.crashes + r.faults.partitions, 0);
  expect(delivered).toBeGreaterThan(250 * 500);
  expect(faults).toBeGreaterThan(250 * 5);
}, 600_000);

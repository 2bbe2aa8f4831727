import { it } from 'vitest';
import { checkSeedRange } from './seeds.js';

// The CI budget is split over two files so that vitest runs the halves on both cores.
it('seeds 1–250: no safety or liveness violation under loss, duplication, delay, partitions and crashes', () => {
  checkSeedRange(1, 250);
}, 600_000);

import { describe, expect, it, vi } from 'vitest';
import { DiskArchive } from '../src/disk-archive.js';
import { archiveHandsAt } from '../src/options.js';
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

  // The memory window is drawn per seed, and the seeds pinned in found-core-bugs run with whatever
  // theirs is: an acceptor that reads its older records back from the disk must answer exactly as
  // one that keeps them all, so no trace may depend on it.
  it('an acceptor with an archive answers as one with every record in memory: the same trace for every window', () => {
    const read = vi.spyOn(DiskArchive.prototype, 'read');
    // Counted by hand: a spy would keep every one of millions of calls.
    const holds = DiskArchive.prototype.holds;
    let unheld = 0;
    DiskArchive.prototype.holds = function (this: DiskArchive, rec) {
      const held = holds.call(this, rec);
      if (!held) unheld++;
      return held;
    };
    try {
      // 7 and 8 hand writes to storage as they reach the disk, 9 and 6 only once synced.
      for (const [seed, mode] of [
        [7, 'split'],
        [8, 'replica'],
        [9, 'split'],
        [6, 'replica'],
      ] as const) {
        expect(archiveHandsAt(seed)).toBe(seed >= 9 || seed === 6 ? 'sync' : 'write');
        const base = simulate(drawOptions(seed, { values: 300, mode, memoryWindow: 0 }));
        expect(read).not.toHaveBeenCalled();
        for (const memoryWindow of [1, 4, 64]) {
          const r = simulate(drawOptions(seed, { values: 300, mode, memoryWindow }));
          expect(r.traceHash, `seed ${seed} in ${mode} mode, memory window ${memoryWindow}`).toBe(base.traceHash);
          expect(r.violations).toEqual([]);
        }
        // Not vacuously: the acceptors did forget records and read them back; and where writes
        // are handed over only once synced, they stepped on with records storage did not hold.
        expect(read).toHaveBeenCalled();
        if (archiveHandsAt(seed) === 'sync') expect(unheld, `seed ${seed}: records not held yet`).toBeGreaterThan(0);
        read.mockClear();
        unheld = 0;
      }
    } finally {
      read.mockRestore();
      DiskArchive.prototype.holds = holds;
    }
  }, 120_000);

  it('draws the memory window from the seed alone: no archive in some seeds, each window in others', () => {
    const windows = new Set(Array.from({ length: 40 }, (_, i) => drawOptions(i + 1).memoryWindow));
    expect([...windows].sort((a, b) => a - b)).toEqual([0, 4, 16, 64]);
    // The other knobs are drawn as before: forcing a window changes nothing else.
    const { memoryWindow: _w, ...rest } = drawOptions(11, { memoryWindow: 4 });
    const { memoryWindow: _d, ...drawn } = drawOptions(11);
    expect(rest).toEqual(drawn);
  });
});

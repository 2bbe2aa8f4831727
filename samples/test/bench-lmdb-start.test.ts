/**
 * `pnpm bench:lmdb-start` in a small mode: stores written, started from their window, their older
 * ballots read, every store removed. Behaviour only: figures must exist, never be fast.
 */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Proc, cleanUp, tempDir } from './procs.js';

afterAll(cleanUp);

describe('pnpm bench:lmdb-start', () => {
  it('starts stores of two sizes from their newest 4,096 records, reads the older ballots, and removes the stores', async () => {
    const dir = tempDir();
    const bench = new Proc('bench-lmdb-start', ['--records', '3000,20000', '--value-bytes', '16', '--dir', dir]);
    expect(await bench.exit, bench.stderr).toBe(0);
    const rows = bench.lines.filter((l) => /^\| [\d,]+ \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((r) => [r[1], r[4]])).toEqual([
      ['3,000', '3,000'],
      ['20,000', '4,096'],
    ]);
    for (const r of rows) expect(Number(r[3])).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('refuses a size that is not a whole number with a sentence', async () => {
    const bench = new Proc('bench-lmdb-start', ['--records', '10,x']);
    expect(await bench.exit).toBe(1);
    expect(bench.stderr).toMatch(/--records/);
  });
});

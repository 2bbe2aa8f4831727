import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FULL_GRID_SIZE, chartSvg, isFullRun, logTicks, resultsMarkdown, standardRows, tlsPairs, tlsTable, type Result, type Run } from '../src/bench-report.js';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

describe('the benchmark chart', () => {
  it('puts round 1-2-5 ticks on its log axes', () => {
    expect(logTicks(100, 100_000).map((t) => t.value)).toEqual([100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]);
    expect(logTicks(100, 100_000).filter((t) => t.major).map((t) => t.value)).toEqual([100, 1000, 10_000, 100_000]);
  });

  it('draws every storage mode, batching on and off, and latency for the committed full run', () => {
    const newest = readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort().pop() as string;
    const run = JSON.parse(readFileSync(join(RESULTS, newest), 'utf8')) as Run;
    expect(isFullRun(run)).toBe(true);
    expect(standardRows(run.results)).toHaveLength(FULL_GRID_SIZE);
    const svg = chartSvg(run);
    for (const label of ['memory', 'lmdb', 'lmdb-sync', 'batching on', 'batching off', 'replica mode: latency', 'split mode: latency', '8 KiB']) expect(svg).toContain(`>${label}<`);
    // Tick labels are round numbers only (no 38,356-style ticks): 1k, 10k, 100 µs, 1 ms…
    const ticks = [...svg.matchAll(/text-anchor="end"[^>]*>([^<]+)</g)].map((m) => m[1] as string);
    expect(ticks.length).toBeGreaterThan(20);
    for (const t of ticks) expect(t).toMatch(/^(1|2|5)(0|00)?(k|M| µs| ms| s)?$/);
    // One dot per configuration drawn in the values/s panels and one per configuration in the latency panels.
    expect([...svg.matchAll(/<circle /g)].length).toBe(2 * FULL_GRID_SIZE + 2);
  });

  it('sets each TLS row beside its twin of the same round, and keeps TLS rows out of the grid chart', () => {
    const newest = readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort().pop() as string;
    const run = JSON.parse(readFileSync(join(RESULTS, newest), 'utf8')) as Run;
    const twin = run.results.find((r) => r.mode === 'replica' && r.size === 64 && r.outstanding === 100 && r.storage === 'memory' && r.batching === 'on') as Result;
    const on: Result = { ...twin, tls: 'on', valuesPerSec: { median: twin.valuesPerSec.median / 2, min: 1, max: 2 }, load: [1.5, 2.25] };
    const withTls: Run = { ...run, results: [...run.results, on] };
    expect(isFullRun(withTls)).toBe(true);
    expect(tlsPairs(withTls.results)).toEqual([{ off: twin, on }]);
    expect(tlsTable(withTls.results)).toMatch(/\| replica \| 64 B \| 1 \| [\d,]+ \| [\d,]+ \| −50 % \|.*\| \? \/ 1\.5→2\.3 \|/);
    expect(tlsTable(withTls.results)).toMatch(/\| replica \| 64 B \| 1 \| −50 % \|/);
    expect(resultsMarkdown(withTls, 'x.json')).toContain('## The cost of TLS');
    expect(resultsMarkdown(run, 'x.json')).not.toContain('## The cost of TLS');
    expect([...chartSvg(withTls).matchAll(/<circle /g)].length).toBe(2 * FULL_GRID_SIZE + 2);
  });
});

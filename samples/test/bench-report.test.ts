import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  FULL_GRID_SIZE,
  LEADERSHIP_GRID_SIZE,
  chartSvg,
  isFullRun,
  leadershipTable,
  logTicks,
  peerOf,
  peerTable,
  resultsMarkdown,
  roundsTable,
  table,
  standardRows,
  tlsPairs,
  tlsTable,
  type LeadershipResult,
  type PeerResult,
  type Result,
  type Run,
} from '../src/bench-report.js';

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
    const committed = JSON.parse(readFileSync(join(RESULTS, newest), 'utf8')) as Run;
    // The committed run without its own TLS rows (a full run may have them), and one made up here.
    const run: Run = { ...committed, results: committed.results.filter((r) => (r.tls ?? 'off') === 'off') };
    const twin = run.results.find((r) => r.mode === 'replica' && r.size === 64 && r.outstanding === 100 && r.storage === 'memory' && r.batching === 'on') as Result;
    const on: Result = { ...twin, tls: 'on', valuesPerSec: { median: twin.valuesPerSec.median / 2, min: 1, max: 2 }, load: [1.5, 2.25] };
    const withTls: Run = { ...run, results: [...run.results, on] };
    expect(isFullRun(withTls)).toBe(true);
    expect(tlsPairs(withTls.results)).toEqual([{ off: twin, on }]);
    expect(tlsTable(withTls.results)).toMatch(/\| replica \| 64 B \| 1 \| [\d,]+ \| [\d,]+ \| −50 % \|.*\| (\?|[\d.]+→[\d.]+) \/ 1\.5→2\.3 \|/);
    expect(tlsTable(withTls.results)).toMatch(/\| replica \| 64 B \| 1 \| −50 % \|/);
    expect(resultsMarkdown(withTls, 'x.json')).toContain('## The cost of TLS');
    expect(resultsMarkdown(run, 'x.json')).not.toContain('## The cost of TLS');
    expect([...chartSvg(withTls).matchAll(/<circle /g)].length).toBe(2 * FULL_GRID_SIZE + 2);
  });
});

describe('the leadership rows', () => {
  const lat = { p50: 100, p99: 900, max: 5000 };
  const row = (leader: 'off' | 'on', perClient: number[]): LeadershipResult => ({
    outstanding: 10,
    batching: 'on',
    leader,
    clients: perClient.length,
    valuesPerSec: perClient.reduce((a, b) => a + b, 0),
    perClient: perClient.map((v, replica) => ({ replica, valuesPerSec: v, latencyUs: { ...lat, p99: lat.p99 + replica } })),
  });
  const rows = [row('off', [10_000]), row('on', [8000]), row('on', [3000, 2500, 2500]), row('off', [400, 400, 1200])];

  it('shows each competing client’s share and every row against one client of the same run, leadership on and off', () => {
    const lines = leadershipTable(rows).split('\n');
    expect(lines).toHaveLength(2 + rows.length);
    expect(lines[2]).toBe('| 10 | on | off | 1 (at replica 0) | 10,000 | – | 125 % | 100 % | 100 / 900 |');
    expect(lines[3]).toBe('| 10 | on | on | 1 (at replica 0) | 8,000 | – | 100 % | 80 % | 100 / 900 |');
    expect(lines[4]).toBe('| 10 | on | on | 3 (one per replica) | 8,000 | 3,000 (38 %), 2,500 (31 %), 2,500 (31 %) | 100 % | 80 % | 100 / 902 |');
    expect(lines[5]).toBe('| 10 | on | off | 3 (one per replica) | 2,000 | 400 (20 %), 400 (20 %), 1,200 (60 %) | 25 % | 20 % | 100 / 902 |');
  });

  it('a failed row says so and compares with nothing; RESULTS.md has the section only when the run has the rows', () => {
    const failed = { ...row('on', []), clients: 3, error: 'the client at replica 1 exited with 1' };
    expect(leadershipTable([rows[1] as LeadershipResult, failed]).split('\n')[3]).toBe('| 10 | on | on | 3 (one per replica) | failed: the client at replica 1 exited with 1 | – | – | – | 0 / 0 |');
    const run: Run = { date: '2026-11-26T00:00:00.000Z', machine: { cores: 2, cpu: 'x', memoryGiB: 4, node: 'v20', platform: 'linux x64' }, warmupSeconds: 2, measuredSeconds: 10, quick: false, results: [] };
    expect(resultsMarkdown(run, 'r.json')).not.toContain('## Leadership');
    const withRows = resultsMarkdown({ ...run, load: { start: 3.25, end: 4 }, leadership: rows }, 'r.json');
    expect(withRows).toContain('## Leadership and competing clients');
    expect(withRows).toContain('Load average (1 min) 3.3 at the start of the run, 4.0 at the end.');
  });

  it('with rows of several rounds (--rounds), a round column comes first and each row compares with one client of its round', () => {
    const second = rows.map((r) => ({ ...r, round: 2, valuesPerSec: r.valuesPerSec / 2, perClient: r.perClient.map((c) => ({ ...c, valuesPerSec: c.valuesPerSec / 2 })) }));
    const lines = leadershipTable([...rows.map((r) => ({ ...r, round: 1 })), ...second]).split('\n');
    expect(lines[0]).toMatch(/^\| round \| -o \| batching \|/);
    expect(lines[1]).toBe(`|---${'|---'.repeat(9)}|`);
    expect(lines[4]).toBe('| 1 | 10 | on | on | 3 (one per replica) | 8,000 | 3,000 (38 %), 2,500 (31 %), 2,500 (31 %) | 100 % | 80 % | 100 / 902 |');
    expect(lines[8]).toBe('| 2 | 10 | on | on | 3 (one per replica) | 4,000 | 1,500 (38 %), 1,250 (31 %), 1,250 (31 %) | 100 % | 80 % | 100 / 902 |');
  });

  it('a full run of both features keeps the grid chart, the TLS table and the leadership table; the rows stay out of the chart', () => {
    const newest = readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort().pop() as string;
    const committed = JSON.parse(readFileSync(join(RESULTS, newest), 'utf8')) as Run;
    // The committed run without its own TLS rows (a full run may have them), and one made up here.
    const run: Run = { ...committed, results: committed.results.filter((r) => (r.tls ?? 'off') === 'off') };
    const twin = run.results.find((r) => r.mode === 'replica' && r.size === 64 && r.outstanding === 100 && r.storage === 'memory' && r.batching === 'on') as Result;
    const leadership = Array.from({ length: LEADERSHIP_GRID_SIZE / rows.length }, () => rows).flat();
    const both: Run = { ...run, results: [...run.results, { ...twin, tls: 'on' }], load: { start: 1, end: 2 }, leadership };
    // What `pnpm bench --report` looks for: the standard grid is whole, whatever rows come besides.
    expect(isFullRun(both)).toBe(true);
    const md = resultsMarkdown(both, 'x.json');
    expect(md.indexOf('## The cost of TLS')).toBeGreaterThan(0);
    expect(md.indexOf('## Leadership and competing clients')).toBeGreaterThan(md.indexOf('## The cost of TLS'));
    expect(md.split('\n').filter((l) => l.startsWith('| 10 | on |'))).toHaveLength(LEADERSHIP_GRID_SIZE);
    expect(chartSvg(both)).toBe(chartSvg(run));
  });
});

describe('ours against the skeleton and C LibPaxos3', () => {
  const row = (batching: 'off' | 'on', round: number, median: number): Result => ({
    mode: 'replica',
    size: 64,
    outstanding: 10,
    storage: 'memory',
    batching,
    round,
    perSecond: [median],
    valuesPerSec: { median, min: median, max: median },
    mbps: 1,
    latencyUs: { p50: 100, p99: 200, max: 300 },
    processes: [],
  });
  const peer = (round: number, median: number, extra: Partial<PeerResult> = {}): PeerResult => ({
    mode: 'replica',
    size: 64,
    outstanding: 10,
    round,
    valuesPerSec: { median, min: median, max: median },
    latencyUs: { p50: 100, p99: 0, max: 300 },
    processes: [],
    ...extra,
  });

  it('a row is compared with the skeleton of its batching setting; an older run’s skeleton, which never batched, and C LibPaxos3, which has no batching, with both', () => {
    const skeleton = [peer(1, 40_000, { batching: 'off' }), peer(1, 50_000, { batching: 'on' })];
    expect(peerOf(row('on', 1, 1), skeleton)?.valuesPerSec.median).toBe(50_000);
    expect(peerOf(row('off', 1, 1), skeleton)?.valuesPerSec.median).toBe(40_000);
    const older = [peer(1, 45_000)];
    expect(peerOf(row('on', 1, 1), older)?.valuesPerSec.median).toBe(45_000);
    expect(peerOf(row('off', 1, 1), older)?.valuesPerSec.median).toBe(45_000);
    const c = [peer(1, 30_000, { storage: 'memory' })];
    expect(peerOf(row('on', 1, 1), c)?.valuesPerSec.median).toBe(30_000);
    expect(peerOf(row('off', 1, 1), c)?.valuesPerSec.median).toBe(30_000);
    // Another round's peer is never used.
    expect(peerOf(row('on', 2, 1), skeleton)).toBeUndefined();
    expect(table([row('on', 1, 25_000)], { skeleton })).toContain('| 0.50× |');
    // Only the skeleton's own table has a batching column.
    expect(peerTable('skeleton', skeleton).split('\n')[2]).toMatch(/^\| skeleton \| replica \| 64 B \| 10 \| — \| off \| 40,000 /);
    expect(peerTable('C LibPaxos3', c)).not.toContain('batching');
  });

  it('over several rounds, each configuration has the ratio of the sums and each round’s own ratio; a failed round is left out; one round gives no table', () => {
    const results = [row('on', 1, 30_000), row('on', 2, 40_000), row('on', 3, 10_000), { ...row('on', 4, 0), error: 'its client measured nothing' }];
    const skeleton = [1, 2, 3, 4].map((r) => peer(r, 50_000, { batching: 'on' }));
    const c = [peer(1, 20_000, { storage: 'memory' }), peer(2, 40_000, { storage: 'memory' }), peer(3, 30_000, { storage: 'memory', error: 'its client measured nothing' }), peer(4, 10_000, { storage: 'memory' })];
    const lines = roundsTable(results, { skeleton, libpaxos3: c }).split('\n');
    expect(lines[0]).toContain('vs C LibPaxos3');
    // Skeleton: rounds 1–3 (4 failed on our side): 80,000 / 150,000. C: rounds 1 and 2 (3 failed on C's side): 70,000 / 60,000.
    expect(lines[2]).toBe('| replica | 64 B | 10 | memory | on | off | 4 | 30,000, 40,000, 10,000, failed | 0.53× (0.60, 0.80, 0.20, —) | 1.17× (1.50, 1.00, —, —) |');
    expect(roundsTable([row('on', 1, 30_000), row('off', 1, 30_000)], { skeleton })).toBe('');
  });
});

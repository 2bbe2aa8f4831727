/**
 * `pnpm bench:kv` in a tiny mode: memcached, a 3-replica kv-server cluster (memory) and a 3-member
 * etcd started, keys set, 1-second rows of sets and gets (linearizable and stale) measured through
 * the load generator, every process stopped and every file removed; and the report's pure parts
 * (ratios, the full-run check, KV.md's generated block). Behaviour only: figures must exist and be
 * positive, never be fast.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KV_BEGIN, KV_END, isFullKvRun, ratios, spliceKvMarkdown, type KvRow } from '../src/bench-kv-report.js';
import { Proc, cleanUp, ports, tempDir } from './procs.js';

afterAll(cleanUp);

const have = ['/usr/bin/memcached', '/usr/bin/etcd'].filter((b) => !existsSync(b));
if (have.length > 0) {
  console.warn(`\n*** SKIPPING the bench:kv run: ${have.join(' and ')} missing; run 'bash scripts/install-system-deps.sh' (the README's test command does) ***\n`);
}

/** Processes whose command line names `dir` (the bench's data and output folders): none may outlive it. */
function processesUsing(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) out.push(`${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** memcached processes on ports the bench was given (from `base`, 200 ports): none may outlive it. */
function memcachedsFrom(base: number): string[] {
  return processesUsing('memcached -l 127.0.0.1 -p ').filter((l) => {
    const port = Number(/ -p (\d+)/.exec(l)?.[1]);
    return port >= base && port < base + 200;
  });
}

describe('pnpm bench:kv', () => {
  it.skipIf(have.length > 0)(
    'starts memcached, kv-server and etcd, measures a set row and get rows on each (etcd and kv-server also stale), stops them all and removes their data',
    async () => {
      const data = tempDir();
      const out = tempDir();
      // 60 ports of this worker's block (the bench skips ports in use and retries a system that could not bind).
      const base = ports(60)[0] as number;
      const bench = new Proc('bench-kv', [
        '--quick', '--seconds', '1', '--warmup', '0', '--keys', '40', '--concurrency', '16',
        '--workload', 'set,get', '--system', 'memcached,memory,etcd',
        '--port-base', String(base), '--data-dir', data, '--out', out,
      ]);
      const code = await bench.exit;
      expect(code, `bench:kv failed:\n${bench.stderr.slice(-3000)}`).toBe(0);

      // Everything it started is gone, and so is everything it wrote but the JSON.
      expect(processesUsing(data)).toEqual([]);
      expect(memcachedsFrom(base)).toEqual([]);
      expect(readdirSync(data)).toEqual([]);
      const files = readdirSync(out);
      expect(files).toHaveLength(1);
      const run = JSON.parse(readFileSync(join(out, files[0] as string), 'utf8')) as { quick: boolean; rows: KvRow[]; versions: Record<string, string>; load: { start: number } };
      expect(run.quick).toBe(true);
      expect(run.versions.etcd).toMatch(/^3\.4\./);
      expect(run.versions.memcached).toMatch(/^1\.6\./);

      const got = run.rows.map((r) => `${r.workload} ${r.system} ${r.reads}`);
      expect(got).toEqual([
        'set memcached local',
        'set memory linearizable',
        'set etcd linearizable',
        'get memcached local',
        'get memory linearizable',
        'get memory stale',
        'get etcd linearizable',
        'get etcd stale',
      ]);
      for (const r of run.rows) {
        const what = `${r.workload} ${r.system} ${r.reads}`;
        expect(r.error, what).toBeUndefined();
        expect(r.errors, what).toBe(0);
        expect(r.opsPerSec, what).toBeGreaterThan(0);
        expect(r.latencyUs.p50, what).toBeGreaterThan(0);
        expect(r.latencyUs.max, what).toBeGreaterThanOrEqual(r.latencyUs.p99);
        expect(r.latencyUs.p99, what).toBeGreaterThanOrEqual(r.latencyUs.p50);
        expect(r.serverCpuPercent, what).toBeGreaterThan(0);
        expect(r.generatorCpuPercent, what).toBeGreaterThan(0);
        expect(r.size).toBe(64);
        expect(r.concurrency).toBe(16);
        if (r.workload === 'set') expect([r.gets, r.sets > 0], what).toEqual([0, true]);
        // Every key was set before the rows: every get finds its key.
        else expect([r.sets, r.gets > 0, r.hits, r.misses], what).toEqual([0, true, r.gets, 0]);
      }
      // The table and the three targets on stdout (durable writes needs lmdb-sync, left out here: not measured).
      expect(bench.stdout).toMatch(/\| 64 B \| 16 \| get only \| kv-server memory \(stale port\) \| stale \| [\d,]+ \|/);
      expect(bench.stdout).toMatch(/\| linearizable reads \| 64 B \| 16 \| [\d,]+ \| [\d,]+ \| \d+\.\d\d× \| ≥ 3× \| (met|missed) \|/);
      expect(bench.stdout).toMatch(/\| stale local reads \| 64 B \| 16 \| [\d,]+ \| [\d,]+ \| \d+\.\d\d× \| ≥ 0\.5× \| (met|missed) \|/);
      expect(bench.stdout).toMatch(/\| durable writes \| 64 B \| 16 \| 0 \| [\d,]+ \| — \| ≥ 3× \| not measured \|/);
    },
    240_000,
  );
});

describe('bench:kv report', () => {
  const row = (o: Partial<KvRow> & Pick<KvRow, 'workload' | 'system' | 'reads' | 'opsPerSec'>): KvRow => ({
    size: 64, concurrency: 16, latencyUs: { p50: 1, p99: 2, max: 3 }, gets: 1, sets: 1, hits: 1, misses: 0, errors: 0, serverCpuPercent: 1, generatorCpuPercent: 1, load: [1, 1], ...o,
  });

  it('divides the right rows for each target, per size and concurrency, and leaves out a failed side', () => {
    const rows = [
      row({ workload: 'set', system: 'lmdb-sync', reads: 'linearizable', opsPerSec: 900 }),
      row({ workload: 'set', system: 'memory', reads: 'linearizable', opsPerSec: 5000 }),
      row({ workload: 'set', system: 'etcd', reads: 'linearizable', opsPerSec: 300 }),
      row({ workload: 'get', system: 'memory', reads: 'linearizable', opsPerSec: 6000 }),
      row({ workload: 'get', system: 'memory', reads: 'stale', opsPerSec: 20000 }),
      row({ workload: 'get', system: 'etcd', reads: 'linearizable', opsPerSec: 3000 }),
      row({ workload: 'get', system: 'memcached', reads: 'local', opsPerSec: 50000, error: 'did not start' }),
      row({ workload: 'get', system: 'etcd', reads: 'linearizable', opsPerSec: 1000, concurrency: 1 }),
    ];
    const r = ratios(rows).map((x) => [x.name, x.concurrency, x.ratio]);
    expect(r).toEqual([
      ['durable writes', 16, 3],
      ['linearizable reads', 16, 2],
      ['linearizable reads', 1, undefined],
      ['stale local reads', 16, undefined],
    ]);
  });

  it('calls only a run of every size, concurrency, workload and system full', () => {
    expect(isFullKvRun({ quick: false, rows: [row({ workload: 'get', system: 'memory', reads: 'stale', opsPerSec: 1 })] })).toBe(false);
  });

  it("rewrites only KV.md's generated block, and appends one where there is none", () => {
    const doc = `# title\n\nprose before\n\n${KV_BEGIN}\nold table\n${KV_END}\n\nprose after\n`;
    expect(spliceKvMarkdown(doc, `${KV_BEGIN}\nnew\n${KV_END}`)).toBe(`# title\n\nprose before\n\n${KV_BEGIN}\nnew\n${KV_END}\n\nprose after\n`);
    expect(spliceKvMarkdown('# title\n', 'gen')).toBe('# title\n\ngen\n');
  });
});

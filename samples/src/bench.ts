#!/usr/bin/env node
/**
 * `pnpm bench`: LibPaxos3's own benchmark — real processes on 127.0.0.1 driven by the client — over
 * a grid of configurations. Counting is LibPaxos3's: the client's own values its learner delivered,
 * each once, per second. A full run (the whole grid) writes bench/results/<timestamp>.json and
 * redraws bench/RESULTS.md and bench/chart.svg from it; a quick or partial run writes
 * bench/local/<timestamp>.json (ignored by git) and changes nothing else. `--report` redraws
 * RESULTS.md and the chart from the newest full run in bench/results without running anything.
 * Exits 1 when a configuration failed or delivered nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll, waitListening } from './children.js';
import {
  BATCHING,
  FULL_GRID_SIZE,
  MODES,
  OUTSTANDING,
  SIZES,
  STORAGES,
  table,
  type Result,
  type Run,
  type Setup,
} from './bench-report.js';
import { newestFullRun, writeReport } from './bench-files.js';
import { numberFlag, sampleArgs } from './cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const benchDir = join(root, 'bench');

const csv =
  <T extends string | number>(flag: string, all: readonly T[]) =>
  (v: unknown) => {
    const items = String(v)
      .split(',')
      .map((x) => x.trim());
    for (const x of items) if (!all.map(String).includes(x)) throw new Error(`--${flag}: '${x}' is not one of ${all.join(', ')}`);
    return items;
  };

const argv = sampleArgs('pnpm bench')
  .usage(
    'Usage: $0 [--quick] [--mode …] [--size …] [--outstanding …] [--storage …] [--batching …] [--seconds S] [--warmup S] [--port-base P]\n       $0 --report\n\n' +
      'A full run (no --quick, no subset) writes bench/results/<timestamp>.json and redraws bench/RESULTS.md and bench/chart.svg;\n' +
      'a quick or partial run writes bench/local/<timestamp>.json (ignored by git) and changes nothing else.',
  )
  .option('quick', { type: 'boolean', default: false, describe: 'a small subset in about a minute' })
  .option('mode', { type: 'string', coerce: csv('mode', MODES), describe: `comma-separated: ${MODES.join(', ')}` })
  .option('size', { type: 'string', coerce: csv('size', SIZES), describe: `value sizes (-v): ${SIZES.join(', ')}` })
  .option('outstanding', { type: 'string', coerce: csv('outstanding', OUTSTANDING), describe: `client -o: ${OUTSTANDING.join(', ')}` })
  .option('storage', { type: 'string', coerce: csv('storage', STORAGES), describe: STORAGES.join(', ') })
  .option('batching', { type: 'string', coerce: csv('batching', BATCHING), describe: 'off, on' })
  .option('seconds', { coerce: numberFlag('seconds', { integer: true, min: 1, max: 3600, unit: 'seconds' }), describe: 'measured seconds per configuration (default 10, quick 4)' })
  .option('warmup', { coerce: numberFlag('warmup', { integer: true, min: 0, max: 600, unit: 'seconds' }), describe: 'warm-up seconds per configuration (default 2, quick 1)' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 64_000 }), describe: 'first port on 127.0.0.1 to use (default: from the process id)' })
  .option('report', { type: 'boolean', default: false, describe: 'redraw bench/RESULTS.md and bench/chart.svg from the newest full run in bench/results, run nothing' })
  .strictOptions()
  .parseSync();

/** Redraws RESULTS.md (with the newest checkpoints run) and the chart from `run`, the full run stored as bench/results/`file`. */
function report(run: Run, file: string): void {
  writeReport(benchDir, run, file);
}

if (argv.report) {
  const newest = newestFullRun(benchDir);
  if (newest === undefined) {
    process.stderr.write(`pnpm bench --report: no full run in bench/results; run \`pnpm bench\` first\n`);
    process.exit(1);
  }
  report(newest.run, newest.file);
  process.stdout.write(`Redrew bench/RESULTS.md and bench/chart.svg from bench/results/${newest.file}.\n`);
  process.exit(0);
}

const quick = argv.quick;
const seconds = argv.seconds ?? (quick ? 4 : 10);
const warmup = argv.warmup ?? (quick ? 1 : 2);
const pick = <T>(chosen: string[] | undefined, all: readonly T[], quickSet: readonly T[]): T[] =>
  chosen !== undefined ? all.filter((x) => chosen.includes(String(x))) : [...(quick ? quickSet : all)];

const grid: Setup[] = [];
for (const mode of pick(argv.mode, MODES, ['replica', 'split'] as const))
  for (const size of pick(argv.size, SIZES, [64] as const))
    for (const outstanding of pick(argv.outstanding, OUTSTANDING, [1, 100] as const))
      for (const storage of pick(argv.storage, STORAGES, ['memory'] as const))
        for (const batching of pick(argv.batching, BATCHING, ['off', 'on'] as const)) grid.push({ mode, size, outstanding, storage, batching });
if (quick && argv.storage === undefined) grid.push({ mode: 'replica', size: 64, outstanding: 100, storage: 'lmdb-sync', batching: 'on' });

// Ports of our own, well away from the test suites' ranges; each configuration gets fresh ones.
let nextPort = argv['port-base'] ?? 41000 + (process.pid % 50) * 100;
const ports = (n: number) => Array.from({ length: n }, () => nextPort++);

function configText(s: Setup, p: number[], dir: string): string {
  const lines =
    s.mode === 'replica'
      ? p.slice(0, 3).map((port, i) => `replica ${i} 127.0.0.1 ${port}`)
      : [...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`];
  lines.push('verbosity error');
  if (s.storage !== 'memory') lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'acceptor')}`, 'acceptor-trash-files yes', 'lmdb-mapsize 64mb');
  if (s.storage === 'lmdb-sync') lines.push('lmdb-sync yes');
  if (s.batching === 'on') lines.push('proposer-batch-max-values 1024', 'proposer-batch-max-bytes 1mb');
  return `${lines.join('\n')}\n`;
}

/** Every process the run started that still runs, and the current configuration's folder. */
const live = new Set<ChildProcess>();
let currentDir: string | undefined;

function node(script: string, args: string[], stdout: 'pipe' | 'ignore'): ChildProcess {
  const child = spawn(process.execPath, [join(here, script), ...args], { stdio: ['ignore', stdout, 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

// Interrupted: stop what runs and remove its folder, so nothing is left behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stopAll([...live]).then(() => {
      if (currentDir !== undefined) rmSync(currentDir, { recursive: true, force: true });
      process.stderr.write(`pnpm bench: stopped by ${signal}; nothing was written\n`);
      process.exit(1);
    });
  });
}

/** CPU seconds used so far and peak RSS (MiB) of a process, from /proc (Linux). */
function procStats(pid: number | undefined): { cpu: number; rss: number } {
  try {
    if (pid === undefined) return { cpu: 0, rss: 0 };
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(stat[11]) + Number(stat[12]);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpu: ticks / 100, rss: Number(hwm?.[1] ?? 0) / 1024 };
  } catch {
    return { cpu: 0, rss: 0 };
  }
}

async function runOne(s: Setup): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-bench-'));
  currentDir = dir;
  const p = ports(4);
  const path = join(dir, 'paxos.conf');
  writeFileSync(path, configText(s, p, dir));
  const servers: { role: string; child: ChildProcess }[] =
    s.mode === 'replica'
      ? [0, 1, 2].map((i) => ({ role: `replica ${i}`, child: node('replica.js', [String(i), path], 'ignore') }))
      : [
          ...[0, 1, 2].map((i) => ({ role: `acceptor ${i}`, child: node('acceptor.js', [String(i), path], 'ignore') })),
          { role: 'proposer 0', child: node('proposer.js', ['0', path], 'ignore') },
        ];
  const empty = { perSecond: [], valuesPerSec: { median: 0, min: 0, max: 0 }, mbps: 0, latencyUs: { p50: 0, p99: 0, max: 0 }, processes: [] };
  try {
    for (const port of s.mode === 'replica' ? p.slice(0, 3) : p) {
      if (!(await waitListening('127.0.0.1', port, 10_000))) return { ...s, ...empty, error: `port ${port} never started listening` };
    }
    const client = node('client.js', [path, '-o', String(s.outstanding), '-v', String(s.size), '--json', '--warmup', String(warmup), '--duration', String(warmup + seconds)], 'pipe');
    let out = '';
    client.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const all = [...servers, { role: 'client', child: client }];
    const before = new Map<string, number>();
    const warmTimer = new Promise<void>((r) =>
      setTimeout(() => {
        for (const x of all) before.set(x.role, procStats(x.child.pid).cpu);
        r();
      }, warmup * 1000),
    );
    let after = new Map<string, { cpu: number; rss: number }>();
    const sample = setTimeout(() => (after = new Map(all.map((x) => [x.role, procStats(x.child.pid)]))), (warmup + seconds) * 1000 - 200);
    const code = await new Promise<number>((r) => client.once('exit', (c) => r(c ?? 1)));
    clearTimeout(sample);
    await warmTimer;
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; values: number; mbps: number; latencyUs: { p50: number; p99: number; max: number } });
    const perSecond = lines.filter((l) => l.type === 'second').slice(warmup).map((l) => l.values);
    const mbpsAll = lines.filter((l) => l.type === 'second').slice(warmup).map((l) => l.mbps);
    const summary = lines.find((l) => l.type === 'summary');
    const sorted = [...perSecond].sort((a, b) => a - b);
    return {
      ...s,
      perSecond,
      valuesPerSec: { median: sorted[Math.floor(sorted.length / 2)] ?? 0, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 },
      mbps: Number((mbpsAll.sort((a, b) => a - b)[Math.floor(mbpsAll.length / 2)] ?? 0).toFixed(2)),
      latencyUs: summary?.latencyUs ?? { p50: 0, p99: 0, max: 0 },
      processes: all.map((x) => ({
        role: x.role,
        cpuPercent: Math.round((((after.get(x.role)?.cpu ?? 0) - (before.get(x.role) ?? 0)) / Math.max(0.1, seconds - 0.2)) * 100),
        peakRssMiB: Math.round(after.get(x.role)?.rss ?? 0),
      })),
      ...(code !== 0 || summary === undefined ? { error: `client exited with ${code}` } : {}),
    };
  } finally {
    await stopAll(servers.map((x) => x.child));
    rmSync(dir, { recursive: true, force: true });
    currentDir = undefined;
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const label = (s: Setup) => `${s.mode} ${s.size} B -o ${s.outstanding} ${s.storage} batching ${s.batching}`;
const clock = (ms: number) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
process.stderr.write(`pnpm bench: ${grid.length} configurations, ${warmup} s warm-up + ${seconds} s each; ${machine.cores} cores, Node ${machine.node}\n`);
const started = Date.now();
const results: Result[] = [];
for (const [i, s] of grid.entries()) {
  const elapsed = Date.now() - started;
  const eta = i === 0 ? (warmup + seconds + 2) * 1000 * grid.length : (elapsed / i) * (grid.length - i);
  process.stderr.write(`[${i + 1}/${grid.length}] ${label(s)} — elapsed ${clock(elapsed)}, ETA ${clock(eta)}\n`);
  const r = await runOne(s);
  results.push(r);
  process.stderr.write(`    ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec.median)} values/s, p50 ${r.latencyUs.p50} µs`}\n`);
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const run: Run = { date: new Date().toISOString(), machine, warmupSeconds: warmup, measuredSeconds: seconds, quick, results };
// Only a run of the whole grid is committed and shown; quick and partial runs stay local.
const full = !quick && grid.length === FULL_GRID_SIZE;
const folder = full ? 'results' : 'local';
mkdirSync(join(benchDir, folder), { recursive: true });
writeFileSync(join(benchDir, folder, `${stamp}.json`), `${JSON.stringify(run, null, 2)}\n`);
process.stdout.write(`\n${table(results)}\n\n`);
if (full) {
  report(run, `${stamp}.json`);
  process.stdout.write(`Wrote bench/results/${stamp}.json, bench/RESULTS.md and bench/chart.svg.\n`);
} else {
  process.stdout.write(`Wrote bench/local/${stamp}.json (ignored by git). A ${quick ? 'quick' : 'partial'} run leaves bench/RESULTS.md and bench/chart.svg as they are: they show the last full run.\n`);
}
const failed = results.filter((r) => r.error !== undefined);
if (failed.length > 0) {
  process.stderr.write(`pnpm bench: ${failed.length} of ${results.length} configurations failed (${failed.map((r) => `${label(r)}: ${r.error}`).join('; ')}).\n`);
  process.exit(1);
}

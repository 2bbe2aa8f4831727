#!/usr/bin/env node
/**
 * `pnpm bench`: LibPaxos3's own benchmark — real processes on 127.0.0.1 driven by the client — over
 * a grid of configurations. Counting is LibPaxos3's: the client's own values its learner delivered,
 * each once, per second. Writes bench/results/<timestamp>.json, regenerates bench/RESULTS.md and
 * bench/chart.svg, and prints the table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll, waitListening } from './children.js';
import { sampleArgs } from './cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const benchDir = join(root, 'bench');

const MODES = ['replica', 'split'] as const;
const SIZES = [64, 1024, 8192] as const;
const OUTSTANDING = [1, 10, 100] as const;
const STORAGES = ['memory', 'lmdb', 'lmdb-sync'] as const;
const BATCHING = ['off', 'on'] as const;
type Mode = (typeof MODES)[number];
type Storage = (typeof STORAGES)[number];

interface Setup {
  mode: Mode;
  size: number;
  outstanding: number;
  storage: Storage;
  batching: 'off' | 'on';
}

interface ProcStats {
  role: string;
  cpuPercent: number;
  peakRssMiB: number;
}

interface Result extends Setup {
  perSecond: number[];
  valuesPerSec: { median: number; min: number; max: number };
  mbps: number;
  latencyUs: { p50: number; p99: number; max: number };
  processes: ProcStats[];
  error?: string;
}

const csv = <T extends string | number>(all: readonly T[]) => (v: unknown) => {
  const items = String(v)
    .split(',')
    .map((x) => x.trim());
  for (const x of items) if (!all.map(String).includes(x)) throw new Error(`'${x}' is not one of ${all.join(', ')}`);
  return items;
};

const argv = sampleArgs('pnpm bench')
  .usage('Usage: $0 [--quick] [--mode …] [--size …] [--outstanding …] [--storage …] [--batching …] [--seconds S] [--warmup S]')
  .option('quick', { type: 'boolean', default: false, describe: 'a small subset in about a minute' })
  .option('mode', { type: 'string', coerce: csv(MODES), describe: `comma-separated: ${MODES.join(', ')}` })
  .option('size', { type: 'string', coerce: csv(SIZES), describe: `value sizes (-v): ${SIZES.join(', ')}` })
  .option('outstanding', { type: 'string', coerce: csv(OUTSTANDING), describe: `client -o: ${OUTSTANDING.join(', ')}` })
  .option('storage', { type: 'string', coerce: csv(STORAGES), describe: STORAGES.join(', ') })
  .option('batching', { type: 'string', coerce: csv(BATCHING), describe: 'off, on' })
  .option('seconds', { type: 'number', describe: 'measured seconds per configuration (default 10, quick 4)' })
  .option('warmup', { type: 'number', describe: 'warm-up seconds per configuration (default 2, quick 1)' })
  .help()
  .strictOptions()
  .parseSync();

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
let nextPort = 41000 + (process.pid % 50) * 100;
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

function node(script: string, args: string[], stdout: 'pipe' | 'ignore'): ChildProcess {
  return spawn(process.execPath, [join(here, script), ...args], { stdio: ['ignore', stdout, 'pipe'] });
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
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const label = (s: Setup) => `${s.mode} ${s.size} B -o ${s.outstanding} ${s.storage} batching ${s.batching}`;
const clock = (ms: number) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;

function table(results: Result[]): string {
  const head = '| mode | value | -o | storage | batching | values/s median (min–max) | Mbps | latency p50 / p99 / max µs | CPU % (each process) | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|';
  const rows = results.map(
    (r) =>
      `| ${r.mode} | ${r.size} B | ${r.outstanding} | ${r.storage} | ${r.batching} | ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec.median)} (${fmt(r.valuesPerSec.min)}–${fmt(r.valuesPerSec.max)})`} | ${r.mbps} | ${r.latencyUs.p50} / ${r.latencyUs.p99} / ${r.latencyUs.max} | ${r.processes.map((p) => p.cpuPercent).join(' ')} | ${Math.max(0, ...r.processes.map((p) => p.peakRssMiB))} |`,
  );
  return `${head}\n${rows.join('\n')}`;
}

function chart(results: Result[]): string {
  // values/sec against outstanding, one line per value size, mode and batching (memory storage).
  const series = new Map<string, Result[]>();
  for (const r of results) {
    if (r.storage !== 'memory' || r.error) continue;
    const key = `${r.mode} ${r.size} B batching ${r.batching}`;
    series.set(key, [...(series.get(key) ?? []), r]);
  }
  const W = 760;
  const H = 420;
  const L = 70;
  const B = 40;
  const maxY = Math.max(1, ...results.map((r) => r.valuesPerSec.median));
  const xs = [1, 10, 100];
  const x = (o: number) => L + (xs.indexOf(o) / (xs.length - 1)) * (W - L - 260);
  const y = (v: number) => H - B - (v / maxY) * (H - B - 20);
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n`;
  svg += `<line x1="${L}" y1="${H - B}" x2="${W - 250}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="20" x2="${L}" y2="${H - B}" stroke="black"/>\n`;
  for (const o of xs) svg += `<text x="${x(o)}" y="${H - B + 15}" text-anchor="middle">-o ${o}</text>\n`;
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    svg += `<text x="${L - 5}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text><line x1="${L}" y1="${y(v)}" x2="${W - 250}" y2="${y(v)}" stroke="#eee"/>\n`;
  }
  svg += `<text x="${L}" y="12">values/sec delivered (median of per-second counts), memory storage</text>\n`;
  [...series.entries()].forEach(([name, rs], i) => {
    const c = colors[i % colors.length] as string;
    const pts = rs.sort((a, b) => a.outstanding - b.outstanding).map((r) => `${x(r.outstanding)},${y(r.valuesPerSec.median)}`);
    svg += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>\n`;
    svg += `<rect x="${W - 240}" y="${24 + i * 16}" width="10" height="10" fill="${c}"/><text x="${W - 225}" y="${33 + i * 16}">${name}</text>\n`;
  });
  return `${svg}</svg>\n`;
}

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

mkdirSync(join(benchDir, 'results'), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const run = { date: new Date().toISOString(), machine, warmupSeconds: warmup, measuredSeconds: seconds, quick, results };
writeFileSync(join(benchDir, 'results', `${stamp}.json`), `${JSON.stringify(run, null, 2)}\n`);

// RESULTS.md and the chart show the most recent full run (or this one, if there is none).
const files = readdirSync(join(benchDir, 'results')).filter((f) => f.endsWith('.json')).sort();
const runs = files.map((f) => JSON.parse(readFileSync(join(benchDir, 'results', f), 'utf8')) as typeof run & { file?: string });
const shown = [...runs].reverse().find((r) => !r.quick && r.results.length >= 100) ?? run;
writeFileSync(
  join(benchDir, 'RESULTS.md'),
  `# Benchmark results\n\nGenerated by \`pnpm bench\` from \`bench/results/\` (run of ${shown.date}). Setup: real processes on 127.0.0.1 — 3 replicas, or 3 acceptors + 1 proposer (split) — driven by the sample client; ${shown.warmupSeconds} s warm-up, then ${shown.measuredSeconds} s measured. Counting is LibPaxos3's: the client's own values delivered to its learner, each once, per second; value size is the client's \`-v\` (each value carries a 32-byte header more). Batching on: \`proposer-batch-max-values 1024\`, \`proposer-batch-max-bytes 1mb\`. lmdb: \`lmdb-sync no\`; lmdb-sync: \`lmdb-sync yes\`. CPU % is per process over the measured window (replicas or acceptors, proposer, then the client); a 2-core machine has 200 % in all.\n\nMachine: ${shown.machine.cores} cores (${shown.machine.cpu}), ${shown.machine.memoryGiB} GiB, Node ${shown.machine.node}, ${shown.machine.platform}.\n\n![values/sec against outstanding](chart.svg)\n\n${table(shown.results)}\n`,
);
writeFileSync(join(benchDir, 'chart.svg'), chart(shown.results));
process.stdout.write(`\n${table(results)}\n\nWrote bench/results/${stamp}.json${existsSync(join(benchDir, 'RESULTS.md')) ? ', bench/RESULTS.md and bench/chart.svg' : ''}.\n`);

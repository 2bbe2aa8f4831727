#!/usr/bin/env node
/**
 * `pnpm bench`: LibPaxos3's own benchmark — real processes on 127.0.0.1 driven by the client — over
 * a grid of configurations, then the leadership rows (competing clients, leadership off and on).
 * Counting is LibPaxos3's: the client's own values its learner delivered, each once, per second. A
 * full run (the whole grid and every leadership row) writes bench/results/<timestamp>.json and
 * redraws bench/RESULTS.md and bench/chart.svg from it; a quick or partial run writes
 * bench/local/<timestamp>.json (ignored by git) and changes nothing else. `--report` redraws
 * RESULTS.md and the chart from the newest full run in bench/results without running anything.
 * Exits 1 when a configuration failed or delivered nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessKey, parseConfig } from '@libpaxos/evpaxos';
import { stopAll, waitListening } from './children.js';
import {
  BATCHING,
  LEADERSHIP_CASES,
  LEADERSHIP_GRID_SIZE,
  LEADERSHIP_OUTSTANDING,
  MODES,
  OUTSTANDING,
  SIZES,
  STORAGES,
  hasTlsTwin,
  isFullRun,
  leadershipTable,
  peerTable,
  roundsTable,
  table,
  tlsTable,
  type Batching,
  type Mode,
  type PeerResult,
  type Storage,
  type ClientFigure,
  type LeadershipResult,
  type LeadershipSetup,
  type ProcStats,
  type Result,
  type Run,
  type Setup,
} from './bench-report.js';
import { newestFullRun, writeReport } from './bench-files.js';
import { makeClusterCerts } from './certs.js';
import { numberFlag, sampleArgs } from './cli.js';
import { onFreshPorts } from './bench-retry.js';

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
    'Usage: $0 [--quick] [--leadership | --grid-only] [--mode …] [--size …] [--outstanding …] [--storage …] [--batching …] [--tls …] [--rounds N] [--metrics] [--conf LINE] [--seconds S] [--warmup S] [--port-base P] [--libpaxos3 DIR] [--no-skeleton | --skeleton-only]\n       $0 --report\n\n' +
      'The grid, then the leadership rows (replica mode, 64 B, memory, no TLS: one client at replica 0, then a client at each of the 3 replicas,\n' +
      'leadership off and on, -o 10 and 100, each batching setting), unless the options leave them out.\n' +
      'A full run (no --quick, no subset) writes bench/results/<timestamp>.json and redraws bench/RESULTS.md and bench/chart.svg;\n' +
      'a quick or partial run writes bench/local/<timestamp>.json (ignored by git) and changes nothing else.\n' +
      'Without --tls, the configurations 64 B and 1 KiB, -o 100, memory, batching on also run with mutual TLS, each right after its twin without.',
  )
  .option('quick', { type: 'boolean', default: false, describe: 'a small subset in about a minute' })
  .option('leadership', {
    type: 'boolean',
    default: false,
    describe: 'only the leadership rows: one client vs a client at each of 3 replicas, leadership off and on, -o 10 and 100 (about 4 min; with --outstanding and --batching, a subset)',
  })
  .option('grid-only', { type: 'boolean', default: false, describe: 'leave the leadership rows out (with --rounds and --libpaxos3: repeated pairs of a few rows; a partial run)' })
  .option('mode', { type: 'string', coerce: csv('mode', MODES), describe: `comma-separated: ${MODES.join(', ')}` })
  .option('size', { type: 'string', coerce: csv('size', SIZES), describe: `value sizes (-v): ${SIZES.join(', ')}` })
  .option('outstanding', { type: 'string', coerce: csv('outstanding', OUTSTANDING), describe: `client -o: ${OUTSTANDING.join(', ')}` })
  .option('storage', { type: 'string', coerce: csv('storage', STORAGES), describe: STORAGES.join(', ') })
  .option('batching', { type: 'string', coerce: csv('batching', BATCHING), describe: 'off, on' })
  .option('tls', {
    type: 'string',
    coerce: csv('tls', ['off', 'on'] as const),
    describe:
      'off, on or off,on: every configuration of the grid without TLS, with it, or both (each with right after without); default: off, plus on for 64 B and 1 KiB -o 100 memory batching on. The leadership rows run without TLS: --tls on leaves them out',
  })
  .option('metrics', { type: 'boolean', default: false, describe: 'every server also serves /metrics (--metrics-port 0), to measure what counting costs (a partial run)' })
  .option('conf', {
    type: 'string',
    array: true,
    describe: "a paxos.conf line added to every cluster's config, e.g. --conf 'accepted-digests no' (repeatable; to compare a setting against a run without it; a partial run)",
  })
  .option('rounds', { coerce: numberFlag('rounds', { integer: true, min: 1, max: 20 }), describe: 'run the selected configurations (grid, then leadership rows) this many times over, in order (a partial run)' })
  .option('seconds', { coerce: numberFlag('seconds', { integer: true, min: 1, max: 3600, unit: 'seconds' }), describe: 'measured seconds per configuration (default 10, quick 4)' })
  .option('warmup', { coerce: numberFlag('warmup', { integer: true, min: 0, max: 600, unit: 'seconds' }), describe: 'warm-up seconds per configuration (default 2, quick 1)' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 64_000 }), describe: 'first port on 127.0.0.1 to use (default: 3000–7900, from the process id, wrapping at 8000: below the ephemeral range and the test suites)' })
  .option('report', { type: 'boolean', default: false, describe: 'redraw bench/RESULTS.md and bench/chart.svg from the newest full run in bench/results, run nothing' })
  .option('skeleton', {
    type: 'boolean',
    default: true,
    describe: 'run the skeleton (our message pattern without Paxos) of each mode, value size, -o and batching setting before its first row, for the "of the skeleton" column (--no-skeleton skips it)',
  })
  .option('skeleton-only', { type: 'boolean', default: false, describe: 'only the skeletons of the selected configurations (pnpm bench:skeleton; a partial run)' })
  .option('libpaxos3', {
    type: 'string',
    describe: 'a folder with C LibPaxos3 sample programs (replica, acceptor, proposer, client; commit d255f8b): run each mode, value size, -o and storage with them right after ours, for the "vs C LibPaxos3" column',
  })
  .strictOptions()
  .parseSync();

if (argv.leadership && argv['grid-only']) {
  process.stderr.write('pnpm bench: --leadership runs only the leadership rows and --grid-only leaves them out; give one of them\n');
  process.exit(1);
}

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
/** `--conf` lines, for every cluster of ours (not C LibPaxos3's, nor the skeleton's). */
const extraConf: readonly string[] = (argv.conf ?? []).map(String);
// Checked before anything runs, together (keys may need each other: checkpoint-trim needs
// checkpoint-dir): a typo would otherwise fail every configuration, one by one, as processes that
// exit at start.
if (extraConf.length > 0) {
  const refuse = (line: string | undefined, why: string): never => {
    process.stderr.write(`pnpm bench ${line !== undefined ? `--conf '${line}'` : extraConf.map((l) => `--conf '${l}'`).join(' ')}: ${why} (nothing was run)\n`);
    process.exit(1);
  };
  for (const line of extraConf) {
    const key = line.trim().split(/\s+/)[0] ?? '';
    if (isProcessKey(key)) refuse(line, `'${key}' lines are the bench's to write (it starts the processes of each configuration)`);
  }
  try {
    parseConfig(`${extraConf.join('\n')}\nreplica 0 127.0.0.1 10000\n`, '--conf');
  } catch (e) {
    const message = (e as Error).message;
    const at = /^--conf:(\d+): /.exec(message);
    const line = at !== null ? extraConf[Number(at[1]) - 1] : undefined;
    refuse(line, line !== undefined ? message.slice((at?.[0] ?? '').length) : message.replace(/^--conf: /, ''));
  }
}
const seconds = argv.seconds ?? (quick ? 4 : 10);
const warmup = argv.warmup ?? (quick ? 1 : 2);
/**
 * Every client runs this long past the measured seconds: its per-second ticker and its stop timer
 * would both fire at the end of the last second, and the stop often came first, so the last line
 * was lost (`--seconds 2` measured one second, `--seconds 1` none).
 */
const CLIENT_TAIL_S = 0.5;
/** How long every client of a row runs: the warm-up, the measured seconds and the tail. */
const clientSeconds = warmup + seconds + CLIENT_TAIL_S;
const pick = <T>(chosen: string[] | undefined, all: readonly T[], quickSet: readonly T[]): T[] =>
  chosen !== undefined ? all.filter((x) => chosen.includes(String(x))) : [...(quick ? quickSet : all)];

const setups: Setup[] = [];
for (const mode of pick(argv.mode, MODES, ['replica', 'split'] as const))
  for (const size of pick(argv.size, SIZES, [64] as const))
    for (const outstanding of pick(argv.outstanding, OUTSTANDING, [1, 100] as const))
      for (const storage of pick(argv.storage, STORAGES, ['memory'] as const))
        for (const batching of pick(argv.batching, BATCHING, ['off', 'on'] as const)) setups.push({ mode, size, outstanding, storage, batching });
if (quick && argv.storage === undefined) setups.push({ mode: 'replica', size: 64, outstanding: 100, storage: 'lmdb-sync', batching: 'on' });
if (argv.leadership) setups.length = 0;
// TLS rows go right after their twins without TLS, so that each pair sees the same machine load.
const tls = argv.tls;
const once: Setup[] = setups.flatMap((s): Setup[] => {
  if (tls === undefined) return hasTlsTwin(s) ? [{ ...s, tls: 'off' }, { ...s, tls: 'on' }] : [{ ...s, tls: 'off' }];
  return tls.map((t) => ({ ...s, tls: t as 'off' | 'on' }));
});

// The leadership rows run in replica mode with 64 B values, memory storage and no TLS: only when
// the options do not leave those out. Per -o and batching: one client alone (leadership off, on),
// then a client at each replica (on, off), so every competing figure has one client's beside it.
const leadershipOnce: LeadershipSetup[] = [];
const chosen = (list: string[] | undefined, x: string) => list === undefined || list.includes(x);
if (chosen(argv.mode, 'replica') && chosen(argv.size, '64') && chosen(argv.storage, 'memory') && chosen(tls, 'off')) {
  for (const outstanding of LEADERSHIP_OUTSTANDING.filter((o) => chosen(argv.outstanding, String(o)) && (!quick || o === 100)))
    for (const batching of BATCHING.filter((b) => chosen(argv.batching, b) && (!quick || b === 'on')))
      for (const [leader, clients] of LEADERSHIP_CASES) leadershipOnce.push({ outstanding, batching, leader, clients });
}

// C LibPaxos3's folder, checked before anything runs.
const cDir = argv.libpaxos3;
if (cDir !== undefined) {
  const missing = ['replica', 'acceptor', 'proposer', 'client'].filter((b) => !existsSync(join(cDir, b)));
  if (missing.length > 0) {
    process.stderr.write(`pnpm bench --libpaxos3 ${cDir}: no ${missing.join(', ')} there; give the folder holding C LibPaxos3's built sample programs (build/sample)\n`);
    process.exit(1);
  }
}
if (argv['skeleton-only'] || argv['grid-only']) {
  leadershipOnce.length = 0;
}

// Each round runs the grid, then the leadership rows. The skeleton of a mode, value size, -o and
// batching setting runs before the first row that needs it; C LibPaxos3 runs a mode, value size, -o and storage
// right after our last row of it (it has no batching and no TLS).
const rounds = argv.rounds ?? 1;
/** `storage`: C LibPaxos3's only; `batching`: the skeleton's only (C LibPaxos3 has none). */
type PeerSetup = { mode: Mode; size: number; outstanding: number; storage?: Storage; batching?: Batching; round: number };
type Step =
  | { kind: 'grid'; setup: Setup & { round: number } }
  | { kind: 'leadership'; setup: LeadershipSetup & { round: number } }
  | { kind: 'skeleton'; setup: PeerSetup }
  | { kind: 'libpaxos3'; setup: PeerSetup };
const plan: Step[] = Array.from({ length: rounds }, (_, r): Step[] => {
  const round = r + 1;
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const [i, s] of once.entries()) {
    const key = `${s.mode} ${s.size} ${s.outstanding} ${s.batching}`;
    if ((argv.skeleton || argv['skeleton-only']) && !seen.has(key)) {
      seen.add(key);
      steps.push({ kind: 'skeleton', setup: { mode: s.mode, size: s.size, outstanding: s.outstanding, batching: s.batching, round } });
    }
    if (!argv['skeleton-only']) steps.push({ kind: 'grid', setup: { ...s, round } });
    const next = once[i + 1];
    const sameC = next !== undefined && next.mode === s.mode && next.size === s.size && next.outstanding === s.outstanding && next.storage === s.storage;
    if (cDir !== undefined && !argv['skeleton-only'] && !sameC) {
      steps.push({ kind: 'libpaxos3', setup: { mode: s.mode, size: s.size, outstanding: s.outstanding, storage: s.storage, round } });
    }
  }
  return [...steps, ...leadershipOnce.map((s): Step => ({ kind: 'leadership', setup: { ...s, round } }))];
}).flat();

// Ports of our own; each configuration gets fresh ones, from 3000–7900 (by the process id) up to
// 7999 and then from 3000 again (a full round takes about 860, and --rounds repeats it): below
// Linux's ephemeral range (32768–60999), whose ports any outgoing connection on the machine may hold
// as its local port (a row of a 4-round run once failed so, with the base at 41000), below chaos's
// 8000–9799 and the test suites' 10000–32599. A port a server already listens on there is met as
// any taken port is: the configuration runs again on the next ports (bench-retry.ts). A
// --port-base above 7999 counts on from there without wrapping.
const PORTS_FROM = 3000;
const PORTS_END = 8000;
let nextPort = argv['port-base'] ?? PORTS_FROM + (process.pid % 50) * 100;
const ports = (n: number) => {
  if (argv['port-base'] === undefined && nextPort + n > PORTS_END) nextPort = PORTS_FROM;
  return Array.from({ length: n }, () => nextPort++);
};

/** Certificates for every process of a benchmark cluster, made once, when the first TLS row runs. */
let certsDir: string | undefined;
process.on('exit', () => {
  if (certsDir !== undefined) rmSync(certsDir, { recursive: true, force: true });
});
let certLines: readonly string[] | undefined;
function tlsLines(): readonly string[] {
  certsDir = mkdtempSync(join(tmpdir(), 'paxos-bench-certs-'));
  return makeClusterCerts(certsDir, ['replica-0', 'replica-1', 'replica-2', 'acceptor-0', 'acceptor-1', 'acceptor-2', 'proposer-0', 'client']).configLines;
}

function configText(s: Setup & { leader?: 'off' | 'on' }, p: number[], dir: string): string {
  const lines =
    s.mode === 'replica'
      ? p.slice(0, 3).map((port, i) => `replica ${i} 127.0.0.1 ${port}`)
      : [...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`];
  lines.push('verbosity error');
  if (s.storage !== 'memory') lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'acceptor')}`, 'acceptor-trash-files yes', 'lmdb-mapsize 64mb');
  if (s.storage === 'lmdb-sync') lines.push('lmdb-sync yes');
  if (s.batching === 'on') lines.push('proposer-batch-max-values 1024', 'proposer-batch-max-bytes 1mb');
  if (s.tls === 'on') lines.push(...(certLines ??= tlsLines()));
  if (s.leader === 'on') lines.push('leader yes');
  lines.push(...extraConf);
  return `${lines.join('\n')}\n`;
}

/** The last lines each process wrote to stderr. */
const tails = new WeakMap<ChildProcess, string>();
/**
 * A process's last stderr line, for an error message; for a process that could not start, the
 * line before LibPaxos3's `Could not start the replica!`, which says why (`cannot listen on …:
 * another process is using that port`).
 */
const lastLine = (c: ChildProcess) => {
  const lines = (tails.get(c) ?? '').split('\n').filter((l) => l.trim() !== '');
  const last = lines.pop() ?? '';
  return /^Could not start the /.test(last) && lines.length > 0 ? (lines.pop() as string).trim() : last.trim();
};

/** Every process the run started that still runs, and the current configuration's folder. */
const live = new Set<ChildProcess>();
let currentDir: string | undefined;

/** One of our samples, under this Node. */
function node(script: string, args: string[], stdout: 'pipe' | 'ignore'): ChildProcess {
  const withMetrics = argv.metrics && script !== 'client.js' ? [...args, '--metrics-port', '0'] : args;
  return program(process.execPath, [join(here, script), ...withMetrics], stdout);
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

async function runOne(s: Setup & { round: number }): Promise<Result> {
  const loadBefore = loadavg()[0] ?? 0;
  const r = await measure(s);
  return { ...r, round: s.round, load: [Number(loadBefore.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))] };
}

async function measure(s: Setup): Promise<Result> {
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
    const run = await runClient(servers, s.mode === 'replica' ? p.slice(0, 3) : p, () =>
      node('client.js', [path, '-o', String(s.outstanding), '-v', String(s.size), '--json', '--warmup', String(warmup), '--duration', String(clientSeconds)], 'pipe'),
    );
    if ('error' in run) return { ...s, ...empty, error: run.error };
    const { out, code, processes } = run;
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
      processes,
      ...(code !== 0 || summary === undefined ? { error: `client exited with ${code}` } : {}),
    };
  } finally {
    await stopAll(servers.map((x) => x.child));
    rmSync(dir, { recursive: true, force: true });
    currentDir = undefined;
  }
}

/**
 * Waits until `servers` listen on `listen`, then runs the client `startClient` starts for the
 * warm-up and the measured seconds (`interrupt`: it runs until SIGINT, as C LibPaxos3's does),
 * sampling every process's CPU at the end of the warm-up and just before the end: the client's
 * stdout and exit code with each process's CPU % and peak RSS, or why a server never listened.
 */
async function runClient(
  servers: { role: string; child: ChildProcess }[],
  listen: readonly number[],
  startClient: () => ChildProcess,
  interrupt = false,
): Promise<{ error: string } | { out: string; code: number; client: ChildProcess; processes: ProcStats[] }> {
  for (const [k, port] of listen.entries()) {
    if (!(await waitListening('127.0.0.1', port, 10_000))) {
      const said = lastLine(servers[k]?.child as ChildProcess);
      return { error: `port ${port} never started listening${said !== '' ? ` (${servers[k]?.role}: ${said})` : ''}` };
    }
  }
  const client = startClient();
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
  const stop = interrupt ? setTimeout(() => client.kill('SIGINT'), clientSeconds * 1000) : undefined;
  const code = await new Promise<number>((r) => client.once('exit', (c) => r(c ?? 1)));
  clearTimeout(sample);
  if (stop !== undefined) clearTimeout(stop);
  await warmTimer;
  const processes = all.map((x) => ({
    role: x.role,
    cpuPercent: Math.round((((after.get(x.role)?.cpu ?? 0) - (before.get(x.role) ?? 0)) / Math.max(0.1, seconds - 0.2)) * 100),
    peakRssMiB: Math.round(after.get(x.role)?.rss ?? 0),
  }));
  return { out, code, client, processes };
}

/**
 * A process of the run (ours, the skeleton's, C LibPaxos3's), stopped with the others when the run
 * is. Its stderr is read, so that a chatty process never blocks on a full pipe, and its end kept for
 * error messages; `stdout` 'tail' keeps stdout's last lines with it, for a server that reports
 * errors there (C LibPaxos3's).
 */
function program(command: string, args: string[], stdout: 'pipe' | 'ignore' | 'tail'): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', stdout === 'tail' ? 'pipe' : stdout, 'pipe'] });
  const keep = (d: Buffer) => tails.set(child, `${tails.get(child) ?? ''}${d.toString()}`.slice(-2000));
  child.stderr?.on('data', keep);
  if (stdout === 'tail') child.stdout?.on('data', keep);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * Runs `servers` (listening on `listen`) and then `client` for the warm-up and the measured
 * seconds; reads the client's per-second figures (`json`: our client's lines; `libpaxos3`: C
 * LibPaxos3's `N value/sec, … latency min a us max b us avg c us`) and every process's CPU.
 */
async function measurePeer(
  s: PeerSetup,
  servers: { role: string; child: ChildProcess }[],
  listen: number[],
  startClient: () => ChildProcess,
  format: 'json' | 'libpaxos3',
): Promise<PeerResult> {
  const loadBefore = loadavg()[0] ?? 0;
  const base = {
    mode: s.mode,
    size: s.size,
    outstanding: s.outstanding,
    ...(s.storage !== undefined ? { storage: s.storage } : {}),
    ...(s.batching !== undefined ? { batching: s.batching } : {}),
    round: s.round,
  };
  const empty = { valuesPerSec: { median: 0, min: 0, max: 0 }, latencyUs: { p50: 0, p99: 0, max: 0 }, processes: [] };
  try {
    // C LibPaxos3's client runs until it is told to stop (SIGINT: it flushes and exits).
    const run = await runClient(servers, listen, startClient, format === 'libpaxos3');
    if ('error' in run) return { ...base, ...empty, error: run.error };
    const { out, client, processes } = run;
    const seconds_ =
      format === 'json'
        ? out
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as { type: string; values: number; latencyUs: { min: number; max: number; avg: number } })
            .filter((l) => l.type === 'second')
        : out
            .split('\n')
            .map((l) => /^(\d+) value\/sec, [\d.]+ Mbps, latency min (\d+) us max (\d+) us avg (\d+) us/.exec(l))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => ({ type: 'second', values: Number(m[1]), latencyUs: { min: Number(m[2]), max: Number(m[3]), avg: Number(m[4]) } }));
    const measured = seconds_.slice(warmup);
    const per = measured.map((l) => l.values).sort((a, b) => a - b);
    const avgs = measured.map((l) => l.latencyUs.avg).sort((a, b) => a - b);
    return {
      ...base,
      load: [Number(loadBefore.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
      valuesPerSec: { median: per[Math.floor(per.length / 2)] ?? 0, min: per[0] ?? 0, max: per[per.length - 1] ?? 0 },
      // Both clients print a mean per second: the median of those means, and the largest maximum.
      latencyUs: { p50: avgs[Math.floor(avgs.length / 2)] ?? 0, p99: 0, max: Math.max(0, ...measured.map((l) => l.latencyUs.max)) },
      processes,
      ...(per.length === 0 || per[per.length - 1] === 0 ? { error: `its client measured nothing${lastLine(client) !== '' ? ` (${lastLine(client)})` : ''}` } : {}),
    };
  } finally {
    await stopAll([...live]);
  }
}

/** The skeleton of a mode, value size, -o and batching setting (skeleton.ts): our pattern without Paxos. */
async function runSkeleton(s: PeerSetup): Promise<PeerResult> {
  const script = join(here, 'skeleton.js');
  const p = ports(4);
  // The skeleton's proposer batches as ours does (skeleton.ts), and its client unpacks the batches.
  const batch = s.batching === 'on' ? ['--batch'] : [];
  const servers =
    s.mode === 'replica'
      ? [0, 1, 2].map((i) => ({ role: `replica ${i}`, child: program(process.execPath, [script, 'replica', String(i), ...p.slice(0, 3).map(String), ...batch], 'ignore') }))
      : [
          ...[0, 1, 2].map((i) => ({ role: `acceptor ${i}`, child: program(process.execPath, [script, 'acceptor', String(i), String(p[i])], 'ignore') })),
          { role: 'proposer 0', child: program(process.execPath, [script, 'proposer', String(p[3]), ...p.slice(0, 3).map(String), ...batch], 'ignore') },
        ];
  const clientPorts = s.mode === 'replica' ? p.slice(0, 3) : [p[3] as number, ...p.slice(0, 3)];
  const flags = ['-o', String(s.outstanding), '-v', String(s.size), '--warmup', String(warmup), '--duration', String(clientSeconds)];
  return measurePeer(
    s,
    servers,
    s.mode === 'replica' ? p.slice(0, 3) : p,
    () => program(process.execPath, [script, 'client', ...clientPorts.map(String), ...(s.mode === 'split' ? ['--split'] : []), ...batch, ...flags], 'pipe'),
    'json',
  );
}

/** C LibPaxos3's sample programs on a configuration of its own (its keys only; no batching). */
async function runLibpaxos3(s: PeerSetup, dir: string): Promise<PeerResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'paxos-bench-c-'));
  currentDir = tmp;
  try {
    const p = ports(4);
    const lines =
      s.mode === 'replica'
        ? p.slice(0, 3).map((port, i) => `replica ${i} 127.0.0.1 ${port}`)
        : [...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`];
    lines.push('verbosity error');
    if (s.storage !== 'memory') lines.push('storage-backend lmdb', `lmdb-env-path ${join(tmp, 'acceptor')}`, 'acceptor-trash-files yes', 'lmdb-mapsize 1gb');
    if (s.storage === 'lmdb-sync') lines.push('lmdb-sync yes');
    const path = join(tmp, 'paxos.conf');
    writeFileSync(path, `${lines.join('\n')}\n`);
    // Its programs write to stdout block-buffered when it is a pipe: line-buffer them.
    const c = (bin: string, args: string[], out: 'pipe' | 'tail') => program('stdbuf', ['-oL', join(dir, bin), ...args], out);
    const servers =
      s.mode === 'replica'
        ? [0, 1, 2].map((i) => ({ role: `replica ${i}`, child: c('replica', [String(i), path], 'tail') }))
        : [...[0, 1, 2].map((i) => ({ role: `acceptor ${i}`, child: c('acceptor', [String(i), path], 'tail') })), { role: 'proposer 0', child: c('proposer', ['0', path], 'tail') }];
    return await measurePeer(s, servers, s.mode === 'replica' ? p.slice(0, 3) : p, () => c('client', [path, '-o', String(s.outstanding), '-v', String(s.size)], 'pipe'), 'libpaxos3');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    currentDir = undefined;
  }
}

/** One leadership row: 3 replicas, and a client at replica 0 or one at each replica, all at once. */
async function runLeadership(s: LeadershipSetup & { round: number }): Promise<LeadershipResult> {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-bench-'));
  currentDir = dir;
  const p = ports(3);
  const path = join(dir, 'paxos.conf');
  writeFileSync(path, configText({ mode: 'replica', size: 64, outstanding: s.outstanding, storage: 'memory', batching: s.batching, leader: s.leader }, p, dir));
  const replicas = [0, 1, 2].map((i) => node('replica.js', [String(i), path], 'ignore'));
  try {
    for (const [k, port] of p.entries()) {
      if (!(await waitListening('127.0.0.1', port, 10_000))) {
        const said = lastLine(replicas[k] as ChildProcess);
        return { ...s, valuesPerSec: 0, perClient: [], error: `port ${port} never started listening${said !== '' ? ` (replica ${k}: ${said})` : ''}` };
      }
    }
    const clients = Array.from({ length: s.clients }, (_, i) => {
      const child = node('client.js', [path, '-p', String(i), '-o', String(s.outstanding), '-v', '64', '--json', '--warmup', String(warmup), '--duration', String(clientSeconds)], 'pipe');
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      return { child, out: () => out, code: new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1))) };
    });
    const codes = await Promise.all(clients.map((c) => c.code));
    const perClient: ClientFigure[] = [];
    const silent: number[] = [];
    for (const [i, c] of clients.entries()) {
      const line = c
        .out()
        .split('\n')
        .find((l) => l.includes('"summary"'));
      if (line === undefined) {
        silent.push(i);
        continue;
      }
      const summary = JSON.parse(line) as { valuesPerSec: number; latencyUs: { p50: number; p99: number; max: number } };
      perClient.push({ replica: i, valuesPerSec: summary.valuesPerSec, latencyUs: summary.latencyUs });
    }
    const failed = codes.findIndex((c) => c !== 0);
    const error =
      failed >= 0
        ? `the client at replica ${failed} exited with ${codes[failed]}${lastLine(clients[failed]?.child as ChildProcess) !== '' ? ` (${lastLine(clients[failed]?.child as ChildProcess)})` : ''}`
        : silent.length > 0
          ? `the client at replica ${silent[0]} printed no summary`
          : undefined;
    return { ...s, valuesPerSec: perClient.reduce((n, c) => n + c.valuesPerSec, 0), perClient, ...(error !== undefined ? { error } : {}) };
  } finally {
    // The servers, and any client still running after a failure.
    await stopAll([...live]);
    rmSync(dir, { recursive: true, force: true });
    currentDir = undefined;
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const label = (s: Setup & { round?: number }) =>
  `${s.mode} ${s.size} B -o ${s.outstanding} ${s.storage} batching ${s.batching}${s.tls === 'on' ? ' TLS' : ''}${rounds > 1 ? ` (round ${s.round ?? 1})` : ''}`;
const leadershipLabel = (s: LeadershipSetup & { round?: number }) =>
  `leadership ${s.leader}, ${s.clients === 1 ? '1 client' : `${s.clients} clients (one per replica)`}, -o ${s.outstanding}, batching ${s.batching}${rounds > 1 ? ` (round ${s.round ?? 1})` : ''}`;
const clock = (ms: number) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
if (plan.length === 0) {
  process.stderr.write('pnpm bench: the options leave no configuration to run (the leadership rows need replica mode, 64 B, memory storage, TLS off and -o 10 or 100).\n');
  process.exit(1);
}
const gridSteps = plan.filter((x) => x.kind === 'grid').length;
const leadershipSteps = plan.filter((x) => x.kind === 'leadership').length;
const loadStart = loadavg()[0] ?? 0;
process.stderr.write(
  `pnpm bench: ${gridSteps} configurations${leadershipSteps > 0 ? ` and ${leadershipSteps} leadership rows` : ''}, ${warmup} s warm-up + ${seconds} s each; ${machine.cores} cores, Node ${machine.node}, load average ${loadStart.toFixed(1)}\n`,
);
const started = Date.now();
const results: Result[] = [];
const leadership: LeadershipResult[] = [];
const skeleton: PeerResult[] = [];
const libpaxos3: PeerResult[] = [];
const peerLabel = (what: string, s: PeerSetup) =>
  `${what}: ${s.mode} ${s.size} B -o ${s.outstanding}${s.storage !== undefined ? ` ${s.storage}` : ''}${s.batching === 'on' ? ' batching' : ''}${rounds > 1 ? ` (round ${s.round})` : ''}`;
for (const [i, step] of plan.entries()) {
  const elapsed = Date.now() - started;
  const eta = i === 0 ? (warmup + seconds + 2) * 1000 * plan.length : (elapsed / i) * (plan.length - i);
  const what =
    step.kind === 'grid'
      ? label(step.setup)
      : step.kind === 'leadership'
        ? leadershipLabel(step.setup)
        : peerLabel(step.kind === 'skeleton' ? 'skeleton' : 'C LibPaxos3', step.setup);
  process.stderr.write(`[${i + 1}/${plan.length}] ${what} — elapsed ${clock(elapsed)}, ETA ${clock(eta)}\n`);
  if (step.kind === 'skeleton' || step.kind === 'libpaxos3') {
    const r = await onFreshPorts(() => (step.kind === 'skeleton' ? runSkeleton(step.setup) : runLibpaxos3(step.setup, cDir as string)));
    (step.kind === 'skeleton' ? skeleton : libpaxos3).push(r);
    process.stderr.write(`    ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec.median)} values/s, mean latency ${r.latencyUs.p50} µs`}\n`);
  } else if (step.kind === 'grid') {
    const r = await onFreshPorts(() => runOne(step.setup));
    results.push(r);
    process.stderr.write(`    ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec.median)} values/s, p50 ${r.latencyUs.p50} µs`} (load average ${r.load?.[0]} → ${r.load?.[1]})\n`);
  } else {
    const r = await onFreshPorts(() => runLeadership(step.setup));
    leadership.push(r);
    process.stderr.write(`    ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec)} values/s${r.clients > 1 ? ` (${r.perClient.map((c) => fmt(c.valuesPerSec)).join(' + ')})` : ''}`}\n`);
  }
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const run: Run = {
  date: new Date().toISOString(),
  machine,
  load: { start: loadStart, end: loadavg()[0] ?? 0 },
  warmupSeconds: warmup,
  measuredSeconds: seconds,
  quick,
  ...(argv.metrics ? { metrics: true } : {}),
  ...(extraConf.length > 0 ? { conf: extraConf } : {}),
  results,
  ...(leadership.length > 0 ? { leadership } : {}),
  ...(skeleton.length > 0 ? { skeleton } : {}),
  ...(libpaxos3.length > 0 ? { libpaxos3 } : {}),
};
// Only a run of the whole grid and every leadership row, once, without extra servers' work, is
// committed and shown; quick and partial runs stay local.
const full = rounds === 1 && !argv.metrics && extraConf.length === 0 && isFullRun(run) && (tls === undefined || tls.includes('off')) && leadership.length === LEADERSHIP_GRID_SIZE;
const folder = full ? 'results' : 'local';
mkdirSync(join(benchDir, folder), { recursive: true });
writeFileSync(join(benchDir, folder, `${stamp}.json`), `${JSON.stringify(run, null, 2)}\n`);
if (results.length > 0) process.stdout.write(`\n${table(results, { skeleton, libpaxos3 })}\n`);
if (skeleton.length > 0) process.stdout.write(`\n${peerTable('skeleton', skeleton)}\n`);
if (libpaxos3.length > 0) process.stdout.write(`\n${peerTable('C LibPaxos3', libpaxos3)}\n`);
const overRounds = roundsTable(results, { skeleton, libpaxos3 });
if (overRounds !== '') process.stdout.write(`\nOver the rounds (each round's rows ran one after another; the ratio of the sums is the figure to quote):\n\n${overRounds}\n`);
const tlsCost = tlsTable(results);
if (tlsCost !== '') process.stdout.write(`\nThe cost of TLS (each TLS row ran right after its twin without TLS):\n\n${tlsCost}\n`);
if (leadership.length > 0) {
  process.stdout.write(`\nLeadership and competing clients (replica mode, 64 B, memory; load average ${run.load?.start.toFixed(1)} → ${run.load?.end.toFixed(1)}):\n\n${leadershipTable(leadership)}\n`);
}
process.stdout.write('\n');
if (full) {
  report(run, `${stamp}.json`);
  process.stdout.write(`Wrote bench/results/${stamp}.json, bench/RESULTS.md and bench/chart.svg.\n`);
} else {
  process.stdout.write(`Wrote bench/local/${stamp}.json (ignored by git). A ${quick ? 'quick' : 'partial'} run leaves bench/RESULTS.md and bench/chart.svg as they are: they show the last full run.\n`);
}
const failed = [
  ...results.filter((r) => r.error !== undefined).map((r) => `${label(r)}: ${r.error}`),
  ...leadership.filter((r) => r.error !== undefined).map((r) => `${leadershipLabel(r)}: ${r.error}`),
  ...skeleton.filter((r) => r.error !== undefined).map((r) => `${peerLabel('skeleton', { ...r, round: r.round ?? 1 })}: ${r.error}`),
  ...libpaxos3.filter((r) => r.error !== undefined).map((r) => `${peerLabel('C LibPaxos3', { ...r, round: r.round ?? 1 })}: ${r.error}`),
];
if (failed.length > 0) {
  process.stderr.write(`pnpm bench: ${failed.length} of ${plan.length} configurations failed (${failed.join('; ')}).\n`);
  process.exit(1);
}

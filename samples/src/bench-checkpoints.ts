#!/usr/bin/env node
/**
 * `pnpm bench:checkpoints`: what checkpoints buy, measured on real processes on 127.0.0.1.
 * - Restart: 3 counter replicas (LMDB, batching, checkpoints every 50,000 instances or 5 s, acceptors
 *   trimmed by the lowest checkpoint) loaded by the client (-o 100 -v 64) until N values were
 *   delivered; replica 2 is killed (SIGKILL), a marker value is decided without it, and replica 2
 *   is started again: the figure is the time from its start until it delivers the marker (it
 *   restores its newest checkpoint and learns only what follows). For the first N, the same without
 *   checkpoints (LibPaxos3's replica, which learns the whole log again) for comparison.
 * - Transfer: 2 replicas whose state is S bytes (BlobState, never in memory whole) write
 *   checkpoints and trim the acceptors; a new replica 2 starts behind the trim and fetches a
 *   checkpoint: the figure is S over the time from the transfer's start until it is installed
 *   (received, SHA-256 checked, restored), with the peak RSS of sender and receiver.
 * Writes bench/results/checkpoints/<timestamp>.json and redraws bench/RESULTS.md (a --quick run
 * writes bench/local/ and changes nothing else).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMessage, parseConfig, silentLogger, startLearner, startReplica, type Logger, type PaxosConfig } from '@libpaxos/evpaxos';
import { BlobState } from './blob-state.js';
import { rewriteResults } from './bench-files.js';
import type { CheckpointBench } from './bench-report.js';
import { stopAll, waitListening } from './children.js';
import { numberFlag, sampleArgs, tuneGc } from './cli.js';
import { Counter } from './counter-state.js';
import { FreePortCursor } from './local-ports.js';

tuneGc('checkpoint benchmark');

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');

const list = (flag: string, parse: (s: string) => number) => (v: unknown) =>
  String(v)
    .split(',')
    .map((x) => {
      const n = parse(x.trim());
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag}: '${x}' is not a positive size`);
      return n;
    });
const size = (s: string) => {
  const m = /^(\d+)\s*(kb|mb|gb)?$/i.exec(s);
  if (m === null) return NaN;
  return Number(m[1]) * { '': 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'kb' | 'mb' | 'gb'];
};
const argv = sampleArgs('pnpm bench:checkpoints')
  .usage('Usage: $0 [--values N,…] [--transfer SIZE,…] [--quick] [--port-base P]\n\nRestart-to-caught-up after N delivered values (default 1000000,10000000) and snapshot transfer rates (default 100mb,1gb).')
  .option('values', { type: 'string', coerce: list('values', Number), describe: 'delivered values before the restart, comma-separated' })
  .option('transfer', { type: 'string', coerce: list('transfer', size), describe: 'state sizes to transfer, comma-separated (100mb, 1gb)' })
  .option('quick', { type: 'boolean', default: false, describe: '100000 values and a 20 MB state, in about a minute' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 64_000 }), describe: 'first port on 127.0.0.1 to use (default: 3000–5940, from the process id)' })
  .strictOptions()
  .parseSync();

const valuesList: number[] = argv.values ?? (argv.quick ? [100_000] : [1_000_000, 10_000_000]);
const transferList: number[] = argv.transfer ?? (argv.quick ? [20 * 1024 * 1024] : [100 * 1024 * 1024, 1024 ** 3]);
// Below Linux's ephemeral range (32768–60999), whose ports any connection's local port may hold, and
// below the test suites' 10000–32599: from 3000–5940, in the window `pnpm bench` uses (benchmarks run
// one at a time); ports a server of something else holds are skipped.
const portCursor = new FreePortCursor(argv['port-base'] ?? 3000 + (process.pid % 50) * 60, String(argv['port-base'] ?? 'the default base'));
const live = new Set<ChildProcess>();
const dirs: string[] = [];
const say = (t: string) => process.stderr.write(`[bench:checkpoints] ${t}\n`);

function cleanup(): void {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(1);
  });
}

async function cluster(extra: (dir: string) => string[]): Promise<{ dir: string; path: string; config: PaxosConfig; ports: number[] }> {
  const ports = await portCursor.take(3);
  const dir = mkdtempSync(join(tmpdir(), 'paxos-bench-ckpt-'));
  dirs.push(dir);
  const lines = [...ports.map((p, i) => `replica ${i} 127.0.0.1 ${p}`), 'verbosity error', 'storage-backend lmdb', `lmdb-env-path ${join(dir, 'acc')}`, 'lmdb-mapsize 1gb', ...extra(dir)];
  const path = join(dir, 'paxos.conf');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { dir, path, config: parseConfig(`${lines.join('\n')}\n`, path), ports };
}

function child(args: string[]): ChildProcess {
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(c);
  c.once('exit', () => live.delete(c));
  return c;
}

async function killed(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

/** Submits `value` to the replica at `port` as a client would. */
function submit(port: number, value: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.write(encodeMessage({ type: 'client_value', value }), () => {
        setTimeout(() => s.destroy(), 200);
        resolve();
      });
    });
    s.on('data', () => undefined);
    s.on('error', reject);
  });
}

function capture(): { log: Logger; lines: { t: number; text: string }[] } {
  const lines: { t: number; text: string }[] = [];
  const push = (text: string) => lines.push({ t: performance.now(), text });
  return { lines, log: { error: push, info: push, debug: push } };
}

/** Peak resident memory of a process, in MiB (Linux /proc). */
function peakRss(pid: number | undefined): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Math.round(Number(m[1]) / 1024);
  } catch {
    return undefined;
  }
}

async function restartAfter(values: number, checkpoints: boolean): Promise<CheckpointBench['restarts'][number]> {
  const { dir, path, config: cfg, ports } = await cluster((d) => [
    'proposer-batch-max-values 1024',
    'proposer-batch-max-bytes 1mb',
    ...(checkpoints ? [`checkpoint-dir ${join(d, 'ckpt')}`, 'checkpoint-instances 50000', 'checkpoint-interval 5s', 'checkpoint-trim yes', 'checkpoint-trim-hold 2000'] : []),
  ]);
  const replicaArgs = (i: number) => (checkpoints ? [join(here, 'counter.js'), String(i), path, '--interval', '0'] : [join(here, 'replica.js'), String(i), path]);
  const replicas = [0, 1, 2].map((i) => child(replicaArgs(i)));
  for (const p of ports) if (!(await waitListening('127.0.0.1', p, 15_000))) throw new Error(`a replica did not listen on ${p}`);
  say(`loading ${values} values${checkpoints ? '' : ' (no checkpoints)'}…`);
  const loadStart = performance.now();
  const client = child([join(here, 'client.js'), path, '-o', '100', '-v', '64', '--json']);
  let delivered = 0;
  let partial = '';
  await new Promise<void>((resolve, reject) => {
    client.stdout?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('{"type":"second"')) delivered += (JSON.parse(l) as { values: number }).values;
      if (delivered >= values) resolve();
    });
    client.once('exit', (code) => (delivered >= values ? resolve() : reject(new Error(`the client exited (${code}) after ${delivered} values`))));
  });
  client.kill('SIGINT');
  const loadSeconds = (performance.now() - loadStart) / 1000;
  await new Promise((r) => client.once('exit', r));
  await killed(replicas[2] as ChildProcess);
  // A marker decided without replica 2: it has caught up once it delivers it.
  const marker = new TextEncoder().encode(`bench-restart-marker ${process.pid} ${values} ${Date.now()}`);
  let markerIid = 0;
  const probe = await startLearner({ config: cfg, log: silentLogger, catchUp: false, onDeliver: (iid, v) => void (eq(v, marker) && (markerIid = iid)) });
  await submit(ports[0] as number, marker);
  for (const deadline = Date.now() + 60_000; markerIid === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  await probe.close();
  if (markerIid === 0) throw new Error('the marker value was not decided within 60 s');
  say(`restarting replica 2 (the marker is instance ${markerIid})…`);
  const { log, lines } = capture();
  let caughtUp = 0;
  const t0 = performance.now();
  const r2 = await startReplica({
    id: 2,
    config: cfg,
    log,
    ...(checkpoints ? { stateMachine: new Counter() } : {}),
    onDeliver: (_iid, v) => {
      if (caughtUp === 0 && eq(v, marker)) caughtUp = performance.now();
    },
  });
  for (const deadline = Date.now() + 1_800_000; caughtUp === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  await r2.close();
  await stopAll(replicas);
  const restored = lines.map((l) => /Restored the checkpoint of instance (\d+) \((\d+) bytes\) from .* in (\d+) ms/.exec(l.text)).find((m) => m !== null);
  rmSync(dir, { recursive: true, force: true });
  if (caughtUp === 0) throw new Error('replica 2 did not deliver the marker within 30 minutes');
  return {
    values,
    checkpoints,
    loadSeconds: round(loadSeconds),
    markerIid,
    checkpointIid: restored === undefined || restored === null ? 0 : Number(restored[1]),
    restoreMs: restored === undefined || restored === null ? 0 : Number(restored[3]),
    caughtUpSeconds: round((caughtUp - t0) / 1000),
  };
}

async function transfer(bytes: number): Promise<CheckpointBench['transfers'][number]> {
  const { dir, path, config: cfg, ports } = await cluster((d) => [
    `checkpoint-dir ${join(d, 'ckpt')}`,
    'checkpoint-instances 5',
    'checkpoint-keep 1',
    'checkpoint-trim yes',
    'checkpoint-trim-hold 0',
    'snapshot-chunk-size 1mb',
    'snapshot-window 4',
  ]);
  const senders = [0, 1].map((i) => child([join(here, 'bench-blob-replica.js'), String(i), path, String(bytes)]));
  for (const p of ports.slice(0, 2)) if (!(await waitListening('127.0.0.1', p, 15_000))) throw new Error(`a replica did not listen on ${p}`);
  say(`writing checkpoints of a ${mib(bytes)} MiB state on replicas 0 and 1…`);
  for (let i = 0; i < 12; i++) await submit(ports[0] as number, new TextEncoder().encode(`blob value ${i}`));
  const complete = (i: number) => {
    const d = join(dir, `ckpt_${i}`);
    return existsSync(d) && readdirSync(d).some((f) => f.endsWith('.ckpt') && statSync(join(d, f)).size === 512 + bytes);
  };
  for (const deadline = Date.now() + 600_000; !(complete(0) && complete(1)) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  if (!(complete(0) && complete(1))) throw new Error('replicas 0 and 1 did not write their checkpoints');
  // The reports are decided and the acceptors trimmed (they broadcast their trim point every second).
  await new Promise((r) => setTimeout(r, 3000));
  say(`replica 2 starts behind the trim and fetches ${mib(bytes)} MiB…`);
  const { log, lines } = capture();
  const state = new BlobState(bytes);
  let peakReceiver = 0;
  const sampler = setInterval(() => (peakReceiver = Math.max(peakReceiver, process.memoryUsage().rss)), 50);
  const r2 = await startReplica({ id: 2, config: cfg, log, stateMachine: state });
  const at = (re: RegExp) => lines.find((l) => re.test(l.text))?.t;
  for (const deadline = Date.now() + 1_800_000; at(/Installed the checkpoint/) === undefined && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  clearInterval(sampler);
  const started = at(/fetching the checkpoint/);
  const received = at(/Received the checkpoint/);
  const installed = at(/Installed the checkpoint/);
  const senderPeaks = senders.map((s) => peakRss(s.pid));
  await r2.close();
  await stopAll(senders);
  rmSync(dir, { recursive: true, force: true });
  if (started === undefined || installed === undefined || received === undefined) throw new Error(`the transfer did not complete: ${lines.map((l) => l.text).join(' | ')}`);
  if (state.restoredBytes !== bytes) throw new Error(`replica 2 restored ${state.restoredBytes} bytes, not ${bytes}`);
  return {
    bytes,
    transferSeconds: round((received - started) / 1000),
    installSeconds: round((installed - started) / 1000),
    transferMBps: round(bytes / 1e6 / ((received - started) / 1000)),
    endToEndMBps: round(bytes / 1e6 / ((installed - started) / 1000)),
    receiverPeakRssMiB: Math.round(peakReceiver / 1048576),
    senderPeakRssMiB: Math.max(...senderPeaks.map((p) => p ?? 0)),
  };
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
const round = (n: number) => Math.round(n * 100) / 100;
const mib = (n: number) => Math.round(n / 1048576);

try {
  const load: number[] = [loadavg()[0] as number];
  const restarts: CheckpointBench['restarts'] = [];
  for (const [k, v] of valuesList.entries()) {
    const r = await restartAfter(v, true);
    say(`after ${v} values: caught up in ${r.caughtUpSeconds} s (checkpoint of instance ${r.checkpointIid} restored in ${r.restoreMs} ms, marker at ${r.markerIid})`);
    restarts.push(r);
    load.push(loadavg()[0] as number);
    if (k === 0) {
      const b = await restartAfter(v, false);
      say(`after ${v} values without checkpoints: caught up in ${b.caughtUpSeconds} s`);
      restarts.push(b);
      load.push(loadavg()[0] as number);
    }
  }
  const transfers: CheckpointBench['transfers'] = [];
  for (const b of transferList) {
    const t = await transfer(b);
    say(`${mib(b)} MiB: ${t.transferMBps} MB/s on the wire, ${t.endToEndMBps} MB/s installed; peak RSS sender ${t.senderPeakRssMiB} MiB, receiver ${t.receiverPeakRssMiB} MiB`);
    transfers.push(t);
    load.push(loadavg()[0] as number);
  }
  const result: CheckpointBench = {
    date: new Date().toISOString(),
    quick: argv.quick,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
    loadAverage: { min: round(Math.min(...load)), max: round(Math.max(...load)) },
    restarts,
    transfers,
  };
  const stamp = result.date.replace(/[:.]/g, '-');
  const out = argv.quick || argv.values !== undefined || argv.transfer !== undefined ? join(benchDir, 'local') : join(benchDir, 'results', 'checkpoints');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `checkpoints-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (out.endsWith('checkpoints')) {
    rewriteResults(benchDir);
    say('bench/RESULTS.md redrawn');
  }
  cleanup();
} catch (e) {
  cleanup();
  process.stderr.write(`bench:checkpoints: ${(e as Error).message}\n`);
  process.exit(1);
}

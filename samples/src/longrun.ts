#!/usr/bin/env node
/**
 * `pnpm longrun`: 3 replicas at full load for a while (client -o 100, batching on), reporting the
 * RSS of every process (and, on LMDB, each replica's disk: LMDB files plus checkpoints) over the
 * run, to show that nothing grows but what should. `--checkpoint-trim` runs the counter sample's
 * replicas with checkpoints and trims the acceptors by the lowest one instead of by a lag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll, waitListening } from './children.js';
import { numberFlag, sampleArgs } from './cli.js';

const argv = sampleArgs('pnpm longrun')
  .usage(
    'Usage: $0 [--duration S] [--storage memory|lmdb] [--trim-lag N] [--checkpoint-trim]\n\n3 replicas at full load (client -o 100, batching on); prints every process\'s RSS (and each replica\'s disk on LMDB) at 10 s, every minute, and 5 s before the end.',
  )
  .option('duration', { default: 300, coerce: numberFlag('duration', { integer: true, min: 20, max: 7 * 86_400, unit: 'seconds' }), describe: 'seconds (at least 20)' })
  .option('storage', { type: 'string', choices: ['memory', 'lmdb'], default: 'memory' })
  .option('trim-lag', {
    default: 200_000,
    coerce: numberFlag('trim-lag', { integer: true, min: 0, unit: 'instances' }),
    describe: 'replicas trim this many instances behind delivery (0: never trim)',
  })
  .option('checkpoint-trim', {
    type: 'boolean',
    default: false,
    describe: 'replicas run a state machine (the counter sample), checkpoint it and trim the acceptors by the lowest checkpoint they report, instead of --trim-lag',
  })
  .strictOptions()
  .parseSync();

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'paxos-longrun-'));
// Below Linux's ephemeral range (a restarted replica could find its port held as some connection's
// local port there), above `pnpm chaos`'s 8000–9799 and below the test suites' 10000–32599.
const base = 9800 + (process.pid % 20) * 10;
const lines = [0, 1, 2].map((i) => `replica ${i} 127.0.0.1 ${base + i}`);
lines.push('verbosity error', 'proposer-batch-max-values 1024', 'proposer-batch-max-bytes 1mb');
if (argv.storage === 'lmdb') lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'acc')}`, 'lmdb-mapsize 256mb');
const checkpoints = argv['checkpoint-trim'];
if (checkpoints) {
  lines.push(`checkpoint-dir ${join(dir, 'ckpt')}`, 'checkpoint-instances 20000', 'checkpoint-interval 10s', 'checkpoint-trim yes', 'checkpoint-trim-hold 2000');
}
const path = join(dir, 'paxos.conf');
writeFileSync(path, `${lines.join('\n')}\n`);

/** Stops everything, removes the run's folder and exits 1 with one sentence. */
async function quit(sentence: string): Promise<never> {
  await stopAll(procs.map((p) => p.child));
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`longrun: ${sentence}\n`);
  process.exit(1);
}
const trim = argv['trim-lag'] > 0 ? ['--trim-lag', String(argv['trim-lag'])] : [];
// With checkpoints, the counter sample (a state machine) proposes nothing itself: the client loads it.
const replicaArgs = (i: number) => (checkpoints ? [join(here, 'counter.js'), String(i), path, '--interval', '0'] : [join(here, 'replica.js'), String(i), path, ...trim]);
const procs: { role: string; child: ChildProcess }[] = [0, 1, 2].map((i) => ({
  role: `replica ${i}`,
  child: spawn(process.execPath, replicaArgs(i), { stdio: ['ignore', 'ignore', 'inherit'] }),
}));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void quit(`stopped by ${signal}`));
for (let i = 0; i < 3; i++) {
  if (!(await waitListening('127.0.0.1', base + i, 10_000))) await quit(`replica ${i} did not start listening on port ${base + i} within 10 s`);
}
const client = spawn(process.execPath, [join(here, 'client.js'), path, '-o', '100', '-v', '64', '--json', '--duration', String(argv.duration)], { stdio: ['ignore', 'pipe', 'inherit'] });
procs.push({ role: 'client', child: client });
let out = '';
client.stdout?.on('data', (d: Buffer) => (out += d.toString()));

/**
 * Resident memory in MiB as `anon+file`: anonymous memory (heap, the core's state) and
 * file-backed pages (for LMDB, the memory-mapped database, which the OS can drop at will).
 */
const rss = (pid: number | undefined): string => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mib = (key: string) => Math.round(Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
    return `${mib('RssAnon')}+${mib('RssFile')}`;
  } catch {
    return '?';
  }
};
/** Bytes a directory's files take on disk (allocated blocks: LMDB's map file is sparse). */
const du = (path: string): number => {
  try {
    const st = statSync(path);
    if (!st.isDirectory()) return st.blocks * 512;
    return readdirSync(path).reduce((n, f) => n + du(join(path, f)), 0);
  } catch {
    // Gone meanwhile: a trim deletes LMDB segments, folder and all, while this walks them.
    return 0;
  }
};
/** A replica's disk in MiB as `lmdb+checkpoints`. */
const disk = (i: number): string => `${(du(join(dir, `acc_${i}`)) / 1048576).toFixed(1)}+${(du(join(dir, `ckpt_${i}`)) / 1048576).toFixed(1)}`;
const samples: Record<string, string[]> = {};
const diskSamples: Record<string, string[]> = {};
// At 10 s, every minute, and 5 s before the end.
const at = [...new Set([10, ...Array.from({ length: Math.floor((argv.duration - 6) / 60) }, (_, k) => 60 * (k + 1)), argv.duration - 5])].filter((t) => t <= argv.duration - 5).sort((a, b) => a - b);
for (const t of at) {
  setTimeout(() => {
    for (const p of procs) (samples[p.role] ??= []).push(rss(p.child.pid));
    if (argv.storage === 'lmdb') for (let i = 0; i < 3; i++) (diskSamples[`replica ${i}`] ??= []).push(disk(i));
    process.stderr.write(
      `[longrun ${t}s] RSS MiB: ${procs.map((p) => `${p.role} ${rss(p.child.pid)}`).join(', ')}${argv.storage === 'lmdb' ? `; disk MiB (LMDB+checkpoints): ${[0, 1, 2].map((i) => `replica ${i} ${disk(i)}`).join(', ')}` : ''}\n`,
    );
  }, t * 1000);
}
const code = await new Promise<number>((r) => client.once('exit', (c) => r(c ?? 1)));
await stopAll(procs.map((p) => p.child));
const summary = out.split('\n').find((l) => l.includes('"summary"')) ?? '{}';
process.stdout.write(`storage ${argv.storage}, ${argv.duration} s, ${checkpoints ? 'trim by the lowest checkpoint (every 20000 instances or 10 s, hold 2000)' : `trim lag ${argv['trim-lag'] || 'off'}`}\n`);
process.stdout.write(`| process | RSS MiB (anonymous+file-backed) at ${at.join(' s / ')} s |\n|---|---|\n`);
for (const [role, v] of Object.entries(samples)) process.stdout.write(`| ${role} | ${v.join(' / ')} |\n`);
if (argv.storage === 'lmdb') {
  process.stdout.write(`\n| replica | disk MiB (LMDB files + checkpoints) at ${at.join(' s / ')} s |\n|---|---|\n`);
  for (const [role, v] of Object.entries(diskSamples)) process.stdout.write(`| ${role} | ${v.join(' / ')} |\n`);
}
process.stdout.write(`client: ${summary}\n`);
// A run whose client delivered nothing measured nothing.
if (code !== 0) await quit(`the client exited with code ${code} (see its sentence above): the run measured nothing`);
rmSync(dir, { recursive: true, force: true });

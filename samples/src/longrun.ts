#!/usr/bin/env node
/**
 * `pnpm longrun`: 3 replicas at full load for a while (client -o 100, batching on), reporting the
 * RSS of every process at start, middle and end, to show that nothing grows but what should.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll, waitListening } from './children.js';
import { numberFlag, sampleArgs } from './cli.js';

const argv = sampleArgs('pnpm longrun')
  .usage('Usage: $0 [--duration S] [--storage memory|lmdb] [--trim-lag N]\n\n3 replicas at full load (client -o 100, batching on); prints every process\'s RSS at 10 s, half-way and 5 s before the end.')
  .option('duration', { default: 300, coerce: numberFlag('duration', { integer: true, min: 20, max: 7 * 86_400, unit: 'seconds' }), describe: 'seconds (at least 20)' })
  .option('storage', { type: 'string', choices: ['memory', 'lmdb'], default: 'memory' })
  .option('trim-lag', {
    default: 200_000,
    coerce: numberFlag('trim-lag', { integer: true, min: 0, unit: 'instances' }),
    describe: 'replicas trim this many instances behind delivery (0: never trim)',
  })
  .strictOptions()
  .parseSync();

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'paxos-longrun-'));
const base = 47000 + (process.pid % 100) * 10;
const lines = [0, 1, 2].map((i) => `replica ${i} 127.0.0.1 ${base + i}`);
lines.push('verbosity error', 'proposer-batch-max-values 1024', 'proposer-batch-max-bytes 1mb');
if (argv.storage === 'lmdb') lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'acc')}`, 'lmdb-mapsize 256mb');
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
const procs: { role: string; child: ChildProcess }[] = [0, 1, 2].map((i) => ({
  role: `replica ${i}`,
  child: spawn(process.execPath, [join(here, 'replica.js'), String(i), path, ...trim], { stdio: ['ignore', 'ignore', 'inherit'] }),
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
const samples: Record<string, string[]> = {};
const at = [10, Math.round(argv.duration / 2), argv.duration - 5];
for (const t of at) {
  setTimeout(() => {
    for (const p of procs) (samples[p.role] ??= []).push(rss(p.child.pid));
    process.stderr.write(`[longrun ${t}s] RSS MiB: ${procs.map((p) => `${p.role} ${rss(p.child.pid)}`).join(', ')}\n`);
  }, t * 1000);
}
const code = await new Promise<number>((r) => client.once('exit', (c) => r(c ?? 1)));
await stopAll(procs.map((p) => p.child));
const summary = out.split('\n').find((l) => l.includes('"summary"')) ?? '{}';
process.stdout.write(`storage ${argv.storage}, ${argv.duration} s, trim lag ${argv['trim-lag'] || 'off'}\n`);
process.stdout.write(`| process | RSS MiB (anonymous+file-backed) at ${at.join(' s / ')} s |\n|---|---|\n`);
for (const [role, v] of Object.entries(samples)) process.stdout.write(`| ${role} | ${v.join(' / ')} |\n`);
process.stdout.write(`client: ${summary}\n`);
// A run whose client delivered nothing measured nothing.
if (code !== 0) await quit(`the client exited with code ${code} (see its sentence above): the run measured nothing`);
rmSync(dir, { recursive: true, force: true });

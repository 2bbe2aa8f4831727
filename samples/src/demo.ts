#!/usr/bin/env node
/**
 * `pnpm demo [client options]`: starts the replicas of ./paxos.conf, runs the client against
 * replica 0 for a few seconds (`-o 10 -v 64` unless options are given), prints its lines, stops
 * everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from '@libpaxos/evpaxos';
import { stopAll, waitListening } from './children.js';

const here = dirname(fileURLToPath(import.meta.url));
const configPath = process.argv[2] ?? 'paxos.conf';
const clientArgs = process.argv.length > 3 ? process.argv.slice(3) : ['-o', '10', '-v', '64'];
const seconds = Number(process.env.DEMO_SECONDS ?? 10);
const config = readConfig(configPath);
const children: ChildProcess[] = [];

function run(script: string, args: string[], stdio: 'inherit' | 'ignore'): ChildProcess {
  const child = spawn(process.execPath, [join(here, script), ...args], { stdio: ['ignore', stdio, 'inherit'] });
  children.push(child);
  return child;
}

process.on('SIGINT', () => void stopAll(children).then(() => process.exit(130)));
process.stderr.write(`Starting ${config.acceptors.length} replicas from ${configPath}, then the client for ${seconds} s (${clientArgs.join(' ')})\n`);
config.acceptors.forEach((_a, id) => run('replica.js', [String(id), configPath], 'ignore'));
for (const a of config.acceptors) {
  if (!(await waitListening(a.host, a.port, 10_000))) {
    process.stderr.write(`replica at ${a.host}:${a.port} did not start listening within 10 s\n`);
    await stopAll(children);
    process.exit(1);
  }
}
const client = run('client.js', [configPath, ...clientArgs, '--duration', String(seconds)], 'inherit');
const code = await new Promise<number>((resolve) => client.once('exit', (c) => resolve(c ?? 1)));
await stopAll(children);
process.exit(code);

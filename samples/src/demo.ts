#!/usr/bin/env node
/**
 * `pnpm demo [client options]`: starts the replicas of ./paxos.conf, runs the client against
 * replica 0 for a few seconds (`-o 10 -v 64` unless options are given), prints its lines, stops
 * everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from '@libpaxos/evpaxos';

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

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
process.stderr.write(`Starting ${config.acceptors.length} replicas from ${configPath}, then the client for ${seconds} s (${clientArgs.join(' ')})\n`);
config.acceptors.forEach((_a, id) => run('replica.js', [String(id), configPath], 'ignore'));
const deadline = Date.now() + 10_000;
for (const a of config.acceptors) {
  while (!(await listening(a.host, a.port))) {
    if (Date.now() > deadline) {
      process.stderr.write(`replica at ${a.host}:${a.port} did not start listening within 10 s\n`);
      await stopAll();
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
const client = run('client.js', [configPath, ...clientArgs, '--duration', String(seconds)], 'inherit');
const code = await new Promise<number>((resolve) => client.once('exit', (c) => resolve(c ?? 1)));
await stopAll();
process.exit(code);

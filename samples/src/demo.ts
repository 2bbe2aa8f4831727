#!/usr/bin/env node
/**
 * `pnpm demo [--tls] [config] [client options]`: starts the replicas of the config (./paxos.conf
 * by default), runs the client against replica 0 for a few seconds (`-o 10 -v 64` unless options
 * are given), prints its lines, stops everything. With `--tls`, every connection is mutual TLS
 * with certificates made for the run in a temporary folder (removed at the end). Exits 0 only
 * when the client's values were delivered and every replica ran to the end; otherwise 1, with
 * one sentence saying why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, readConfig, type PaxosConfig } from '@libpaxos/evpaxos';
import { makeClusterCerts } from './certs.js';
import { listening, stopAll, waitListening } from './children.js';
import { numberFlag } from './cli.js';
import { clientArgs } from './client-args.js';

const HELP = `Usage: demo [--tls] [config] [client options]

Starts one replica per replica line of the config (default ./paxos.conf), runs the client against
replica 0 for DEMO_SECONDS seconds (default 10), prints the client's per-second lines and its
summary, and stops everything. Client options default to '-o 10 -v 64'; any of the client's options
can be given instead (see 'client --help'), e.g. 'demo -o 100 -v 1024' or 'demo my.conf --json'.
With leadership on ('leader yes', as in the shipped paxos.conf) replica 0 forwards the client's
values to the leader whenever it does not lead itself; '-p N' runs the client against replica N.

--tls: every connection is mutual TLS. The demo makes a CA and a certificate per process with
the openssl command in a temporary folder, adds tls-ca, tls-cert and tls-key to a copy of the
config there, and removes the folder at the end.

Exits 0 when the client's values were delivered; 1, with a sentence saying why, when the config
cannot be used, a port is taken, a replica stops early or nothing was delivered.
`;

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const tls = args.includes('--tls');
if (tls) args.splice(args.indexOf('--tls'), 1);
/** The temporary folder of a `--tls` run, removed however the demo ends. */
let tlsDir: string | undefined;
process.on('exit', () => {
  if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
});

/** Ends the demo with one sentence on stderr. */
function quit(sentence: string): never {
  process.stderr.write(`demo: ${sentence}\n`);
  process.exit(1);
}

if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
const givenPath = args[0] !== undefined && !args[0].startsWith('-') ? (args.shift() as string) : 'paxos.conf';
let configPath = givenPath;
const clientOptions = args.length > 0 ? args : ['-o', '10', '-v', '64'];

let seconds: number;
try {
  seconds = numberFlag('DEMO_SECONDS', { above: 0, unit: 'seconds' })(process.env.DEMO_SECONDS ?? '10');
} catch (e) {
  quit((e as Error).message.replace('--DEMO_SECONDS', 'DEMO_SECONDS'));
}
let config: PaxosConfig;
try {
  config = readConfig(configPath);
} catch (e) {
  if (e instanceof ConfigError) quit(e.message);
  throw e;
}
if (!config.replicas || config.acceptors.length !== config.proposers.length) {
  quit(`${configPath} declares acceptors and proposers, not replicas; the demo runs a cluster of 'replica <id> <ip> <port>' lines (see ./paxos.conf)`);
}
if (tls) {
  if (config.tls !== undefined) quit(`${configPath} has tls-ca, tls-cert and tls-key already; run the demo without --tls to use them`);
  tlsDir = mkdtempSync(join(tmpdir(), 'paxos-demo-tls-'));
  try {
    const certs = makeClusterCerts(tlsDir, [...config.acceptors.map((a) => a.name), 'client', 'learner']);
    configPath = join(tlsDir, 'paxos.conf');
    writeFileSync(configPath, `${readFileSync(givenPath, 'utf8')}\n# Added by pnpm demo --tls\n${certs.configLines.join('\n')}\n`);
    config = readConfig(configPath);
  } catch (e) {
    quit(`could not make certificates for --tls: ${(e as Error).message}`);
  }
  process.stderr.write(`TLS on: a CA and certificates for ${config.acceptors.map((a) => a.name).join(', ')} and client in ${tlsDir} (removed at the end)\n`);
}
const withDuration = clientOptions.includes('--duration') || clientOptions.some((a) => a.startsWith('--duration=')) ? clientOptions : [...clientOptions, '--duration', String(seconds)];
try {
  // Checked before anything starts, so that a typo costs no start-up.
  clientArgs([configPath, ...withDuration])
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseSync();
} catch (e) {
  quit(`client option error: ${(e as Error).message}`);
}
for (const a of config.acceptors) {
  if (await listening(a.host, a.port)) {
    quit(`${a.host}:${a.port} (${a.where}) is already in use: is another demo or replica running? Stop it, or give the demo a config with other ports`);
  }
}

const replicas: ChildProcess[] = [];
/** The first replica that stopped on its own, and how. */
let early: string | undefined;
let client: ChildProcess | undefined;
let stopping = false;

config.acceptors.forEach((_a, id) => {
  const child = spawn(process.execPath, [join(here, 'replica.js'), String(id), configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.once('exit', (code, signal) => {
    if (!stopping) early ??= `replica ${id} stopped during the demo (${signal ?? `exit code ${code}`}); its log lines are above`;
  });
  replicas.push(child);
});

async function finish(code: number): Promise<never> {
  stopping = true;
  await stopAll(replicas);
  if (early !== undefined) quit(early);
  process.exit(code);
}

// Ctrl-C or a TERM: let the client print its summary, then stop the replicas.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (client === undefined || client.exitCode !== null) void finish(1);
    else client.kill('SIGINT');
  });
}

process.stderr.write(`Starting ${config.acceptors.length} replicas from ${configPath}, then the client (${withDuration.join(' ')})\n`);
for (const a of config.acceptors) {
  if (!(await waitListening(a.host, a.port, 10_000)) || early !== undefined) {
    stopping = true;
    await stopAll(replicas);
    quit(early ?? `the replica at ${a.host}:${a.port} did not start listening within 10 s`);
  }
}
client = spawn(process.execPath, [join(here, 'client.js'), configPath, ...withDuration], { stdio: ['ignore', 'inherit', 'inherit'] });
const code = await new Promise<number>((resolve) => client?.once('exit', (c) => resolve(c ?? 1)));
// The client said why it failed (nothing delivered, no connection…); a replica that stopped early is named by finish().
await finish(code);

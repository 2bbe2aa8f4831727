import { existsSync } from 'node:fs';
import yargs from 'yargs';
import { ConfigError, StorageError, readConfig, type PaxosConfig } from '@libpaxos/evpaxos';

/**
 * LibPaxos3's samples read `../paxos.conf` by default (they ran from its build directory); from
 * a checkout's root that is the wrong place, so `./paxos.conf` is used when `../paxos.conf` is
 * missing.
 */
export function defaultConfigPath(): string {
  return existsSync('../paxos.conf') || !existsSync('paxos.conf') ? '../paxos.conf' : 'paxos.conf';
}

/** Reads the config or exits 1 with its `path:line` message. */
export function loadConfig(path: string, what: string): PaxosConfig {
  try {
    return readConfig(path);
  } catch (e) {
    fail(e, what);
  }
}

/** Prints why a role could not start, LibPaxos3's line after it, and exits 1. */
export function fail(e: unknown, what: string): never {
  const known = e instanceof ConfigError || e instanceof StorageError || (e instanceof Error && /cannot listen/.test(e.message));
  process.stderr.write(`${known ? (e as Error).message : String((e as Error).stack ?? e)}\nCould not start the ${what}!\n`);
  process.exit(1);
}

/** LibPaxos3 prints `Caught signal N` and shuts down; a second signal forces the exit. */
export function onSignals(close: () => Promise<void>, exitCode: number): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) process.exit(exitCode);
    closing = true;
    process.stderr.write(`Caught signal ${signal === 'SIGINT' ? 2 : 15}\n`);
    void close().finally(() => process.exit(exitCode));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Parses a non-negative integer id argument or returns undefined. */
export function parseId(text: unknown): number | undefined {
  return typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : typeof text === 'number' && Number.isInteger(text) && text >= 0 ? text : undefined;
}

/**
 * The `<id> [config]` command line of the acceptor and the proposer. On a wrong argument count
 * it prints the usage and exits with `usageExit` (LibPaxos3: 0 for the acceptor, 1 otherwise).
 */
export function idAndConfig(name: string, describe: string, usageExit: number): { id: number; configPath: string } {
  const argv = sampleArgs(name)
    .usage(`Usage: $0 <id> [config]\n\n${describe}`)
    .help()
    .strictOptions()
    .parseSync();
  const [idArg, configArg, ...extra] = argv._.map(String);
  const id = parseId(idArg);
  if (id === undefined || extra.length > 0) {
    (usageExit === 0 ? process.stdout : process.stderr).write(`Usage: ${name} <id> [config]\n`);
    process.exit(usageExit);
  }
  return { id, configPath: configArg ?? defaultConfigPath() };
}

/**
 * yargs as every sample uses it: no --version, and help that the terminal wraps (off a terminal
 * yargs wraps at 80 columns and breaks words to do it).
 */
export function sampleArgs(scriptName: string, args: string[] = process.argv.slice(2)) {
  return yargs(args).scriptName(scriptName).version(false).wrap(null);
}

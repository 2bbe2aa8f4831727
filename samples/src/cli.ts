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

/**
 * LibPaxos3 prints `Caught signal N` and shuts down; a second signal forces the exit. A clean
 * shutdown exits 0 for every role (LibPaxos3's acceptor exits 1, which service managers read as a
 * failure); 1 only when closing fails or the process already failed (a disk error sets 1).
 */
export function onSignals(close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) process.exit(process.exitCode ?? 0);
    closing = true;
    process.stderr.write(`Caught signal ${signal === 'SIGINT' ? 2 : 15}\n`);
    close().then(
      () => process.exit(process.exitCode ?? 0),
      (e: Error) => {
        process.stderr.write(`Could not close cleanly: ${e.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export interface NumberRule {
  /** Whole numbers only. */
  readonly integer?: boolean;
  /** Smallest value allowed (inclusive), unless `above` is given. */
  readonly min?: number;
  /** Values must be greater than this. */
  readonly above?: number;
  readonly max?: number;
  /** What the number counts, for the message: 'seconds', 'instances'… */
  readonly unit?: string;
}

/**
 * A yargs `coerce` for a numeric flag (declared without a type): it reads the text that was typed, so
 * an error echoes it (`--duration must be a number of seconds > 0, got '-5'`), where yargs' own
 * number type would report NaN or pass a negative on as if it were fine.
 */
export function numberFlag(flag: string, rule: NumberRule): (v: unknown) => number {
  const low = rule.above !== undefined ? `> ${rule.above}` : rule.min !== undefined ? `≥ ${rule.min}` : undefined;
  const range =
    rule.above === undefined && rule.min !== undefined && rule.max !== undefined
      ? ` from ${rule.min} to ${rule.max}`
      : [low, rule.max !== undefined ? `≤ ${rule.max}` : undefined]
          .filter((b) => b !== undefined)
          .map((b) => ` ${b}`)
          .join(' and');
  const what = `${rule.integer ? 'a whole number' : 'a number'}${rule.unit !== undefined ? ` of ${rule.unit}` : ''}${range}`;
  return (v: unknown) => {
    // A flag given twice counts once (the last); a flag with no value comes as `true`.
    const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
    const text = last === true ? '' : String(last);
    const n = Number(text);
    const ok =
      (rule.integer ? /^[+-]?\d+$/.test(text.trim()) : /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text.trim())) &&
      Number.isFinite(n) &&
      (rule.above === undefined || n > rule.above) &&
      (rule.min === undefined || rule.above !== undefined || n >= rule.min) &&
      (rule.max === undefined || n <= rule.max);
    if (!ok) throw new Error(`--${flag} must be ${what}, got ${text === '' ? 'nothing' : `'${text}'`}`);
    return n;
  };
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
  const argv = sampleArgs(name).usage(`Usage: $0 <id> [config]\n\n${describe}`).strictOptions().parseSync();
  const [idArg, configArg, ...extra] = argv._.map(String);
  const id = parseId(idArg);
  if (id === undefined || extra.length > 0) {
    (usageExit === 0 ? process.stdout : process.stderr).write(`Usage: ${name} <id> [config]\n`);
    process.exit(usageExit);
  }
  return { id, configPath: configArg ?? defaultConfigPath() };
}

/**
 * yargs as every sample uses it: `--help` and `-h` (LibPaxos3's client and replica take `-h`), no
 * --version, and help that the terminal wraps (off a terminal yargs wraps at 80 columns and
 * breaks words to do it).
 */
export function sampleArgs(scriptName: string, args: string[] = process.argv.slice(2)) {
  // Numbers stay as typed, so that `numberFlag` can check them and echo them in its message.
  return yargs(args).scriptName(scriptName).version(false).wrap(null).help().alias('help', 'h').parserConfiguration({ 'parse-numbers': false });
}

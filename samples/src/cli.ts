import { existsSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import {
  ConfigError,
  RateLimitedLogger,
  SUMMARY_INTERVAL_MS,
  StorageError,
  createLogger,
  readConfig,
  resolveConfig,
  tuneGarbageCollector,
  type LogFormat,
  type MetricsOptions,
  type PaxosConfig,
} from '@libpaxos/evpaxos';

/**
 * LibPaxos3's samples read `../paxos.conf` by default (they ran from its build directory); from
 * a checkout's root that is the wrong place, so `./paxos.conf` is used when `../paxos.conf` is
 * missing.
 */
export function defaultConfigPath(): string {
  return existsSync('../paxos.conf') || !existsSync('paxos.conf') ? '../paxos.conf' : 'paxos.conf';
}

/**
 * Every sample that runs a Paxos role (and the benchmark client and skeleton) calls this before
 * anything else: V8's heap growth for a process moving values (evpaxos's `tuneGarbageCollector`;
 * `LIBPAXOS_GC_TUNING=off` leaves V8's default). A wrong setting of that variable is said and the
 * process exits 1 before it starts anything. Orchestrators (bench, chaos, demo, longrun) do not;
 * bench-checkpoints does, as it runs a replica in its own process.
 */
export function tuneGc(what: string): void {
  try {
    tuneGarbageCollector();
  } catch (e) {
    fail(e, what);
  }
}

/** Reads the config and resolves its host names, or exits 1 with the `path:line` message. */
export async function loadConfig(path: string, what: string): Promise<PaxosConfig> {
  try {
    return await resolveConfig(readConfig(path));
  } catch (e) {
    fail(e, what);
  }
}

/** Who this sample is and how it logs, for the lines written before (or without) a config: see `setLogSource`. */
let source: { format: LogFormat; role: string; id: number | undefined } = { format: 'text', role: 'sample', id: undefined };

/** The format and the role of the lines this process writes outside the library (start failures, signals). */
export function setLogSource(format: LogFormat, role: string, id?: number): void {
  source = { format, role, id };
}

/**
 * A line of the sample itself (LibPaxos3 prints these plainly: `Caught signal 2`, `Could not start
 * the acceptor!`), or a JSON object like the library's lines with `--log-format json`.
 */
export function say(level: 'error' | 'info', text: string): void {
  if (source.format === 'json') {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, role: source.role, id: source.id ?? null, message: text, fields: {} })}\n`);
  } else {
    process.stderr.write(`${text}\n`);
  }
}

/** Prints why a role could not start, LibPaxos3's line after it, and exits 1. */
export function fail(e: unknown, what: string): never {
  const known = e instanceof ConfigError || e instanceof StorageError || (e instanceof Error && /cannot listen/.test(e.message));
  say('error', known ? (e as Error).message : String((e as Error).stack ?? e));
  say('error', `Could not start the ${what}!`);
  process.exit(1);
}

/** The flags every sample takes for operating it (`--metrics-port`, `--log-format`), as read. */
export interface Operating {
  readonly metrics?: MetricsOptions;
  readonly logFormat?: LogFormat;
}

/** Adds `--metrics-port` and `--log-format` to a sample's command line. */
export function operatingOptions<T>(y: Argv<T>) {
  return y
    .option('metrics-port', {
      coerce: metricsFlag,
      describe:
        'serve /metrics (Prometheus) and /healthz on [host:]port (port 0: any free one, printed at start); default: the config\'s metrics-port (acceptor or replica k on metrics-port + k, proposer k on metrics-port + 10 + k), none for learners and clients',
    })
    .option('log-format', { choices: ['text', 'json'] as const, describe: "log lines in LibPaxos3's format (text) or one JSON object a line (json); default: the config's log-format, else text" });
}

/** Reads the operating flags of a parsed command line. */
export function operating(argv: { readonly 'metrics-port'?: MetricsOptions | undefined; readonly 'log-format'?: LogFormat | undefined }): Operating {
  return { ...(argv['metrics-port'] !== undefined ? { metrics: argv['metrics-port'] } : {}), ...(argv['log-format'] !== undefined ? { logFormat: argv['log-format'] } : {}) };
}

/** `--metrics-port 9100`, `--metrics-port 0.0.0.0:9100`, `--metrics-port [::1]:9100`. */
function metricsFlag(v: unknown): MetricsOptions {
  const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
  const text = last === true ? '' : String(last);
  const m = /^(?:(\[[0-9a-fA-F:.%\w]+\]|[^:\s]+):)?(\d+)$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new Error(`--metrics-port must be a port from 0 to 65535, optionally after a host (127.0.0.1:9100, [::1]:9100), got ${text === '' ? 'nothing' : `'${text}'`}`);
  }
  const host = m[1]?.replace(/^\[(.*)\]$/, '$1');
  return { port, ...(host !== undefined ? { host } : {}) };
}

/**
 * The logger of a sample process: the config's verbosity, the format of `--log-format` or the
 * config's `log-format`, behind the limiter of repeated lines. Also sets the source of `say`.
 */
export function sampleLogger(config: PaxosConfig, ops: Operating, role: string, id?: number): RateLimitedLogger {
  const format = ops.logFormat ?? config.logFormat;
  setLogSource(format, role, id);
  return new RateLimitedLogger(createLogger(config.verbosity, undefined, { format, role, ...(id !== undefined ? { id } : {}) }), SUMMARY_INTERVAL_MS, config.verbosity);
}

/** What a SIGINT or SIGTERM closes (set once the process started), and the signal caught, if one was. */
const shutdown: { close: (() => Promise<void>) | undefined; signal: NodeJS.Signals | undefined; catching: boolean } = {
  close: undefined,
  signal: undefined,
  catching: false,
};

function closeAndExit(close: () => Promise<void>): void {
  close().then(
    () => process.exit(process.exitCode ?? 0),
    (e: Error) => {
      say('error', `Could not close cleanly: ${e.message}`);
      process.exit(1);
    },
  );
}

function onSignal(signal: NodeJS.Signals): void {
  if (shutdown.signal !== undefined) process.exit(process.exitCode ?? 0);
  shutdown.signal = signal;
  say('info', `Caught signal ${signal === 'SIGINT' ? 2 : 15}`);
  // Caught while starting: closed as soon as the start says what to close (`onSignals`).
  if (shutdown.close !== undefined) closeAndExit(shutdown.close);
}

/**
 * Catches SIGINT and SIGTERM from now on. A server calls this before it starts: its listening
 * line is printed before its start returns, and a signal sent on seeing it (as a service manager or
 * a test may) would otherwise find no handler and kill the process without a clean close.
 */
export function catchSignals(): void {
  if (shutdown.catching) return;
  shutdown.catching = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * LibPaxos3 prints `Caught signal N` and shuts down; a second signal forces the exit. A clean
 * shutdown exits 0 for every role (LibPaxos3's acceptor exits 1, which service managers read as a
 * failure); 1 only when closing fails or the process already failed (a disk error sets 1). A signal
 * caught before this (see `catchSignals`) closes at once.
 */
export function onSignals(close: () => Promise<void>): void {
  catchSignals();
  shutdown.close = close;
  if (shutdown.signal !== undefined) closeAndExit(close);
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
export function idAndConfig(name: string, describe: string, usageExit: number): { id: number; configPath: string; ops: Operating } {
  const argv = operatingOptions(sampleArgs(name).usage(`Usage: $0 <id> [config] [--metrics-port P] [--log-format text|json]\n\n${describe}`)).strictOptions().parseSync();
  const [idArg, configArg, ...extra] = argv._.map(String);
  const id = parseId(idArg);
  if (id === undefined || extra.length > 0) {
    (usageExit === 0 ? process.stdout : process.stderr).write(`Usage: ${name} <id> [config]\n`);
    process.exit(usageExit);
  }
  const ops = operating(argv);
  setLogSource(ops.logFormat ?? 'text', name, id);
  return { id, configPath: configArg ?? defaultConfigPath(), ops };
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

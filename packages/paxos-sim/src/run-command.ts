import { DEFAULT_TRIM_REPORTERS } from '@libpaxos/paxos-core';
import { MUTANTS, MUTANT_OVERRIDES, type Mutant, type SimOptions, type SimOverrides } from './options.js';

/**
 * The words of a `pnpm sim` command that pin a run down (--seed, --values, --mode, --mutant), read
 * the same way by the CLI and by `pnpm sim:web`'s seed box, so that a replay command pasted into
 * the page gives the very run the CLI printed.
 */

/** A flag with a value that is not allowed; the message names the flag and the value. */
export class RunCommandError extends Error {
  override readonly name = 'RunCommandError';
}

/** A whole number ≥ `min` given as `--flag text`, or undefined when the flag was not given. */
export function wholeNumber(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new RunCommandError(`--${flag} must be a whole number ≥ ${min}, got '${text}'`);
  return Number(text);
}

export interface RunFlags {
  readonly values?: string | undefined;
  readonly mode?: string | undefined;
  readonly mutant?: string | undefined;
  /** `on` or `off`: force leadership (drawn per seed otherwise). */
  readonly leader?: string | undefined;
  /** Break the clock assumption (implies leadership on). */
  readonly 'drift-violation'?: boolean | undefined;
  /** `values` or `kv` (kv-workload.ts). */
  readonly workload?: string | undefined;
  /** `on` (default) or `off`: replicas send each other digest votes (paxos-core's accepted-digest.ts). */
  readonly digests?: string | undefined;
  /** Reporters the checkpoint trim waits for (paxos-core's CheckpointTrim; default 2; 1 is the old rule). */
  readonly 'trim-reporters'?: string | undefined;
  /** Mean ms between planned handovers with leadership on (0: none; drawn per seed otherwise). */
  readonly 'resign-every'?: string | undefined;
  /** Records an acceptor keeps in memory before it reads them back from its disk (0: no archive; drawn per seed otherwise). */
  readonly 'memory-window'?: string | undefined;
  /** Bytes of values those records may take (0: the core's default; drawn per seed otherwise). */
  readonly 'memory-bytes'?: string | undefined;
  /** `on` (default) or `off`: connections coming up are given as `acceptor-connected` inputs (SimOptions.connections). */
  readonly connections?: string | undefined;
}

/** What --values, --mode and --mutant change in every seed's drawn options. */
export function runOverrides(flags: RunFlags): SimOverrides {
  const overrides: { -readonly [K in keyof SimOverrides]: SimOverrides[K] } = {};
  const values = wholeNumber('values', flags.values, 1);
  if (values !== undefined) overrides.values = values;
  if (flags.mutant !== undefined) {
    if (!(MUTANTS as readonly string[]).includes(flags.mutant)) throw new RunCommandError(`unknown --mutant '${flags.mutant}'; one of: ${MUTANTS.join(', ')}`);
    const mutant = flags.mutant as Mutant;
    // The knobs a mutant needs to do harm at all; --mode may still pick the mode.
    Object.assign(overrides, MUTANT_OVERRIDES[mutant], { mutant });
  }
  if (flags.workload !== undefined) {
    if (flags.workload !== 'values' && flags.workload !== 'kv') throw new RunCommandError(`--workload must be values or kv, got '${flags.workload}'`);
    overrides.workload = flags.workload;
  }
  if (flags.leader !== undefined) {
    if (flags.leader !== 'on' && flags.leader !== 'off') throw new RunCommandError(`--leader must be on or off, got '${flags.leader}'`);
    overrides.leadership = flags.leader === 'on';
  }
  if (flags.digests !== undefined) {
    if (flags.digests !== 'on' && flags.digests !== 'off' && flags.digests !== 'mixed') throw new RunCommandError(`--digests must be on, off or mixed, got '${flags.digests}'`);
    overrides.acceptedDigests = flags.digests === 'mixed' ? 'mixed' : flags.digests === 'on';
  }
  const reporters = wholeNumber('trim-reporters', flags['trim-reporters'], 1);
  if (reporters !== undefined) overrides.trimReporters = reporters;
  const resignEvery = wholeNumber('resign-every', flags['resign-every'], 0);
  if (resignEvery !== undefined) overrides.resignEveryMs = resignEvery;
  const memoryWindow = wholeNumber('memory-window', flags['memory-window'], 0);
  if (memoryWindow !== undefined && memoryWindow > 0xffff_ffff) throw new RunCommandError(`--memory-window must be at most 4294967295 instances, got '${flags['memory-window'] ?? ''}'`);
  if (memoryWindow !== undefined) overrides.memoryWindow = memoryWindow;
  const memoryBytes = wholeNumber('memory-bytes', flags['memory-bytes'], 0);
  if (memoryBytes !== undefined && !Number.isSafeInteger(memoryBytes)) throw new RunCommandError(`--memory-bytes must be at most ${Number.MAX_SAFE_INTEGER}, got '${flags['memory-bytes'] ?? ''}'`);
  if (memoryBytes !== undefined) overrides.memoryBytes = memoryBytes;
  if (flags.connections !== undefined) {
    if (flags.connections !== 'on' && flags.connections !== 'off') throw new RunCommandError(`--connections must be on or off, got '${flags.connections}'`);
    overrides.connections = flags.connections === 'on';
  }
  if (flags['drift-violation'] === true) {
    overrides.leadership = true;
    overrides.driftViolation = true;
  }
  if (flags.mode !== undefined) {
    if (flags.mode !== 'split' && flags.mode !== 'replica') throw new RunCommandError(`--mode must be split or replica, got '${flags.mode}'`);
    overrides.mode = flags.mode;
  }
  return overrides;
}

/** The command that replays one seed; --values and --mode appear when they were given. */
export function replayCommand(options: SimOptions, given: RunFlags): string {
  return [
    'pnpm sim',
    `--seed ${options.seed}`,
    ...(given.values !== undefined ? [`--values ${options.values}`] : []),
    ...(given.mode !== undefined ? [`--mode ${options.mode}`] : []),
    ...(given.leader !== undefined ? [`--leader ${options.leadership ? 'on' : 'off'}`] : []),
    ...(options.driftViolation ? ['--drift-violation'] : []),
    ...(options.acceptedDigests !== true ? [`--digests ${options.acceptedDigests === 'mixed' ? 'mixed' : 'off'}`] : []),
    ...(options.workload === 'kv' && !(options.mutant !== undefined && MUTANT_OVERRIDES[options.mutant]?.workload === 'kv') ? ['--workload kv'] : []),
    ...(options.trimReporters !== DEFAULT_TRIM_REPORTERS ? [`--trim-reporters ${options.trimReporters}`] : []),
    ...(given['resign-every'] !== undefined ? [`--resign-every ${options.resignEveryMs}`] : []),
    ...(given['memory-window'] !== undefined ? [`--memory-window ${options.memoryWindow}`] : []),
    ...(given['memory-bytes'] !== undefined ? [`--memory-bytes ${options.memoryBytes}`] : []),
    ...(options.connections ? [] : ['--connections off']),
    ...(options.mutant ? [`--mutant ${options.mutant}`] : []),
  ].join(' ');
}

export interface ParsedRun {
  readonly seed: number;
  readonly flags: RunFlags;
  readonly overrides: SimOverrides;
}

/**
 * Reads a seed (`17`) or a replay command as `pnpm sim` prints it (`replay: pnpm sim --seed 17
 * --values 300 --mode replica --mutant X`; `--flag=value` works too). `--seeds` may only be 1
 * and `--quiet` changes nothing here; anything else is an error that names it.
 */
export function parseRunCommand(text: string): ParsedRun {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  // Whatever precedes the first flag is how the command was started (replay:, pnpm, -s, sim…).
  let i = 0;
  while (i < words.length && !(words[i] as string).startsWith('--') && !/^\d+$/.test(words[i] as string)) i++;
  const found: Record<string, string> = {};
  if (i < words.length && /^\d+$/.test(words[i] as string)) found['seed'] = words[i++] as string;
  for (; i < words.length; i++) {
    const word = words[i] as string;
    if (!word.startsWith('--')) throw new RunCommandError(`'${word}' is not a flag; give a seed, or a command like: pnpm sim --seed 17 --values 300`);
    const eq = word.indexOf('=');
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    if (name === 'quiet') continue;
    if (name === 'drift-violation') {
      found[name] = 'yes';
      continue;
    }
    if (!['seed', 'seeds', 'values', 'mode', 'mutant', 'leader', 'workload', 'digests', 'trim-reporters', 'resign-every', 'memory-window', 'memory-bytes', 'connections'].includes(name)) {
      throw new RunCommandError(`unknown flag '--${name}'; a run takes --seed, --values, --mode, --leader, --drift-violation, --workload, --digests, --trim-reporters, --resign-every, --memory-window, --memory-bytes, --connections and --mutant`);
    }
    const value = eq < 0 ? words[++i] : word.slice(eq + 1);
    if (value === undefined || value === '') throw new RunCommandError(`--${name} needs a value`);
    found[name] = value;
  }
  if (found['seeds'] !== undefined && found['seeds'] !== '1') throw new RunCommandError(`--seeds ${found['seeds']}: one run at a time here; give one seed`);
  const flags: RunFlags = { values: found['values'], mode: found['mode'], mutant: found['mutant'], leader: found['leader'], 'drift-violation': found['drift-violation'] === 'yes', workload: found['workload'], digests: found['digests'], 'trim-reporters': found['trim-reporters'], 'resign-every': found['resign-every'], 'memory-window': found['memory-window'], 'memory-bytes': found['memory-bytes'], connections: found['connections'] };
  return { seed: wholeNumber('seed', found['seed'], 0) ?? 1, flags, overrides: runOverrides(flags) };
}

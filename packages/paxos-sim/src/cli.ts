#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { MUTANTS, MUTANT_OVERRIDES, describeOptions, drawOptions, type Mutant, type SimOverrides } from './options.js';
import { simulate, type SimResult } from './simulation.js';

const USAGE = `Usage: pnpm sim [--seeds N] [--seed S] [--values V] [--mode split|replica] [--mutant M] [--quiet]

Runs N seeded simulations (seeds S, S+1, …; default S=1, N=100) of paxos-core under message loss,
duplication, delay, partitions and crashes, checking safety after every event and liveness after
healing. Prints each seed's knobs and result, then a summary. Exit status 1 if any seed fails.

  --seeds N     number of seeds (default 100; with --seed alone, 1)
  --seed S      first seed (default 1)
  --values V    client values per seed (default 1000)
  --mode M      force split (acceptors/proposers/learners) or replica mode
  --mutant M    run a deliberately broken core (in the mode drawn per seed, or --mode): ${MUTANTS.join(', ')}
  --quiet       print failures and the summary only`;

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function int(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min) fail(`--${name} must be a whole number ≥ ${min}, got '${text}'`);
  return Number(text);
}

const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        values: { type: 'string' },
        mode: { type: 'string' },
        mutant: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const first = int('seed', args.seed, 0) ?? 1;
const count = int('seeds', args.seeds, 1) ?? (args.seed === undefined ? 100 : 1);
const overrides: { -readonly [K in keyof SimOverrides]: SimOverrides[K] } = {};
const values = int('values', args.values, 1);
if (values !== undefined) overrides.values = values;
if (args.mutant !== undefined) {
  if (!(MUTANTS as readonly string[]).includes(args.mutant)) fail(`unknown --mutant '${args.mutant}'; one of: ${MUTANTS.join(', ')}`);
  const mutant = args.mutant as Mutant;
  Object.assign(overrides, MUTANT_OVERRIDES[mutant], { mutant });
}
if (args.mode !== undefined) {
  if (args.mode !== 'split' && args.mode !== 'replica') fail(`--mode must be split or replica, got '${args.mode}'`);
  overrides.mode = args.mode;
}

function replay(r: SimResult): string {
  const o = r.options;
  return [
    'pnpm sim',
    `--seed ${o.seed}`,
    ...(args.values !== undefined ? [`--values ${o.values}`] : []),
    ...(args.mode !== undefined ? [`--mode ${o.mode}`] : []),
    ...(o.mutant ? [`--mutant ${o.mutant}`] : []),
  ].join(' ');
}

const totals = { seeds: 0, failed: 0, events: 0, submitted: 0, delivered: 0, lostWithCrash: 0, reportedLost: 0, unknown: 0, crashes: 0, partitions: 0, dropped: 0, duplicated: 0 };
/** Checkpoint figures summed over the seeds that had checkpoints on. */
const ck = { seeds: 0, checkpoints: 0, restores: 0, transfersStarted: 0, transfersInstalled: 0, chunks: 0, wipes: 0, acceptorWipes: 0, rejoins: 0, trims: 0, stateChecks: 0, crashesAt: {} as Record<string, number> };
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const options = drawOptions(seed, overrides);
  const r = simulate(options);
  totals.seeds++;
  totals.events += r.events;
  totals.submitted += r.submitted;
  totals.delivered += r.delivered;
  totals.lostWithCrash += r.lostWithCrash;
  totals.reportedLost += r.reportedLost;
  totals.unknown += r.outcomeUnknown;
  totals.crashes += r.faults.crashes;
  totals.partitions += r.faults.partitions;
  totals.dropped += r.faults.dropped;
  totals.duplicated += r.faults.duplicated;
  const f = r.faults;
  const c = r.checkpoints;
  if (c !== undefined) {
    ck.seeds++;
    for (const k of ['checkpoints', 'restores', 'transfersStarted', 'transfersInstalled', 'chunks', 'wipes', 'acceptorWipes', 'rejoins', 'trims', 'stateChecks'] as const) ck[k] += c[k];
    for (const [step, n] of Object.entries(c.crashesAt)) ck.crashesAt[step] = (ck.crashesAt[step] ?? 0) + n;
  }
  const ckText = c === undefined ? '' : ` checkpoints=${c.checkpoints} restores=${c.restores} transfers=${c.transfersInstalled}/${c.transfersStarted} wipes=${c.wipes}/${c.acceptorWipes} rejoins=${c.rejoins} trims=${c.trims} state-checks=${c.stateChecks} crashes-at-steps=${Object.values(c.crashesAt).reduce((a, b) => a + b, 0)}`;
  const line = `${describeOptions(options)} → ${r.ok ? 'ok' : 'VIOLATION'} events=${r.events} delivered=${r.delivered}/${r.submitted} lost-with-crash=${r.lostWithCrash} reported-lost=${r.reportedLost} instances=${r.instances} crashes=${f.crashes} partitions=${f.partitions} dropped=${f.dropped} dup=${f.duplicated}${ckText} trace=${r.traceHash}`;
  if (!r.ok) {
    totals.failed++;
    process.stdout.write(`${line}\n${r.violations.map((v) => `  ${v}`).join('\n')}\n  replay: ${replay(r)}\n`);
  } else if (!args.quiet) {
    process.stdout.write(`${line}\n`);
  }
}
const secs = (performance.now() - started) / 1000;
process.stdout.write(
  `seeds ${totals.seeds}, events ${totals.events}, values delivered ${totals.delivered}/${totals.submitted} (lost with crashed proposers ${totals.lostWithCrash}, reported lost ${totals.reportedLost}; outcome-unknown reports ${totals.unknown}), faults injected ${totals.crashes} crashes + ${totals.partitions} partitions + ${totals.dropped} drops + ${totals.duplicated} duplicates, violations ${totals.failed} (${secs.toFixed(1)} s)\n`,
);
if (ck.seeds > 0) {
  const steps = Object.entries(ck.crashesAt)
    .sort()
    .map(([step, n]) => `${step} ${n}`)
    .join(', ');
  process.stdout.write(
    `checkpoints on in ${ck.seeds} seeds: ${ck.checkpoints} checkpoints written, ${ck.restores} restarts from one, ${ck.transfersInstalled} snapshot transfers installed of ${ck.transfersStarted} started (${ck.chunks} chunks), ${ck.wipes} disks wiped (${ck.acceptorWipes} with the acceptor's storage, ${ck.rejoins} rejoins), ${ck.trims} trims by checkpoint, ${ck.stateChecks} state digests compared; crashes injected at ${steps || 'no step'}\n`,
  );
}
process.exit(totals.failed === 0 ? 0 : 1);

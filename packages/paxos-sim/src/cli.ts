#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { MUTANTS, drawOptions, type SimOverrides } from './options.js';
import { resultLine } from './result-line.js';
import { RunCommandError, replayCommand, runOverrides, wholeNumber } from './run-command.js';
import { simulate } from './simulation.js';

const USAGE = `Usage: pnpm sim [--seeds N] [--seed S] [--values V] [--mode split|replica] [--leader on|off] [--drift-violation] [--workload values|kv] [--digests on|off|mixed] [--trim-reporters N] [--resign-every MS] [--memory-window N] [--memory-bytes B] [--connections on|off] [--mutant M] [--quiet]

Runs N seeded simulations (seeds S, S+1, …; default S=1, N=100) of paxos-core under message loss,
duplication, delay, partitions and crashes, checking safety after every event and liveness after
healing. Prints each seed's knobs and result, then a summary. Exit status 1 if any seed fails.

  --seeds N     number of seeds (default 100; with --seed alone, 1)
  --seed S      first seed (default 1)
  --values V    client values per seed (default 1000)
  --mode M      force split (acceptors/proposers/learners) or replica mode
  --leader L    force leader election with a lease on or off (drawn per seed otherwise)
  --drift-violation
                leadership on, with clocks running at 0.5 to 1.5 times real time: breaks the clock
                assumption, so overlapping leases are counted as assumption breaches, not failures
  --workload W  values (default): clients submit opaque values; kv: memcached clients with
                exactly-once sessions drive the paxos-kv state machine on every application
                (lease reads at the leader with leadership on, otherwise through the log) and the
                history they see is checked for linearizability at the end of each seed
  --digests D   on: replicas send each other digest votes instead of accepted messages with the
                value, as evpaxos replicas do with accepted-digests yes; off: LibPaxos3's full
                accepted messages; mixed: replica 0 has them off, the others on (drawn per seed
                otherwise: on in 6 seeds of 8, off and mixed in one each)
  --trim-reporters N
                checkpoint reports of how many nodes the first trim waits for (default 2, at most
                the checkpointing nodes; 1 is the old rule, which a single lost disk defeats)
  --resign-every MS
                with leadership on, ask the leader to hand over (dropLeadership) every MS ms on
                average during the fault phase; 0: never (drawn per seed otherwise: none in half of
                the seeds, every 1 or 3 s in the others)
  --memory-window N
                acceptors keep about their newest N records in memory and read older ones back
                from their disk (paxos-core's AcceptorArchive, as the LMDB storage): with the
                writes still pending, or in half the seeds (memory=N,at-sync) synced ones only,
                the acceptor keeping the rest; 0: no archive, every record in memory (drawn per
                seed otherwise: none in a quarter of the seeds, 4, 16 or 64 in the others)
  --memory-bytes B
                with a memory window, the values of those records take at most about B bytes
                (paxos-core's memoryBytes: the window shrinks); 0: the core's default, 64 MiB
                (drawn per seed otherwise: the default in half the seeds, 48 or 256 in the others)
  --connections C
                on (default): a process's connection to an acceptor comes up a hop after both
                start, after either restarts and when a partition between them ends, and its roles
                get evpaxos's acceptor-connected input; off: the simulator before it modelled
                connections (the seeds found-core-bugs.test.ts pins replay so)
  --mutant M    run a deliberately broken core (in the mode drawn per seed, or --mode): ${MUTANTS.join(', ')}
  --quiet       print failures and the summary only`;

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

/** Runs `read`; a flag it refuses ends the CLI with the reason and the usage. */
function checked<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof RunCommandError) fail(e.message);
    throw e;
  }
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
        leader: { type: 'string' },
        'drift-violation': { type: 'boolean' },
        workload: { type: 'string' },
        digests: { type: 'string' },
        'trim-reporters': { type: 'string' },
        'resign-every': { type: 'string' },
        'memory-window': { type: 'string' },
        'memory-bytes': { type: 'string' },
        connections: { type: 'string' },
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
const first = checked(() => wholeNumber('seed', args.seed, 0)) ?? 1;
const count = checked(() => wholeNumber('seeds', args.seeds, 1)) ?? (args.seed === undefined ? 100 : 1);
const overrides: SimOverrides = checked(() => runOverrides(args));

const totals = {
  seeds: 0,
  failed: 0,
  events: 0,
  submitted: 0,
  delivered: 0,
  lostWithCrash: 0,
  reportedLost: 0,
  unknown: 0,
  crashes: 0,
  partitions: 0,
  dropped: 0,
  duplicated: 0,
  leaderSeeds: 0,
  resignations: 0,
  decidedTwice: 0,
  breaches: 0,
  kvSeeds: 0,
  kvOps: 0,
  kvUnknown: 0,
  kvLocalReads: 0,
  kvRetries: 0,
  kvUndecided: 0,
  kvIllegal: 0,
};
/** Checkpoint figures summed over the seeds that had checkpoints on (and, of those, the ones with leadership on). */
const ckKeys = ['checkpoints', 'restores', 'transfersStarted', 'transfersInstalled', 'chunks', 'wipes', 'acceptorWipes', 'rejoins', 'trims', 'stateChecks'] as const;
const newCk = () => ({ seeds: 0, checkpoints: 0, restores: 0, transfersStarted: 0, transfersInstalled: 0, chunks: 0, wipes: 0, acceptorWipes: 0, rejoins: 0, trims: 0, stateChecks: 0, crashesAt: {} as Record<string, number> });
const ck = newCk();
const ckLed = newCk();
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
  if (r.options.leadership) totals.leaderSeeds++;
  totals.resignations += r.faults.resignations;
  totals.decidedTwice += r.duplicates;
  totals.breaches += r.assumptionViolations;
  if (r.kv !== undefined) {
    totals.kvSeeds++;
    totals.kvOps += r.kv.operations;
    totals.kvUnknown += r.kv.unknown;
    totals.kvLocalReads += r.kv.localReads;
    totals.kvRetries += r.kv.retries;
    if (r.kv.verdict === 'unknown') totals.kvUndecided++;
    if (r.kv.verdict === 'illegal') totals.kvIllegal++;
  }
  const c = r.checkpoints;
  if (c !== undefined) {
    for (const sum of r.options.leadership ? [ck, ckLed] : [ck]) {
      sum.seeds++;
      for (const k of ckKeys) sum[k] += c[k];
      for (const [step, n] of Object.entries(c.crashesAt)) sum.crashesAt[step] = (sum.crashesAt[step] ?? 0) + n;
    }
  }
  const line = resultLine(r);
  if (!r.ok) {
    totals.failed++;
    process.stdout.write(`${line}\n${r.violations.map((v) => `  ${v}`).join('\n')}\n  replay: ${replayCommand(r.options, args)}\n`);
  } else if (!args.quiet) {
    process.stdout.write(`${line}\n`);
  }
}
const secs = (performance.now() - started) / 1000;
// Only with the KV workload, so the default summary reads as it always did.
const kvSummary =
  totals.kvSeeds > 0
    ? `, KV operations checked ${totals.kvOps} (outcome unknown ${totals.kvUnknown}, lease reads ${totals.kvLocalReads}, retries ${totals.kvRetries}), linearizability violations ${totals.kvIllegal}${totals.kvUndecided > 0 ? `, seeds the checker could not decide within its budget ${totals.kvUndecided}` : ''}`
    : '';
process.stdout.write(
  `seeds ${totals.seeds}, events ${totals.events}, values delivered ${totals.delivered}/${totals.submitted} (lost with crashed proposers ${totals.lostWithCrash}, reported lost ${totals.reportedLost}; outcome-unknown reports ${totals.unknown}), faults injected ${totals.crashes} crashes + ${totals.partitions} partitions + ${totals.dropped} drops + ${totals.duplicated} duplicates, leadership in ${totals.leaderSeeds} seeds (planned handovers ${totals.resignations}, values decided twice ${totals.decidedTwice}, clock-assumption breaches ${totals.breaches})${kvSummary}, violations ${totals.failed} (${secs.toFixed(1)} s)\n`,
);
if (ck.seeds > 0) {
  const steps = Object.entries(ck.crashesAt)
    .sort()
    .map(([step, n]) => `${step} ${n}`)
    .join(', ');
  process.stdout.write(
    `checkpoints on in ${ck.seeds} seeds: ${ck.checkpoints} checkpoints written, ${ck.restores} restarts from one, ${ck.transfersInstalled} snapshot transfers installed of ${ck.transfersStarted} started (${ck.chunks} chunks), ${ck.wipes} disks wiped (${ck.acceptorWipes} with the acceptor's storage, ${ck.rejoins} rejoins), ${ck.trims} trims by checkpoint, ${ck.stateChecks} state digests compared; crashes injected at ${steps || 'no step'}\n`,
  );
  if (ckLed.seeds > 0) {
    process.stdout.write(
      `  of those with leadership on, ${ckLed.seeds} seeds: ${ckLed.checkpoints} checkpoints, ${ckLed.restores} restarts from one, ${ckLed.transfersInstalled}/${ckLed.transfersStarted} transfers installed, ${ckLed.rejoins} rejoins, ${ckLed.trims} trims by checkpoint\n`,
    );
  }
}
process.exit(totals.failed === 0 ? 0 : 1);

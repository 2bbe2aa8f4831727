#!/usr/bin/env node
/**
 * LibPaxos3's `counter` sample, on the state-machine interface: a replicated counter. Every replica
 * counts the values decided in the log (its `COUNT\0` values, and any client's), proposes `COUNT\0`
 * every `--interval` ms, and — with `checkpoint-dir` in the config — writes checkpoints of the
 * count, restarts from the newest, reports them in the log for trimming (`checkpoint-trim yes`),
 * and serves them to replicas that fell behind the trim. LibPaxos3's counter kept a `state-<id>`
 * file and gossiped `TRIM <replica> <iid>` values by hand; here the library does both.
 */
import { startReplica } from '@libpaxos/evpaxos';
import { catchSignals, defaultConfigPath, fail, loadConfig, numberFlag, onSignals, parseId, sampleArgs, tuneGc } from './cli.js';
import { Counter } from './counter-state.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('counter');

const argv = sampleArgs('counter')
  .usage('Usage: $0 <id> [config] [--interval MS] [-v] [--rejoin]\n\nRuns replica <id> of the config with a replicated counter (LibPaxos3\'s counter sample). With checkpoint-dir in the config it checkpoints the count, restarts from its newest checkpoint, and with checkpoint-trim yes trims the acceptors by the lowest checkpoint the replicas report.')
  .option('interval', { default: 100, coerce: numberFlag('interval', { integer: true, min: 0, max: 3_600_000, unit: 'milliseconds' }), describe: 'propose COUNT every this many ms (0: never; other processes may still submit values)' })
  .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'print `<count> <iid>` for every COUNT this replica proposed, once decided' })
  .option('rejoin', { type: 'boolean', default: false, describe: 'this replica lost its data directory (its acceptor storage): rejoin safely before starting' })
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write('Usage: counter <id> [config] [--interval MS] [-v] [--rejoin]\n');
  process.exit(1);
}
const config = await loadConfig(configArg ?? defaultConfigPath(), 'counter');
const COUNT = Uint8Array.of(0x43, 0x4f, 0x55, 0x4e, 0x54, 0x00);
try {
  const counter = new Counter();
  const replica = await startReplica({ id, config, stateMachine: counter, rejoin: argv.rejoin });
  let timer: NodeJS.Timeout | undefined;
  if (argv.interval > 0) {
    // LibPaxos3's counter submits a fresh COUNT every 100 ms; equal values are fine: each proposal
    // resolves with the first delivery of its bytes after it.
    timer = setInterval(() => {
      replica.propose(COUNT).then(
        (p) => {
          if (argv.verbose) process.stdout.write(`${p.result} ${p.iid}\n`);
        },
        () => undefined, // refused (a peer down, the queue full) or cut short by a close: the next tick proposes again
      );
    }, argv.interval);
  }
  onSignals(async () => {
    if (timer !== undefined) clearInterval(timer);
    await replica.close();
  });
} catch (e) {
  fail(e, 'counter');
}

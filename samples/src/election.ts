#!/usr/bin/env node
/**
 * `election <id> [config]` (PhxPaxos's phxelection): a member of a master election. It is replica
 * `<id>` of the config with leadership forced on, and prints on stdout who the master is whenever
 * that changes:
 *
 *   master is <id> (lease until <local time>)
 *   no master
 *
 * The lease end is this member's view: the master counts its own lease from before it proposed
 * and shorter by the drift margin, everyone else from when they learned it, so the master's line
 * shows the earliest end. A master that is stopped with SIGINT or SIGTERM hands over
 * (`dropLeadership()`) before it exits, so that the others need not wait for its lease to run out;
 * one that is killed is replaced within a lease and an election.
 */
import { startReplica, type ReplicaHandle } from '@libpaxos/evpaxos';
import { catchSignals, defaultConfigPath, fail, loadConfig, onSignals, operating, operatingOptions, parseId, sampleArgs, sampleLogger, say, setLogSource, tuneGc } from './cli.js';

catchSignals(); // before the start prints its listening line (cli.ts)
tuneGc('election');

const USAGE = 'Usage: election <id> [config]';
const argv = operatingOptions(
  sampleArgs('election').usage(
    `Usage: $0 <id> [config] [--metrics-port P] [--log-format text|json]\n\n` +
      'Runs member <id> of a master election: replica <id> of the cluster in the config (default ../paxos.conf, or\n' +
      "./paxos.conf) with leader election on, whatever the config says ('leader yes'; its leader-lease and\n" +
      "leader-drift-margin apply). Prints 'master is <id> (lease until <local time>)' on stdout whenever the master\n" +
      "changes, and 'no master' when a lease runs out before anyone takes over. Killing the master makes another\n" +
      'member print within a lease and an election; SIGINT or SIGTERM make a master hand over before it exits.',
  ),
)
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(1);
}
const ops = operating(argv);
// A member is replica <id>: its log lines, metrics and TLS name (replica-<id>) are a replica's.
setLogSource(ops.logFormat ?? 'text', 'replica', id);
const loaded = await loadConfig(configArg ?? defaultConfigPath(), 'election member');
if (!loaded.replicas) {
  say('error', `${loaded.path}: declares acceptors and proposers; election members are replicas, so give it a config of 'replica <id> <host> <port>' lines`);
  say('error', 'Could not start the election member!');
  process.exit(1);
}
const config = { ...loaded, leader: true };
const log = sampleLogger(config, ops, 'replica', id);
log.info(
  `${loaded.leader ? 'Leader election is on in' : "Leader election forced on (the election sample always runs with 'leader yes'; it is off in"} ${loaded.path}${loaded.leader ? '' : ')'}: lease ${config.leaderLeaseMs} ms, drift margin ${config.leaderDriftMarginMs} ms`,
);
if (!loaded.leader) {
  log.info('Every member of the cluster needs leadership on: run the others as election members too, or give their config the line leader yes');
}

/** Local wall-clock time of a `performance.now()` instant, HH:MM:SS.mmm. */
function localTime(at: number): string {
  const d = new Date(performance.timeOrigin + at);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

let handle: ReplicaHandle | undefined;
/** The master last printed (undefined: none printed yet, or `no master`). */
let printed: number | undefined;
/** Called on every change of master (a planned handover waits for a successor). */
let changed: ((leader: number | undefined) => void) | undefined;

function onLeaderChange(leader: number | undefined): void {
  changed?.(leader);
  if (leader === undefined) {
    // Only a lease that ran out (or was given up) is news; before the first master there is nothing to say.
    if (printed !== undefined) process.stdout.write('no master\n');
    printed = undefined;
    return;
  }
  const view = handle?.leader();
  process.stdout.write(`master is ${leader}${view !== undefined && view.id === leader ? ` (lease until ${localTime(view.until)})` : ''}\n`);
  printed = leader;
}

try {
  handle = await startReplica({ id, config, log, ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}), onLeaderChange });
} catch (e) {
  fail(e, 'election member');
}
const member = handle;

/** How long a master that hands over waits, at most, to see its successor before it closes. */
const HANDOVER_MS = 1000;
/**
 * What a SIGINT or SIGTERM runs (through cli.ts's `onSignals`, which prints `Caught signal N`, exits
 * when this settles and forces the exit on a second signal): a master hands over first.
 */
async function close(): Promise<void> {
  if (member.isLeader()) {
    // A planned handover: the resignation is a master operation in the log, so the others may
    // campaign as soon as they learn it instead of waiting for the lease to run out.
    log.info('Handing over: this member is the master and gives up its lease before it exits');
    const done = new Promise<void>((resolve) => {
      // Its successor's claim can only be decided after the resignation: seeing it says the
      // resignation went out. Without one in time, close anyway (close() flushes what is queued).
      changed = (leader) => leader !== undefined && leader !== id && resolve();
      setTimeout(resolve, HANDOVER_MS);
    });
    member.dropLeadership();
    await done;
  }
  await member.close();
}
onSignals(close);

#!/usr/bin/env node
import { startReplica } from '@libpaxos/evpaxos';
import { catchSignals, defaultConfigPath, fail, loadConfig, numberFlag, onSignals, operating, operatingOptions, parseId, sampleArgs, sampleLogger, setLogSource, tuneGc } from './cli.js';
import { deliveryLine } from './payload.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('replica');

const argv = operatingOptions(
  sampleArgs('replica').usage(
    'Usage: $0 <id> [config] [-v] [--trim-lag N] [--rejoin] [--metrics-port P] [--log-format text|json]\n\nRuns replica <id> (acceptor, proposer and learner) of the cluster in the config (default ../paxos.conf, or ./paxos.conf).',
  ),
)
  .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'print every delivered value, as the learner does' })
  .option('rejoin', { type: 'boolean', default: false, describe: 'this replica lost its data directory (its acceptor storage): rejoin safely before starting (ours)' })
  .option('trim-lag', {
    coerce: numberFlag('trim-lag', { integer: true, min: 1, unit: 'instances' }),
    describe: 'trim the acceptors up to this many instances behind what this replica delivered (ours; LibPaxos3 replicas never trim, so acceptor state grows)',
  })
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write(`Usage: replica <id> [config] [-v] [--trim-lag N] [--rejoin]\n`);
  process.exit(1);
}
const trimLag = argv['trim-lag'];
const ops = operating(argv);
setLogSource(ops.logFormat ?? 'text', 'replica', id);
const config = await loadConfig(configArg ?? defaultConfigPath(), 'replica');
try {
  let trimmed = 0;
  const onDeliver =
    argv.verbose || trimLag !== undefined
      ? (iid: number, value: Uint8Array) => {
          if (argv.verbose) process.stdout.write(`${deliveryLine(value)}\n`);
          // Like LibPaxos3's counter sample, trim now and then behind what was delivered, so
          // acceptor state stays bounded; a learner further behind than the lag cannot catch up.
          if (trimLag !== undefined && iid - trimLag - trimmed >= Math.max(1, trimLag / 10)) {
            trimmed = iid - trimLag;
            replica.trim(trimmed);
          }
        }
      : undefined;
  const replica = await startReplica({
    id,
    config,
    rejoin: argv.rejoin,
    log: sampleLogger(config, ops, 'replica', id),
    ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}),
    ...(onDeliver !== undefined ? { onDeliver } : {}),
  });
  onSignals(() => replica.close());
} catch (e) {
  fail(e, 'replica');
}

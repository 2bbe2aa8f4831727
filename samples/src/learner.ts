#!/usr/bin/env node
import { startLearner } from '@libpaxos/evpaxos';
import { catchSignals, defaultConfigPath, fail, loadConfig, onSignals, operating, operatingOptions, sampleArgs, sampleLogger, setLogSource, tuneGc } from './cli.js';
import { deliveryLine } from './payload.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('learner');

const argv = operatingOptions(
  sampleArgs('learner').usage(
    'Usage: $0 [config] [--metrics-port P] [--log-format text|json]\n\nPrints every value the cluster decides, in order, one line each:\n<sec>.<usec> [<first 16 characters>] <size> bytes',
  ),
)
  .strictOptions()
  .parseSync();
const [configArg, ...extra] = argv._.map(String);
if (extra.length > 0) {
  process.stderr.write(`Usage: learner [config]\n`);
  process.exit(1);
}
const ops = operating(argv);
setLogSource(ops.logFormat ?? 'text', 'learner');
const config = await loadConfig(configArg ?? defaultConfigPath(), 'learner');
try {
  const learner = await startLearner({
    config,
    log: sampleLogger(config, ops, 'learner'),
    ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}),
    onDeliver: (_iid, value) => process.stdout.write(`${deliveryLine(value)}\n`),
  });
  onSignals(() => learner.close());
} catch (e) {
  fail(e, 'learner');
}

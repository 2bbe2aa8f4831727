#!/usr/bin/env node
import { startLearner } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, onSignals, sampleArgs } from './cli.js';
import { deliveryLine } from './payload.js';

const argv = sampleArgs('learner')
  .usage('Usage: $0 [config]\n\nPrints every value the cluster decides, in order, one line each:\n<sec>.<usec> [<first 16 characters>] <size> bytes')
  .strictOptions()
  .parseSync();
const [configArg, ...extra] = argv._.map(String);
if (extra.length > 0) {
  process.stderr.write(`Usage: learner [config]\n`);
  process.exit(1);
}
const config = loadConfig(configArg ?? defaultConfigPath(), 'learner');
try {
  const learner = await startLearner({ config, onDeliver: (_iid, value) => process.stdout.write(`${deliveryLine(value)}\n`) });
  onSignals(() => learner.close());
} catch (e) {
  fail(e, 'learner');
}

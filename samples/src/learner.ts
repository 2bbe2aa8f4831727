#!/usr/bin/env node
import yargs from 'yargs';
import { startLearner } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, onSignals } from './cli.js';
import { deliveryLine } from './payload.js';

const argv = yargs(process.argv.slice(2))
  .scriptName('learner')
  .usage('Usage: $0 [config]\n\nPrints every value the cluster decides, in order, one line each:\n<sec>.<usec> [<first 16 characters>] <size> bytes')
  .version(false)
  // yargs wraps at 80 columns off a terminal and breaks words to do it; let the terminal wrap.
  .wrap(null)
  .help()
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
  onSignals(() => learner.close(), 0);
} catch (e) {
  fail(e, 'learner');
}

#!/usr/bin/env node
import yargs from 'yargs';
import { startReplica } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, onSignals, parseId } from './cli.js';
import { deliveryLine } from './payload.js';

const argv = yargs(process.argv.slice(2))
  .scriptName('replica')
  .usage('Usage: $0 <id> [config] [-v]\n\nRuns replica <id> (acceptor, proposer and learner) of the cluster in the config.')
  .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'print every delivered value, as the learner does' })
  .version(false)
  .help()
  .alias('help', 'h')
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write(`Usage: replica <id> [config] [-v]\n`);
  process.exit(1);
}
const config = loadConfig(configArg ?? defaultConfigPath(), 'replica');
try {
  const replica = await startReplica({
    id,
    config,
    ...(argv.verbose ? { onDeliver: (_iid: number, value: Uint8Array) => process.stdout.write(`${deliveryLine(value)}\n`) } : {}),
  });
  onSignals(() => replica.close(), 0);
} catch (e) {
  fail(e, 'replica');
}

#!/usr/bin/env node
import yargs from 'yargs';
import { startProposer } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, onSignals, parseId } from './cli.js';

const argv = yargs(process.argv.slice(2))
  .scriptName('proposer')
  .usage('Usage: $0 <id> [config]\n\nRuns proposer <id> (0-9) of the cluster in the config (default ../paxos.conf, or ./paxos.conf).')
  .version(false)
  .help()
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write(`Usage: proposer <id> [config]\n`);
  process.exit(1);
}
const config = loadConfig(configArg ?? defaultConfigPath(), 'proposer');
try {
  const proposer = await startProposer({ id, config });
  onSignals(() => proposer.close(), 0);
} catch (e) {
  fail(e, 'proposer');
}

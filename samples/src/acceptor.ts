#!/usr/bin/env node
import yargs from 'yargs';
import { startAcceptor } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, onSignals, parseId } from './cli.js';

const argv = yargs(process.argv.slice(2))
  .scriptName('acceptor')
  .usage('Usage: $0 <id> [config]\n\nRuns acceptor <id> of the cluster in the config (default ../paxos.conf, or ./paxos.conf).')
  .version(false)
  .help()
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  // LibPaxos3's acceptor prints its usage and exits 0 on a wrong argument count.
  process.stdout.write(`Usage: acceptor <id> [config]\n`);
  process.exit(0);
}
const config = loadConfig(configArg ?? defaultConfigPath(), 'acceptor');
try {
  const acceptor = await startAcceptor({ id, config });
  // LibPaxos3's acceptor exits with status 1 after a signal.
  onSignals(() => acceptor.close(), 1);
} catch (e) {
  fail(e, 'acceptor');
}

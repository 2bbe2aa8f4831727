#!/usr/bin/env node
import { startProposer } from '@libpaxos/evpaxos';
import { fail, idAndConfig, loadConfig, onSignals } from './cli.js';

const { id, configPath } = idAndConfig('proposer', 'Runs proposer <id> (0-9) of the cluster in the config (default ../paxos.conf, or ./paxos.conf).', 1);
const config = loadConfig(configPath, 'proposer');
try {
  const proposer = await startProposer({ id, config });
  onSignals(() => proposer.close());
} catch (e) {
  fail(e, 'proposer');
}

#!/usr/bin/env node
import { startProposer } from '@libpaxos/evpaxos';
import { catchSignals, fail, idAndConfig, loadConfig, onSignals, sampleLogger, tuneGc } from './cli.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('proposer');

const { id, configPath, ops } = idAndConfig('proposer', 'Runs proposer <id> (0-9) of the cluster in the config (default ../paxos.conf, or ./paxos.conf).', 1);
const config = await loadConfig(configPath, 'proposer');
try {
  const proposer = await startProposer({ id, config, log: sampleLogger(config, ops, 'proposer', id), ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}) });
  onSignals(() => proposer.close());
} catch (e) {
  fail(e, 'proposer');
}

#!/usr/bin/env node
import { startAcceptor } from '@libpaxos/evpaxos';
import { catchSignals, fail, idAndConfig, loadConfig, onSignals, sampleLogger, tuneGc } from './cli.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('acceptor');

// LibPaxos3's acceptor prints its usage and exits 0 on a wrong argument count.
const { id, configPath, ops } = idAndConfig('acceptor', 'Runs acceptor <id> of the cluster in the config (default ../paxos.conf, or ./paxos.conf).', 0);
const config = await loadConfig(configPath, 'acceptor');
try {
  const acceptor = await startAcceptor({ id, config, log: sampleLogger(config, ops, 'acceptor', id), ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}) });
  // LibPaxos3's acceptor exits with status 1 after a signal; a clean shutdown exits 0 here.
  onSignals(() => acceptor.close());
} catch (e) {
  fail(e, 'acceptor');
}

#!/usr/bin/env node
/** A replica whose state is a blob of `size` bytes (BlobState), for `pnpm bench:checkpoints`. */
import { startReplica } from '@libpaxos/evpaxos';
import { BlobState } from './blob-state.js';
import { catchSignals, fail, loadConfig, onSignals, tuneGc } from './cli.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('blob replica');

const [idArg, configPath, sizeArg] = process.argv.slice(2);
if (idArg === undefined || configPath === undefined || sizeArg === undefined) {
  process.stderr.write('Usage: bench-blob-replica <id> <config> <state bytes>\n');
  process.exit(1);
}
const config = await loadConfig(configPath, 'replica');
try {
  const replica = await startReplica({ id: Number(idArg), config, stateMachine: new BlobState(Number(sizeArg)) });
  onSignals(() => replica.close());
} catch (e) {
  fail(e, 'replica');
}

#!/usr/bin/env node
/**
 * A replica for `pnpm chaos`: the library's replica, appending every delivery to a log of its
 * own — `<iid> <position> <client id>:<value id>` per line — so the checker can compare what every
 * incarnation of every replica delivered. With leadership on it also prints every change of the
 * leader as it sees it on stdout, `leader <id> <master version>` or `leader none <version>`: that
 * is how the nemesis finds the leader (no metrics endpoint needed).
 */
import { appendFileSync } from 'node:fs';
import { startReplica } from '@libpaxos/evpaxos';
import { fail, loadConfig, onSignals } from './cli.js';
import { readChaosValue } from './chaos-value.js';

const [idArg, configPath, logPath] = process.argv.slice(2);
if (idArg === undefined || configPath === undefined || logPath === undefined) {
  process.stderr.write('Usage: chaos-replica <id> <config> <delivery log>\n');
  process.exit(1);
}
const config = await loadConfig(configPath, 'replica');
let buffered: string[] = [];
const flush = () => {
  if (buffered.length === 0) return;
  appendFileSync(logPath, buffered.join(''));
  buffered = [];
};
// Written every 20 ms and on exit; a SIGKILL may lose the last lines, which only shortens this
// incarnation's log (the checker needs every log to be a prefix of one sequence, not complete).
setInterval(flush, 20).unref();
try {
  const replica = await startReplica({
    id: Number(idArg),
    config,
    onLeaderChange: (leader, version) => process.stdout.write(`leader ${leader ?? 'none'} ${version}\n`),
    onDeliver: (iid, value, index) => {
      const id = readChaosValue(value);
      buffered.push(`${iid} ${index} ${id ?? 'foreign'}\n`);
    },
  });
  onSignals(async () => {
    flush();
    await replica.close();
  });
} catch (e) {
  fail(e, 'replica');
}

#!/usr/bin/env node
/**
 * A replica for `pnpm chaos`: the library's replica with the chaos state machine (ChaosState) and
 * checkpoints, appending to a log of its own every delivery — `<iid> <position> <client>:<seq>` per
 * line — and every restore from a checkpoint — `restored <iid> <count> <hash>` — so the checker can
 * compare what every incarnation of every replica delivered, and the states it restored.
 * Checkpoints written, transfer and rejoin steps go to stderr as `[event] …` lines (the nemesis
 * kills replicas in the middle of a transfer, and wipes a disk only once the last one wiped holds a
 * checkpoint as high as before).
 * With leadership on it also prints every change of the leader as it sees it on stdout,
 * `leader <id> <master version>` or `leader none <version>`: that is how the nemesis finds the
 * leader (no metrics endpoint needed).
 */
import { appendFileSync } from 'node:fs';
import { createLogger, startReplica, type Logger } from '@libpaxos/evpaxos';
import { catchSignals, fail, loadConfig, onSignals, tuneGc } from './cli.js';
import { ChaosState } from './chaos-state.js';
import { readChaosValue } from './chaos-value.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('chaos replica');

const [idArg, configPath, logPath, ...flags] = process.argv.slice(2);
if (idArg === undefined || configPath === undefined || logPath === undefined) {
  process.stderr.write('Usage: chaos-replica <id> <config> <delivery log> [--rejoin] [--pad BYTES]\n');
  process.exit(1);
}
const rejoin = flags.includes('--rejoin');
const padAt = flags.indexOf('--pad');
const pad = padAt >= 0 ? Number(flags[padAt + 1]) : 0;
const config = await loadConfig(configPath, 'replica');
let buffered: string[] = [];
const flush = () => {
  if (buffered.length === 0) return;
  appendFileSync(logPath, buffered.join(''));
  buffered = [];
};
// Written every 20 ms and on exit; a SIGKILL may lose the last lines, which only shortens this
// incarnation's log (the checker needs each log to be a segment of one sequence, not complete).
setInterval(flush, 20).unref();
const base = createLogger('info');
const EVENTS = /fetching the checkpoint|Resuming the transfer|Installed the checkpoint|rejoin|Restored the checkpoint|discarded|Caught up from the log|no peer has a checkpoint|^Checkpoint of instance/i;
const log: Logger = {
  error: (l) => base.error(l),
  info: (l) => {
    if (EVENTS.test(l)) process.stderr.write(`[event] ${l}\n`);
  },
  // The trims by checkpoint (a debug line): the harness wipes a replica only once the log was
  // trimmed, so that the replica must catch up through a snapshot.
  debug: (l) => {
    const m = /trimming the acceptors up to (\d+)/.exec(l);
    if (m !== null) process.stderr.write(`[event] trim ${m[1]}\n`);
  },
};
/** The last instance delivered, said on stderr now and then (the nemesis waits for fences to be passed). */
let lastIid = 0;
let saidIid = 0;
setInterval(() => {
  if (lastIid === saidIid) return;
  saidIid = lastIid;
  process.stderr.write(`[event] at ${lastIid}\n`);
}, 500).unref();
try {
  const state = new ChaosState(pad, (iid, s) => {
    // Written before any delivery that follows it: the log stays in order.
    buffered.push(`restored ${iid} ${s.count} ${s.hash}\n`);
    flush();
  });
  const replica = await startReplica({
    id: Number(idArg),
    config,
    log,
    rejoin,
    stateMachine: state,
    onLeaderChange: (leader, version) => process.stdout.write(`leader ${leader ?? 'none'} ${version}\n`),
    onDeliver: (iid, value, index) => {
      lastIid = iid;
      buffered.push(`${iid} ${index} ${readChaosValue(value) ?? 'foreign'}\n`);
    },
  });
  onSignals(async () => {
    flush();
    await replica.close();
  });
} catch (e) {
  fail(e, 'replica');
}

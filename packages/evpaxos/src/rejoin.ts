import { REJOIN_PENDING, rejoinMargin, rejoinPoint, type RejoinAnswer } from '@libpaxos/paxos-core';
import type { PaxosConfig } from './config.js';
import type { RateLimitedLogger } from './log.js';
import { Network } from './network.js';
import type { AcceptorStorage, StoredState } from './storage.js';
import { VERSION } from './version.js';

/** Whether a replica must rejoin before it starts (paxos-core's rejoin.ts). */
export function mustRejoin(state: StoredState, asked: boolean): 'pending' | 'asked' | 'not-lost' | 'no' {
  if (state.fence === REJOIN_PENDING) return 'pending';
  if (!asked) return 'no';
  const empty = state.records.length === 0 && state.trimIid === 0 && state.roundFloor === 0 && state.fence === 0;
  return empty ? 'asked' : 'not-lost';
}

/**
 * Rejoins replica `id` of `config`, whose storage was lost: marks the rejoin as under way (so a
 * restart in the middle rejoins again), asks every other replica for its acceptor's highest
 * instance and ballot, and writes the fence and round floor `rejoinPoint` computes. The replica
 * does not listen meanwhile; it starts once this resolves.
 */
export async function rejoin(config: PaxosConfig, id: number, storage: AcceptorStorage, log: RateLimitedLogger): Promise<void> {
  await storage.commit([{ kind: 'fence', iid: REJOIN_PENDING }]);
  const others = config.acceptors.length - 1;
  // See paxos-core's rejoin.ts; the proposers' limit on instances in phase 2 is 1024 (2 with batching).
  const margin = rejoinMargin(config.proposerPreexecWindow, config.proposerBatchMaxValues > 0 ? 2 : 1024, config.leader);
  const answers = new Map<number, RejoinAnswer>();
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const network = new Network({
    dial: config.acceptors,
    self: id,
    nodelay: config.tcpNodelay,
    maxValueSize: config.maxValueSize,
    maxQueuedBytes: 1 << 20,
    log,
    onMessage: () => undefined,
    hello: { type: 'hello', version: VERSION, role: 'replica', id, features: [] },
    onExtension: (from, msg) => {
      if (msg.type !== 'rejoin_info') return;
      answers.set(from, { highest: msg.highest, maxBallot: msg.maxBallot });
      if (answers.size >= others) done();
    },
  });
  log.info(`Replica ${id} lost its storage: rejoining. It takes part in nothing until every other replica (${others}) has told it the highest instance and ballot its acceptor knows`);
  await network.start();
  const started = performance.now();
  let lastSaid = started;
  const timer = setInterval(() => {
    for (const peer of network.extensionPeers()) if (!answers.has(peer)) network.toPeerExtension(peer, { type: 'rejoin_query' });
    if (performance.now() - lastSaid >= 10_000) {
      lastSaid = performance.now();
      const missing = config.acceptors.map((_, k) => k).filter((k) => k !== id && !answers.has(k));
      log.info(`Still rejoining after ${Math.round((performance.now() - started) / 1000)} s: waiting for replica${missing.length === 1 ? '' : 's'} ${missing.join(', ')} to answer (a replica that is down, or not libpaxos-ts, cannot; one with a long log answers once it has read its older records' ballots)`);
    }
  }, 200);
  try {
    await finished;
  } finally {
    clearInterval(timer);
    await network.close();
  }
  const point = rejoinPoint([...answers.values()], others, margin) as { fence: number; roundFloor: number };
  await storage.commit([
    { kind: 'round-floor', round: point.roundFloor },
    { kind: 'fence', iid: point.fence },
  ]);
  log.info(`Replica ${id} rejoined: its acceptor takes no part in instances up to ${point.fence}, its proposer starts at round ${point.roundFloor + 1}`);
}

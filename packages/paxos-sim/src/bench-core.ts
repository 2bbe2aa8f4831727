#!/usr/bin/env node
/**
 * `pnpm bench:core`: how fast the pure core decides values, with no I/O at all — one proposer,
 * three acceptors and a learner in one process, messages passed by direct calls, 64-byte values,
 * one value per instance (no batching), the proposer's normal phase-1 window (128). Counts values
 * the learner delivers. The core must never be what limits the network layer. Like a real
 * application (LibPaxos3's counter sample), it trims the acceptors now and then; without trim an
 * acceptor's state grows with every instance.
 */
import { Acceptor, Learner, Proposer, clearEffects, newEffects, type Delivery, type Effects, type Envelope, type Message } from '@libpaxos/paxos-core';

const VALUE_SIZE = 64;
const WARMUP_MS = 1000;
const MEASURE_MS = Number(process.env.BENCH_MS ?? 5000);

const ACCEPTORS = 3;
const PROPOSER = ACCEPTORS;
const LEARNER = ACCEPTORS + 1;
const TRIM_EVERY = 10_000;
let trimmed = 0;

const acceptors = Array.from({ length: ACCEPTORS }, (_, id) => new Acceptor({ id }));
const proposer = new Proposer({ id: 0, acceptors: ACCEPTORS, maxQueue: 1 << 20 });
const learner = new Learner({ acceptors: ACCEPTORS });

// A ring buffer of (to, from, msg): the harness should cost as little as possible.
const CAP = 1 << 20;
const qTo = new Int32Array(CAP);
const qFrom = new Int32Array(CAP);
const qMsg = new Array<Message | undefined>(CAP);
let head = 0;
let tail = 0;
const out: Effects = newEffects();
let delivered = 0;

function enqueue(to: number, from: number, msg: Message): void {
  qTo[tail] = to;
  qFrom[tail] = from;
  qMsg[tail] = msg;
  tail = (tail + 1) & (CAP - 1);
  if (tail === head) throw new Error('bench queue overflow');
}

/** Envelopes and deliveries before these indexes are routed already. */
let sendCursor = 0;
let deliverCursor = 0;

/**
 * Routes what the last step appended. Effects accumulate across steps (as a shell accumulates a
 * turn before its group commit) and are cleared only once they grow, so clearing costs nothing
 * per step.
 */
function route(from: number): void {
  const send = out.send;
  for (; sendCursor < send.length; sendCursor++) {
    const env = send[sendCursor] as Envelope;
    switch (env.to) {
      case 'acceptors':
        for (let a = 0; a < ACCEPTORS; a++) enqueue(a, from, env.msg);
        break;
      case 'subscribers':
        enqueue(PROPOSER, from, env.msg);
        enqueue(LEARNER, from, env.msg);
        break;
      case 'peer':
        enqueue(env.peer, from, env.msg);
        break;
    }
  }
  const deliveries = out.deliver;
  if (deliverCursor < deliveries.length) {
    delivered += deliveries.length - deliverCursor;
    deliverCursor = deliveries.length;
    const last = deliveries[deliveries.length - 1] as Delivery;
    if (last.iid - trimmed >= TRIM_EVERY) {
      trimmed = last.iid;
      learner.trim(trimmed, out);
      route(LEARNER);
    }
  }
  if (send.length > 4096) {
    clearEffects(out);
    sendCursor = 0;
    deliverCursor = 0;
  }
}

let seq = 0;
function topUp(): void {
  while (proposer.queueLength < 4096) {
    const v = new Uint8Array(VALUE_SIZE);
    v[0] = seq & 0xff;
    v[1] = (seq >>> 8) & 0xff;
    v[2] = (seq >>> 16) & 0xff;
    seq++;
    proposer.propose(v, out);
    route(PROPOSER);
  }
}

let now = 0;
function tickAll(): void {
  now++;
  for (let a = 0; a < ACCEPTORS; a++) {
    acceptors[a]?.tick(now, out);
    route(a);
  }
  proposer.tick(now, out);
  route(PROPOSER);
  learner.tick(now, out);
  route(LEARNER);
}

function run(ms: number): { values: number; secs: number; steps: number } {
  const start = performance.now();
  const startDelivered = delivered;
  let steps = 0;
  while (performance.now() - start < ms) {
    topUp();
    for (let burst = 0; burst < 20_000 && head !== tail; burst++, steps++) {
      const to = qTo[head] as number;
      const from = qFrom[head] as number;
      const msg = qMsg[head] as Message;
      qMsg[head] = undefined;
      head = (head + 1) & (CAP - 1);
      if (to === PROPOSER) proposer.receive(from, msg, out);
      else if (to === LEARNER) learner.receive(from, msg, out);
      else (acceptors[to] as Acceptor).receive(from, msg, out);
      route(to);
    }
    tickAll();
  }
  return { values: delivered - startDelivered, secs: (performance.now() - start) / 1000, steps };
}

proposer.tick(0, out);
route(PROPOSER);
run(WARMUP_MS);
// One-second windows, like the client's per-second lines: the median is what one GC pause or
// scheduler hiccup cannot move; the mean over the whole run is printed beside it.
const windows: number[] = [];
let values = 0;
let secs = 0;
let steps = 0;
for (let i = 0; i < Math.max(1, Math.round(MEASURE_MS / 1000)); i++) {
  const r = run(1000);
  windows.push(r.values / r.secs);
  values += r.values;
  secs += r.secs;
  steps += r.steps;
}
const sorted = [...windows].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
process.stdout.write(
  `paxos-core: ${fmt(median)} values/s decided (median of ${windows.length} one-second windows: ${windows.map(fmt).join(', ')}; ` +
    `mean ${fmt(values / secs)}; ${fmt(steps / secs)} steps/s; ${VALUE_SIZE} B values, 1 proposer, ${ACCEPTORS} acceptors, 1 learner, window 128, no batching; Node ${process.version})\n`,
);

#!/usr/bin/env node
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { SUBMIT_ONLY_HELLO, dialProblem, encodeMessage, formatAddress, startLearner, transportFor, type LearnerHandle, type Transport } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, operating, sampleLogger, say, setLogSource, tuneGc } from './cli.js';
import { clientArgs } from './client-args.js';
import { LatencyHistogram } from './histogram.js';
import { HEADER_SIZE, PayloadMaker, isPayloadOf, nowUs, payloadSentUs, payloadSeq } from './payload.js';

tuneGc('client');

const argv = clientArgs(process.argv.slice(2)).parseSync();
const ops = operating(argv);
setLogSource(ops.logFormat ?? 'text', 'client');

const config = await loadConfig(argv._[0] !== undefined ? String(argv._[0]) : defaultConfigPath(), 'client');
const log = sampleLogger(config, ops, 'client');
const proposer = config.proposers[argv['proposer-id']];
if (proposer === undefined) {
  say('error', `${config.path}: there is no proposer ${argv['proposer-id']}; the config has ${config.proposers.length}`);
  process.exit(1);
}
const valueSize = argv['value-size'];
if (valueSize + HEADER_SIZE > config.maxValueSize) {
  say('error', `-v ${valueSize} makes values of ${valueSize + HEADER_SIZE} bytes, more than max-value-size in ${config.path} (${config.maxValueSize} bytes)`);
  process.exit(1);
}
const clientId = randomInt(2 ** 31);
const launched = performance.now();
const where = `proposer ${argv['proposer-id']} (${formatAddress(proposer)})`;
const json = argv.json;

// Per second (reset every second, as LibPaxos3 prints it) and for the whole run.
let second = { values: 0, bytes: 0, min: 0, max: 0, sum: 0 };
const total = { values: 0, startedUs: 0, delivered: 0, submitted: 0, duplicates: 0 };
const histogram = new LatencyHistogram();
/**
 * This client's values submitted and not yet delivered, by the sequence number in their payload.
 * A delivery of a value that is not in flight is a duplicate (a value decided twice, which
 * forwarding at a change of leader can cause): it is counted, but neither measured nor answered
 * with a new value, so the number in flight stays `-o`.
 */
const inFlight = new Set<number>();
const payloads = new PayloadMaker(clientId, valueSize);

// With TLS on (tls-* keys), the client proves it is `client` and checks that it reached the
// proposer of its config line; without, plain TCP as LibPaxos3.
let transport: Transport;
try {
  transport = transportFor(config, 'client');
} catch (e) {
  fail(e, 'client');
}
const socket: Socket = transport.connect(proposer, proposer.name);
socket.setNoDelay(config.tcpNodelay);
// An acceptor broadcasts accepted messages to every connection. This one only submits (the
// learner below has connections of its own), and says so first: a libpaxos-ts replica then sends
// nothing here, which spares it a write and us a read per value. A C LibPaxos3 replica ignores
// the hello and keeps sending: read and discard, or it would have to drop us (LibPaxos3's client
// never reads: B13).
socket.write(SUBMIT_ONLY_HELLO);
socket.on('data', () => undefined);
// Listened for now: the connection may be up (or its handshake done) before the learner below is.
const ready = new Promise<void>((resolve) => socket.once(transport.readyEvent, () => resolve()));
let connected = false;
let lostBecause: string | undefined;
socket.on('error', (e: NodeJS.ErrnoException) => {
  const why = (transport.secure ? dialProblem(e)?.why : undefined) ?? e.message;
  if (connected) {
    lostBecause = why;
    return;
  }
  say('error', `Could not connect to ${where}: ${why}`);
  process.exit(1);
});
socket.on('close', () => {
  if (!connected || stopping) return;
  say('error', `Lost the connection to ${where}${lostBecause !== undefined ? ` (${lostBecause})` : ''}; stopping`);
  void stop();
});

// Values submitted in one event-loop turn leave in one write.
let outgoing: Uint8Array[] = [];
function submit(): void {
  if (draining) return;
  if (outgoing.length === 0) setImmediate(flushOutgoing);
  // Encoded at once: the maker reuses its buffer.
  outgoing.push(encodeMessage({ type: 'client_value', value: payloads.next() }));
  inFlight.add(payloads.lastSeq);
  total.submitted++;
}
function flushOutgoing(): void {
  const chunks = outgoing;
  outgoing = [];
  if (chunks.length > 0 && !socket.destroyed) socket.write(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks));
}

let learner: LearnerHandle;
try {
  learner = await startLearner({
    config,
    as: 'client',
    log,
    ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}),
    catchUp: false,
    onDeliver: (_iid, value) => {
      if (!isPayloadOf(value, clientId)) return;
      if (!inFlight.delete(payloadSeq(value))) {
        total.duplicates++;
        return;
      }
      total.delivered++;
      if (draining) {
        if (inFlight.size === 0) drained?.();
        return;
      }
      const now = nowUs();
      const latency = Math.max(0, now - payloadSentUs(value));
      second.values++;
      second.bytes += value.length;
      second.sum += latency;
      if (second.min === 0 || latency < second.min) second.min = latency;
      if (latency > second.max) second.max = latency;
      if (total.startedUs > 0 && now >= total.startedUs) {
        total.values++;
        histogram.record(latency);
      }
      submit();
    },
  });
} catch (e) {
  fail(e, 'client');
}

void ready.then(async () => {
  connected = true;
  if (!json) process.stdout.write('Connected to proposer\n');
  // The learner hears of an instance only from the acceptors it is connected to when they accept
  // it. Values submitted before its connections are up (TLS handshakes take a while) are decided
  // unseen; its learner asks each acceptor for them as that connection comes up, but the first
  // values' latencies would still count the handshakes. So wait for all of them, in sleeps of 10
  // ms: up to 20 sleeps once a majority is up (the others may be down), and 100 in all (it counts
  // against --duration; about 200 ms and 1 s, longer on a busy machine).
  for (let waited = 0; waited < 1000; waited += 10) {
    const acceptors = learner.acceptors();
    const up = acceptors.filter((a) => a.up).length;
    if (up === acceptors.length || (waited >= 200 && up > acceptors.length / 2)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  total.startedUs = nowUs() + argv.warmup * 1e6;
  for (let i = 0; i < argv.outstanding; i++) submit();
});

const ticker = setInterval(() => {
  const s = second;
  second = { values: 0, bytes: 0, min: 0, max: 0, sum: 0 };
  const mbps = (s.bytes * 8) / (1024 * 1024);
  const avg = s.values > 0 ? Math.floor(s.sum / s.values) : 0;
  if (json) {
    process.stdout.write(`${JSON.stringify({ type: 'second', values: s.values, mbps: Number(mbps.toFixed(2)), latencyUs: { min: s.min, max: s.max, avg } })}\n`);
  } else {
    process.stdout.write(`${s.values} value/sec, ${mbps.toFixed(2)} Mbps, latency min ${s.min} us max ${s.max} us avg ${avg} us\n`);
  }
}, 1000);

let stopping = false;
/** Stopped submitting; waiting for the values in flight (`--drain`). */
let draining = false;
let drained: (() => void) | undefined;
/**
 * Prints the summary and exits: 0 when some of this client's values were delivered (and, with
 * `--drain`, every value it submitted was), else 1.
 */
async function stop(): Promise<void> {
  if (stopping) process.exit(total.values > 0 ? 0 : 1);
  stopping = true;
  clearInterval(ticker);
  const secs = total.startedUs > 0 ? Math.max(0, (nowUs() - total.startedUs) / 1e6) : 0;
  const drain = argv.drain;
  if (drain !== undefined && connected && inFlight.size > 0) {
    // Measured up to here; the values still in flight only have to arrive.
    draining = true;
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, drain * 1000);
    });
  }
  const undelivered = inFlight.size;
  const summary = {
    type: 'summary',
    values: total.values,
    seconds: Number(secs.toFixed(2)),
    valuesPerSec: secs > 0 ? Math.round(total.values / secs) : 0,
    latencyUs: { p50: histogram.percentile(50), p99: histogram.percentile(99), max: histogram.max },
    outstanding: argv.outstanding,
    valueSize,
    submitted: total.submitted,
    /** Values submitted and not delivered when the client stopped (after `--drain`, if given). */
    undelivered,
    duplicates: total.duplicates,
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `Summary: ${summary.values} values in ${summary.seconds} s, ${summary.valuesPerSec} value/sec, latency p50 ${summary.latencyUs.p50} us p99 ${summary.latencyUs.p99} us max ${summary.latencyUs.max} us\n`,
    );
    if (drain !== undefined) {
      process.stdout.write(
        `Drained: ${total.submitted - undelivered} of ${total.submitted} submitted values delivered, ${undelivered} not within ${drain} s, ${total.duplicates} delivered twice\n`,
      );
    }
  }
  socket.destroy();
  await learner.close();
  if (total.values > 0 && (drain === undefined || undelivered === 0)) process.exit(0);
  if (total.values > 0) {
    say('error', `${undelivered} of this client's ${total.submitted} values were not delivered within ${drain} s after it stopped submitting (--drain): they were lost, or the cluster is too slow to deliver them in that time.`);
    process.exit(1);
  }
  // A run that measured nothing is a failure, with one sentence saying why.
  const why = !connected
    ? `Could not connect to ${where} in ${((performance.now() - launched) / 1000).toFixed(1)} s.`
    : total.delivered > 0
      ? `No value was delivered after the ${argv.warmup} s warm-up, so the summary measured nothing; run longer than the warm-up.`
      : `No value of this client was delivered: ${where} took the connection, but this client's learner saw none of its values decided (are a majority of the acceptors up and reachable? see the lines above).`;
  say('error', why);
  process.exit(1);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (argv.duration !== undefined) setTimeout(() => void stop(), argv.duration * 1000);

#!/usr/bin/env node
import { randomInt } from 'node:crypto';
import { createConnection } from 'node:net';
import { encodeMessage, startLearner, type LearnerHandle } from '@libpaxos/evpaxos';
import { defaultConfigPath, fail, loadConfig, sampleArgs } from './cli.js';
import { LatencyHistogram } from './histogram.js';
import { HEADER_SIZE, makePayload, nowUs, readPayload } from './payload.js';

const argv = sampleArgs('client')
  .usage(
    'Usage: $0 [config] [-o N] [-v N] [-p N] [--duration S] [--json]\n\n' +
      'Submits values to a proposer and measures, with its own learner, how many of them the cluster\n' +
      'delivers per second and how long each took. Keeps N values in flight (a new one for each delivered).',
  )
  .option('outstanding', { alias: 'o', type: 'number', default: 1, describe: 'values in flight' })
  .option('value-size', { alias: 'v', type: 'number', default: 64, describe: `bytes per value after the ${HEADER_SIZE}-byte header` })
  .option('proposer-id', { alias: 'p', type: 'number', default: 0, describe: 'proposer (or replica) to submit to' })
  .option('duration', { type: 'number', describe: 'stop after this many seconds and print the summary' })
  .option('warmup', { type: 'number', default: 0, describe: 'leave the first seconds out of the summary' })
  .option('json', { type: 'boolean', default: false, describe: 'print JSON lines instead of text' })
  .check((a) => {
    for (const [name, v, min] of [
      ['outstanding', a.outstanding, 1],
      ['value-size', a['value-size'], 1],
      ['proposer-id', a['proposer-id'], 0],
    ] as const) {
      if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${String(v)}`);
    }
    if (a.duration !== undefined && !(a.duration > 0)) throw new Error(`--duration must be a positive number of seconds, got ${String(a.duration)}`);
    if (!(a.warmup >= 0)) throw new Error(`--warmup must be a number of seconds ≥ 0, got ${String(a.warmup)}`);
    if (a._.length > 1) throw new Error(`unexpected argument '${String(a._[1])}'`);
    return true;
  })
  .help()
  .alias('help', 'h')
  .strictOptions()
  .parseSync();

const config = loadConfig(argv._[0] !== undefined ? String(argv._[0]) : defaultConfigPath(), 'client');
const proposer = config.proposers[argv['proposer-id']];
if (proposer === undefined) {
  process.stderr.write(`${config.path}: there is no proposer ${argv['proposer-id']}; the config has ${config.proposers.length}\n`);
  process.exit(1);
}
const clientId = randomInt(2 ** 31);
const valueSize = argv['value-size'];
const json = argv.json;

// Per second (reset every second, as LibPaxos3 prints it) and for the whole run.
let second = { values: 0, bytes: 0, min: 0, max: 0, sum: 0 };
const total = { values: 0, startedUs: 0 };
const histogram = new LatencyHistogram();

const socket = createConnection({ host: proposer.host, port: proposer.port });
socket.setNoDelay(config.tcpNodelay);
// A replica broadcasts accepted messages to every connection, ours too: read and discard them,
// or it would have to drop us (LibPaxos3's client never reads: B13).
socket.on('data', () => undefined);
socket.on('error', (e) => {
  process.stderr.write(`Could not connect to proposer ${proposer.host}:${proposer.port}: ${e.message}\n`);
  process.exit(1);
});

// Values submitted in one event-loop turn leave in one write.
let outgoing: Uint8Array[] = [];
function submit(): void {
  if (outgoing.length === 0) setImmediate(flushOutgoing);
  outgoing.push(encodeMessage({ type: 'client_value', value: makePayload(clientId, valueSize) }));
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
    catchUp: false,
    onDeliver: (_iid, value) => {
      const p = readPayload(value);
      if (p === undefined || p.clientId !== clientId) return;
      const latency = Math.max(0, nowUs() - p.sentUs);
      second.values++;
      second.bytes += value.length;
      second.sum += latency;
      if (second.min === 0 || latency < second.min) second.min = latency;
      if (latency > second.max) second.max = latency;
      if (total.startedUs > 0 && nowUs() >= total.startedUs) {
        total.values++;
        histogram.record(latency);
      }
      submit();
    },
  });
} catch (e) {
  fail(e, 'client');
}

socket.on('connect', () => {
  if (!json) process.stdout.write('Connected to proposer\n');
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
async function stop(): Promise<void> {
  if (stopping) process.exit(0);
  stopping = true;
  clearInterval(ticker);
  const secs = total.startedUs > 0 ? Math.max(0, (nowUs() - total.startedUs) / 1e6) : 0;
  const summary = {
    type: 'summary',
    values: total.values,
    seconds: Number(secs.toFixed(2)),
    valuesPerSec: secs > 0 ? Math.round(total.values / secs) : 0,
    latencyUs: { p50: histogram.percentile(50), p99: histogram.percentile(99), max: histogram.max },
    outstanding: argv.outstanding,
    valueSize,
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `Summary: ${summary.values} values in ${summary.seconds} s, ${summary.valuesPerSec} value/sec, latency p50 ${summary.latencyUs.p50} us p99 ${summary.latencyUs.p99} us max ${summary.latencyUs.max} us\n`,
    );
  }
  socket.destroy();
  await learner.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (argv.duration !== undefined) setTimeout(() => void stop(), argv.duration * 1000);

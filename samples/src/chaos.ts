#!/usr/bin/env node
/**
 * `pnpm chaos`: real replicas (LMDB, lmdb-sync yes) on 127.0.0.1, every connection through a
 * fault-injecting proxy, two clients submitting values with unique ids and resubmitting what is
 * not delivered in time, and a nemesis drawn from the seed: SIGKILL and restart, SIGSTOP/SIGCONT,
 * link cuts, delays, resets and one-way stalls. With leadership on (the default; `--leader off`
 * runs LibPaxos3's every-replica-proposes) it also kills, pauses and cuts off the leader itself,
 * found from the leader changes each replica prints, and measures each failover: the time from
 * the fault until a value submitted after it is delivered. At the end everything heals; then
 * every replica incarnation's delivery log must be a prefix of one common sequence that holds
 * every submitted value (after Jepsen and etcd's robustness tests: record what was seen, inject
 * faults, check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '@libpaxos/paxos-core';
import { encodeMessage, parseConfig, silentLogger, startLearner, type LearnerHandle } from '@libpaxos/evpaxos';
import { LinkProxy } from './chaos-proxy.js';
import { makeChaosValue, readChaosValue } from './chaos-value.js';
import { numberFlag, sampleArgs } from './cli.js';

const argv = sampleArgs('pnpm chaos')
  .usage('Usage: $0 [--duration S] [--seed N] [--replicas 3|5] [--leader on|off] [--workload values|kv] [--port-base P] [--verbose] [--keep]')
  .option('duration', { default: 60, coerce: numberFlag('duration', { min: 2, max: 86_400, unit: 'seconds' }), describe: 'seconds of faults (at least 2: the first fault comes after 1 s)' })
  .option('seed', { default: 1, coerce: numberFlag('seed', { integer: true, min: 0, max: 2 ** 31 - 1 }), describe: 'chooses the fault schedule' })
  .option('replicas', {
    default: 3,
    coerce: (v: unknown) => {
      if (String(v) !== '3' && String(v) !== '5') throw new Error(`--replicas must be 3 or 5, got '${String(v)}'`);
      return Number(v);
    },
    describe: '3 or 5',
  })
  .option('leader', {
    default: 'on',
    coerce: (v: unknown) => {
      if (String(v) !== 'on' && String(v) !== 'off') throw new Error(`--leader must be on or off, got '${String(v)}'`);
      return String(v) as 'on' | 'off';
    },
    describe: "leader election with a lease ('leader yes', default lease) and leader faults; off: every replica proposes, as in LibPaxos3",
  })
  .option('workload', {
    default: 'values',
    coerce: (v: unknown) => {
      if (String(v) !== 'values' && String(v) !== 'kv') throw new Error(`--workload must be values or kv, got '${String(v)}'`);
      return String(v) as 'values' | 'kv';
    },
    describe: 'values: replicas deliver client values, every log must be a prefix of one sequence; kv: 3 kv-servers driven by memcached clients, their history checked for linearizability (chaos-kv.ts)',
  })
  .option('verbose', {
    type: 'boolean',
    default: false,
    describe: "replicas log at the info level (leader changes, timeouts, connections) to stderr-<replica>-<incarnation>.log in the run's folder; with --keep it stays",
  })
  .option('keep', { type: 'boolean', default: false, describe: 'keep the logs even when everything checks out' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 65_000 }), describe: 'first of the ~50 ports on 127.0.0.1 to use (--workload kv: the first 39 free ones of the 300 from it) (default: from the seed)' })
  .strictOptions()
  .parseSync();

if (argv.workload === 'kv') {
  if (argv.replicas !== 3) {
    process.stderr.write(`pnpm chaos: --workload kv runs 3 kv-servers; --replicas ${argv.replicas} is not supported with it\n`);
    process.exit(2);
  }
  const { runKvChaos } = await import('./chaos-kv.js');
  process.exit(await runKvChaos({ duration: argv.duration, seed: argv.seed, leader: argv.leader === 'on', portBase: argv['port-base'], verbose: argv.verbose, keep: argv.keep }));
}

const here = dirname(fileURLToPath(import.meta.url));
const R = argv.replicas;
const CLIENTS = 2;
const IN_FLIGHT = 20;
const RESUBMIT_MS = 3000;
const rng = new Prng(argv.seed);
const dir = mkdtempSync(join(tmpdir(), 'paxos-chaos-'));
const started = Date.now();
const LEADER = argv.leader === 'on';
const faults: Record<string, number> = {
  kill: 0,
  pause: 0,
  cut: 0,
  delay: 0,
  reset: 0,
  'one-way': 0,
  ...(LEADER ? { 'kill-leader': 0, 'pause-leader': 0, 'cut-leader': 0 } : {}),
};
/** The default lease (`leader-lease` is not set in the configs): leader faults outlast it. */
const LEASE_MS = 2000;
const log = (text: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}\n`);

// Ports: real replica ports, and one proxy per (source process, replica) link.
const base = argv['port-base'] ?? 50000 + ((argv.seed * 7 + process.pid) % 60) * 200;
const real = Array.from({ length: R }, (_, i) => base + i);
const proxyPort = (source: number, target: number) => base + 10 + source * R + target;
const sources = R + CLIENTS;

function configFor(source: number): string {
  const lines = Array.from({ length: R }, (_, t) => `replica ${t} 127.0.0.1 ${source === t ? real[t] : proxyPort(source, t)}`);
  lines.push(
    `verbosity ${argv.verbose ? 'info' : 'error'}`,
    'storage-backend lmdb',
    `lmdb-env-path ${join(dir, 'acceptor')}`,
    'lmdb-sync yes',
    'lmdb-mapsize 16mb',
    'proposer-batch-max-values 64',
    ...(LEADER ? ['leader yes'] : []),
  );
  return `${lines.join('\n')}\n`;
}
const configPaths = Array.from({ length: sources }, (_, s) => {
  const p = join(dir, `paxos-${s}.conf`);
  writeFileSync(p, configFor(s));
  return p;
});

const proxies: LinkProxy[] = [];
/** Each proxy's link: the process that dials through it (replica or client) and the replica dialled. */
const linkOf = new Map<LinkProxy, { source: number; target: number }>();
for (let s = 0; s < sources; s++) {
  for (let t = 0; t < R; t++) {
    if (s === t) continue;
    const p = new LinkProxy(proxyPort(s, t), real[t] as number);
    proxies.push(p);
    linkOf.set(p, { source: s, target: t });
  }
}
await Promise.all(proxies.map((p) => p.start()));

interface ReplicaProc {
  child: ChildProcess | null;
  incarnation: number;
  state: 'up' | 'down' | 'paused';
  /** The leader as this incarnation last reported it (`leader <id> <version>` on its stdout). */
  sees: { id: number | undefined; version: number };
}
const replicas: ReplicaProc[] = Array.from({ length: R }, () => ({ child: null, incarnation: 0, state: 'down' as const, sees: { id: undefined, version: 0 } }));
function startReplica(i: number): void {
  const r = replicas[i] as ReplicaProc;
  r.incarnation++;
  r.sees = { id: undefined, version: 0 };
  const child = spawn(process.execPath, [join(here, 'chaos-replica.js'), String(i), configPaths[i] as string, join(dir, `deliveries-${i}-${r.incarnation}.log`)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  r.child = child;
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (out + d.toString()).split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^leader (\d+|none) (\d+)$/.exec(line);
      if (m !== null && r.child === child) {
        r.sees = { id: m[1] === 'none' ? undefined : Number(m[1]), version: Number(m[2]) };
        if (r.sees.id === i) log(`replica ${i} leads (master version ${r.sees.version})`);
      }
    }
  });
  let err = '';
  const errLog = join(dir, `stderr-${i}-${r.incarnation}.log`);
  r.child.stderr?.on('data', (d: Buffer) => {
    // Only the end is shown when a replica fails; the whole of it goes to a file with --verbose.
    err = (err + d.toString()).slice(-4000);
    if (argv.verbose) appendFileSync(errLog, d);
  });
  r.child.once('exit', (code, signal) => {
    if (signal === null && code !== 0 && r.state === 'up') log(`replica ${i} exited with ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`);
  });
  r.state = 'up';
}
for (let i = 0; i < R; i++) startReplica(i);
// Never leave replicas behind, whatever ends this process.
const killReplicas = () => {
  for (const r of replicas) {
    r.child?.kill('SIGCONT');
    r.child?.kill('SIGKILL');
  }
};
process.on('exit', killReplicas);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killReplicas();
    process.stderr.write(`stopped by ${signal}; logs kept in ${dir}\n`);
    process.exit(1);
  });
}

// ---- clients ----
interface Client {
  id: number;
  nextSeq: number;
  /** Undelivered values: seq → last submission time. */
  pending: Map<number, number>;
  delivered: Map<string, number>;
  socket: Socket | null;
  target: number;
  learner: LearnerHandle | null;
}
let submitting = true;
const clients: Client[] = Array.from({ length: CLIENTS }, (_, id) => ({ id, nextSeq: 0, pending: new Map(), delivered: new Map(), socket: null, target: id % R, learner: null }));

function connectClient(c: Client): void {
  const source = R + c.id;
  const socket = createConnection({ host: '127.0.0.1', port: proxyPort(source, c.target) });
  c.socket = socket;
  socket.on('data', () => undefined);
  socket.on('connect', () => {
    for (const seq of c.pending.keys()) send(c, seq);
  });
  const retry = () => {
    if (c.socket !== socket) return;
    c.socket = null;
    // Any replica may be down: try the next one.
    c.target = (c.target + 1) % R;
    setTimeout(() => connectClient(c), 200);
  };
  socket.on('error', retry);
  socket.on('close', retry);
}

function send(c: Client, seq: number): void {
  c.pending.set(seq, Date.now());
  if (c.socket !== null && !c.socket.connecting && !c.socket.destroyed) c.socket.write(encodeMessage({ type: 'client_value', value: makeChaosValue(c.id, seq) }));
}

for (const c of clients) {
  const config = parseConfig(readFileSync(configPaths[R + c.id] as string, 'utf8'), configPaths[R + c.id]);
  c.learner = await startLearner({
    config,
    log: silentLogger,
    onDeliver: (_iid, value) => {
      const id = readChaosValue(value);
      if (id === undefined) return;
      const [client, seq] = id.split(':').map(Number) as [number, number];
      if (client !== c.id) return;
      c.delivered.set(id, (c.delivered.get(id) ?? 0) + 1);
      c.pending.delete(seq);
      if (failover !== undefined && seq >= (failover.after[c.id] as number)) failoverDone(failover);
      if (submitting && c.pending.size < IN_FLIGHT) send(c, c.nextSeq++);
    },
  });
  connectClient(c);
}
const feeder = setInterval(() => {
  const now = Date.now();
  for (const c of clients) {
    while (submitting && c.pending.size < IN_FLIGHT) send(c, c.nextSeq++);
    for (const [seq, at] of c.pending) if (now - at > RESUBMIT_MS) send(c, seq);
  }
}, 100);

// ---- the nemesis ----
const timers = new Set<NodeJS.Timeout>();
const later = (ms: number, f: () => void) => {
  const t = setTimeout(() => {
    timers.delete(t);
    f();
  }, ms);
  timers.add(t);
};
const maxDown = Math.floor((R - 1) / 2);

// ---- leader faults and failover times ----
/** A leader fault whose failover is being timed. */
interface Failover {
  kind: string;
  leader: number;
  at: number;
  /** Per client: the first seq submitted after the fault; a delivery of one of them ends the failover. */
  after: number[];
}
let failover: Failover | undefined;
/** A replica cut off from everyone (a cut-leader fault), and the proxies of its links. */
const isolated = new Map<number, LinkProxy[]>();
const failoverMs: number[] = [];
let unmeasured = 0;
/** No new leader fault before this time (the last one's failover and its healing come first). */
let leaderQuietUntil = 0;
const faultsEnd = started + argv.duration * 1000;

function failoverDone(f: Failover): void {
  const ms = Date.now() - f.at;
  failover = undefined;
  failoverMs.push(ms);
  log(`${f.kind} on replica ${f.leader}: a value submitted after it was delivered ${ms} ms later`);
}

/**
 * The replica that holds the lease as it says itself (its latest report names itself), the one
 * with the newest master version if a paused or cut-off old leader still says so too; undefined
 * when none does (an election is under way) or it is not up and connected.
 */
function currentLeader(): number | undefined {
  let best: number | undefined;
  replicas.forEach((r, i) => {
    if (r.sees.id !== i) return;
    if (best === undefined || r.sees.version > (replicas[best] as ReplicaProc).sees.version) best = i;
  });
  return best !== undefined && replicas[best]?.state === 'up' && !isolated.has(best) ? best : undefined;
}

/** Kills, pauses or cuts off the leader, for longer than a lease so that another must take over; false if it cannot now. */
function leaderFault(kind: 'kill-leader' | 'pause-leader' | 'cut-leader'): boolean {
  const leader = currentLeader();
  // Not in the last seconds: a failover still open when the run heals is not measured.
  if (failover !== undefined || Date.now() < leaderQuietUntil || Date.now() > faultsEnd - LEASE_MS - 8000 || leader === undefined) return false;
  // The leader goes away: the others must still be a majority.
  if (replicas.filter((r) => r.state !== 'up').length + isolated.size >= maxDown) return false;
  const r = replicas[leader] as ReplicaProc;
  const ms = rng.between(LEASE_MS + 500, LEASE_MS + 3000);
  if (kind === 'kill-leader') {
    r.state = 'down';
    r.child?.kill('SIGKILL');
    later(ms, () => startReplica(leader));
  } else if (kind === 'pause-leader') {
    r.state = 'paused';
    r.child?.kill('SIGSTOP');
    later(ms, () => {
      r.child?.kill('SIGCONT');
      r.state = 'up';
    });
  } else {
    // Every link to and from it, clients' included; its own acceptor is reached in memory.
    const links = proxies.filter((p) => linkOf.get(p)?.source === leader || linkOf.get(p)?.target === leader);
    isolated.set(leader, links);
    for (const p of links) p.setCut(true);
    later(ms, () => {
      isolated.delete(leader);
      for (const p of links) p.setCut(false);
    });
  }
  faults[kind] = (faults[kind] ?? 0) + 1;
  failover = { kind, leader, at: Date.now(), after: clients.map((c) => c.nextSeq) };
  leaderQuietUntil = Date.now() + ms + 2000;
  log(`${kind}: replica ${leader} (master version ${r.sees.version}) for ${ms} ms`);
  return true;
}

function nemesis(): void {
  const kind = rng.pick(LEADER ? (['kill', 'pause', 'cut', 'delay', 'reset', 'one-way', 'kill-leader', 'pause-leader', 'cut-leader'] as const) : (['kill', 'pause', 'cut', 'delay', 'reset', 'one-way'] as const));
  const unavailable = replicas.filter((r) => r.state !== 'up').length + isolated.size;
  if (kind === 'kill-leader' || kind === 'pause-leader' || kind === 'cut-leader') {
    leaderFault(kind);
  } else if ((kind === 'kill' || kind === 'pause') && unavailable < maxDown) {
    const i = rng.pick(replicas.map((_, k) => k).filter((k) => replicas[k]?.state === 'up'));
    const r = replicas[i] as ReplicaProc;
    if (kind === 'kill') {
      r.state = 'down';
      r.child?.kill('SIGKILL');
      later(rng.between(1000, 4000), () => startReplica(i));
    } else {
      r.state = 'paused';
      r.child?.kill('SIGSTOP');
      later(rng.between(500, 2500), () => {
        r.child?.kill('SIGCONT');
        r.state = 'up';
      });
    }
    faults[kind] = (faults[kind] ?? 0) + 1;
  } else if (kind !== 'kill' && kind !== 'pause') {
    const p = rng.pick(proxies);
    const ms = rng.between(500, 3000);
    if (kind === 'cut') {
      p.setCut(true);
      // A link of a cut-off leader stays cut until that fault heals.
      later(ms, () => [...isolated.values()].some((links) => links.includes(p)) || p.setCut(false));
    } else if (kind === 'delay') {
      p.setDelay(rng.between(20, 200));
      later(ms, () => p.setDelay(0));
    } else if (kind === 'reset') {
      p.reset();
    } else {
      p.setStalled(true);
      later(ms, () => p.setStalled(false));
    }
    faults[kind] = (faults[kind] ?? 0) + 1;
  }
  if (submitting) later(rng.between(300, 1500), nemesis);
}
later(1000, nemesis);

const progress = setInterval(() => {
  const delivered = clients.reduce((n, c) => n + c.delivered.size, 0);
  const total = Object.values(faults).reduce((a, b) => a + b, 0);
  log(`faults ${total} (${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(', ')}), values delivered ${delivered}${LEADER ? `, leader ${currentLeader() ?? 'unknown'}` : ''}`);
}, 5000);

await new Promise((r) => setTimeout(r, argv.duration * 1000));

// ---- heal, wait until quiet, check ----
submitting = false;
if (failover !== undefined) {
  unmeasured++;
  log(`${failover.kind} on replica ${failover.leader}: no value submitted after it was delivered before the run healed; not measured`);
  failover = undefined;
}
for (const t of timers) clearTimeout(t);
isolated.clear();
for (const p of proxies) p.heal();
replicas.forEach((r, i) => {
  if (r.state === 'paused') r.child?.kill('SIGCONT');
  if (r.state === 'down') startReplica(i);
  r.state = 'up';
});
log('healed; waiting until every replica has delivered every submitted value');
const violations: string[] = [];
const logLines = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== '') : []);
const latest = (i: number) => `deliveries-${i}-${replicas[i]?.incarnation}.log`;
/**
 * The value ids in each replica's current log, read incrementally: a replica restarted just before
 * the heal re-learns the whole history (there is no snapshot), and re-reading a million-line log
 * every poll would take the CPU it needs to do so.
 */
const seen = replicas.map(() => ({ name: '', offset: 0, partial: '', ids: new Set<string>() }));
const readNew = (i: number): Set<string> => {
  const s = seen[i] as (typeof seen)[number];
  const name = latest(i);
  if (s.name !== name) Object.assign(s, { name, offset: 0, partial: '', ids: new Set<string>() });
  const path = join(dir, name);
  if (!existsSync(path)) return s.ids;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > s.offset) {
      const chunk = Buffer.alloc(size - s.offset);
      readSync(fd, chunk, 0, chunk.length, s.offset);
      s.offset = size;
      const lines = (s.partial + chunk.toString('utf8')).split('\n');
      s.partial = lines.pop() ?? '';
      for (const l of lines) if (l !== '') s.ids.add(l.split(' ')[2] as string);
    }
  } finally {
    closeSync(fd);
  }
  return s.ids;
};
/** Submitted values missing from the current log of some replica (clients keep resubmitting them). */
const missing = (): string[] => {
  const logs = replicas.map((_, i) => readNew(i));
  const out: string[] = [];
  for (const c of clients) for (let seq = 0; seq < c.nextSeq; seq++) if (logs.some((l) => !l.has(`${c.id}:${seq}`))) out.push(`${c.id}:${seq}`);
  return out;
};
const CATCH_UP_S = 180;
let gap = missing();
for (const deadline = Date.now() + CATCH_UP_S * 1000; gap.length > 0 && Date.now() < deadline; gap = missing()) await new Promise((r) => setTimeout(r, 1000));
if (gap.length > 0) violations.push(`${gap.length} submitted values are not delivered by every replica ${CATCH_UP_S} s after healing (e.g. ${gap[0]})`);
// The clients' own plain learners (they decide what to resubmit) must catch up too: nothing is
// trimmed here, and since acceptors repeat earlier votes, even an instance that interrupted
// re-proposals left under different value ballots stays learnable (chaos seed 3, issue 5).
const behind = () => clients.filter((c) => c.pending.size > 0);
for (const deadline = Date.now() + 30_000; behind().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 500));
const learnersBehind = behind().map((c) => `client ${c.id} (${c.pending.size} values unseen)`);
if (learnersBehind.length > 0) violations.push(`plain learners did not catch up 30 s after the replicas did: ${learnersBehind.join(', ')}`);
clearInterval(feeder);
clearInterval(progress);
for (const c of clients) {
  c.socket?.destroy();
  await c.learner?.close();
}
await Promise.all(
  replicas.map(
    (r) =>
      new Promise<void>((resolve) => {
        const child = r.child;
        if (child === null || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000);
      }),
  ),
);
await Promise.all(proxies.map((p) => p.close()));

const logs = readdirSync(dir)
  .filter((f) => f.startsWith('deliveries-'))
  .map((f) => ({ name: f, lines: logLines(f) }));
const common = logs.reduce((a, b) => (b.lines.length > a.length ? b.lines : a), [] as string[]);
for (const l of logs) {
  const at = l.lines.findIndex((line, k) => line !== common[k]);
  if (at >= 0) violations.push(`${l.name} differs from the common sequence at line ${at + 1}: '${l.lines[at]}' vs '${common[at]}'`);
}
let last: [number, number] = [0, -1];
for (const [k, line] of common.entries()) {
  const [iid, pos] = line.split(' ').map(Number) as [number, number];
  if (iid < last[0] || (iid === last[0] && pos <= last[1])) violations.push(`the common sequence goes back at line ${k + 1}: ${line}`);
  last = [iid, pos];
}
const counts = new Map<string, number>();
for (const line of common) {
  const id = line.split(' ')[2] as string;
  counts.set(id, (counts.get(id) ?? 0) + 1);
}
let submitted = 0;
for (const c of clients) {
  submitted += c.nextSeq;
  for (let seq = 0; seq < c.nextSeq; seq++) if (!counts.has(`${c.id}:${seq}`)) violations.push(`value ${c.id}:${seq} was submitted but is not in the common sequence`);
}
const duplicates = [...counts.values()].filter((n) => n > 1).length;
// A run that delivered nothing or injected no fault checked nothing: that is a failure, not a pass.
const injected = Object.values(faults).reduce((x, y) => x + y, 0);
if (counts.size === 0) violations.push(`no value was delivered in ${argv.duration} s, so the run checked nothing`);
if (injected === 0) violations.push(`no fault was injected in ${argv.duration} s, so the run tested nothing; run longer`);
const sortedFailovers = [...failoverMs].sort((a, b) => a - b);
const report = {
  seed: argv.seed,
  replicas: R,
  durationSeconds: argv.duration,
  leader: argv.leader,
  faults,
  // Leader faults: ms from the fault until a value submitted after it was delivered.
  failoverMs: LEADER
    ? { count: failoverMs.length, p50: sortedFailovers[Math.floor((sortedFailovers.length - 1) / 2)] ?? null, max: sortedFailovers.at(-1) ?? null, unmeasured }
    : null,
  valuesSubmitted: submitted,
  valuesDelivered: counts.size,
  deliveredTwice: duplicates,
  logs: logs.length,
  clientLearnersBehind: learnersBehind.length,
  violations: violations.length,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
if (violations.length > 0) {
  process.stdout.write(`${violations.slice(0, 20).join('\n')}\nlogs kept in ${dir}; replay with: pnpm chaos --duration ${argv.duration} --seed ${argv.seed} --replicas ${R}${LEADER ? '' : ' --leader off'}\n`);
  process.exit(1);
}
if (argv.keep) process.stdout.write(`logs kept in ${dir}\n`);
else rmSync(dir, { recursive: true, force: true });
process.exit(0);

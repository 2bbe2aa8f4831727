#!/usr/bin/env node
/**
 * `pnpm chaos`: real replicas (LMDB, lmdb-sync yes, a state machine with checkpoints, acceptors
 * trimmed by the lowest checkpoint) on 127.0.0.1, every connection through a fault-injecting proxy,
 * two clients submitting values with unique ids and resubmitting what is not delivered in time,
 * and a nemesis drawn from the seed: SIGKILL and restart, SIGSTOP/SIGCONT, link cuts, delays,
 * resets and one-way stalls, a replica whose data directory is wiped while it is down (it rejoins
 * and catches up through a snapshot), and a replica killed in the middle of a snapshot transfer.
 * With leadership on (the default; `--leader off` runs LibPaxos3's every-replica-proposes) it also
 * kills, pauses and cuts off the leader itself, found from the leader changes each replica prints,
 * and measures each failover: the time from the fault until a value submitted after it is
 * delivered. At the end everything heals; then every replica incarnation's delivery log must be a
 * segment of one common sequence that holds every submitted value: from its start, or right after
 * the checkpoint it restored, whose state must be the common sequence's at that instance (after
 * Jepsen and etcd's robustness tests: record what was seen, inject faults, check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '@libpaxos/paxos-core';
import { encodeMessage, parseConfig, silentLogger, startLearner, type LearnerHandle } from '@libpaxos/evpaxos';
import { chaosPortBase, freeBlock } from './local-ports.js';
import { LinkProxy } from './chaos-proxy.js';
import { ChaosState, chainHash } from './chaos-state.js';
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
    describe: "replicas log at the info level (leader changes, timeouts, connections; --workload kv: JSON lines) to stderr-<replica>-<incarnation>.log in the run's folder; with --keep it stays",
  })
  .option('keep', { type: 'boolean', default: false, describe: 'keep the logs even when everything checks out' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 65_000 }), describe: 'first of the ~50 ports on 127.0.0.1 to use (--workload kv: the first 30 free ones of the 300 from it) (default: 8000–9500, from the seed and the process id)' })
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
  wipe: 0,
  'kill-in-transfer': 0,
  ...(LEADER ? { 'kill-leader': 0, 'pause-leader': 0, 'cut-leader': 0 } : {}),
};
/** The default lease (`leader-lease` is not set in the configs): leader faults outlast it. */
const LEASE_MS = 2000;
/** What replicas said on stderr about snapshots and rejoins. */
const transfers = { started: 0, resumed: 0, installed: 0, rejoined: 0 };
/** The highest trim point a replica asked the acceptors for (from their `[event] trim` lines). */
let maxTrim = 0;
/**
 * The highest instance any replica delivered, and the fences of replicas that rejoined: a replica
 * is wiped only once every fence was passed (until then the rejoined replica cannot vote below its
 * fence, and losing another one could lose the quorum there, for good: README, Checkpoints).
 */
let maxDelivered = 0;
const fences: number[] = [];
/** Bytes of padding in the chaos state's snapshot: transfers take long enough to be interrupted. */
const PAD = 4 * 1024 * 1024;
const log = (text: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}\n`);

// Ports: real replica ports, and one proxy per (source process, replica) link. The default block is
// tested first: servers that stay up can hold ports there (a port taken later still ends the run).
const portsUsed = 10 + (R + CLIENTS) * R;
const base = argv['port-base'] ?? (await freeBlock(chaosPortBase(argv.seed), portsUsed));
if (base === undefined) {
  process.stdout.write(`chaos: no block of ${portsUsed} free ports on 127.0.0.1 from 8000 to 9799; give --port-base\n`);
  process.exit(1);
}
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
    // Both page sizes the config offers: 8 KiB pages pad small records (LMDB ITS#9806, record-format.ts).
    `lmdb-page-size ${argv.seed % 2 === 1 ? '8kb' : '4kb'}`,
    // Segments of 256 instances, so that trims delete segments all through the run, kills included.
    'lmdb-segment-instances 256',
    'proposer-batch-max-values 64',
    // Digest votes for batches of about six values and more (2 KiB by default: almost never with
    // these ~40-byte values), so that the faults also hit votes without their values.
    'accepted-digests-min-value-size 256',
    // Checkpoints every 300 instances or 2 s, acceptors trimmed 20 below the lowest report: a
    // replica down for long, or wiped, is behind the trim and must fetch a snapshot.
    `checkpoint-dir ${join(dir, 'ckpt')}`,
    'checkpoint-instances 300',
    'checkpoint-interval 2s',
    'checkpoint-trim yes',
    'checkpoint-trim-hold 20',
    'snapshot-chunk-size 64kb',
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
/** The links a process dials, by source: a wiped replica's are slowed while it fetches its snapshot. */
const linksFrom: LinkProxy[][] = Array.from({ length: sources }, () => []);
/** Each proxy's link: the process that dials through it (replica or client) and the replica dialled. */
const linkOf = new Map<LinkProxy, { source: number; target: number }>();
for (let s = 0; s < sources; s++) {
  for (let t = 0; t < R; t++) {
    if (s === t) continue;
    const p = new LinkProxy(proxyPort(s, t), real[t] as number);
    proxies.push(p);
    linksFrom[s]?.push(p);
    linkOf.set(p, { source: s, target: t });
  }
}
await Promise.all(proxies.map((p) => p.start()));

interface ReplicaProc {
  child: ChildProcess | null;
  incarnation: number;
  state: 'up' | 'down' | 'paused';
  /** Its data directory was wiped and it has not said it rejoined yet. */
  rejoining: boolean;
  /** A snapshot transfer is under way (it said so on stderr, and has not installed it). */
  fetching: boolean;
  /** Its data directory is being removed (after its process exited): restarts wait for it. */
  wiped: Promise<void> | undefined;
  /** The newest checkpoint it holds (written, restored or installed, as it said on stderr). */
  checkpoint: number;
  /** Its links were slowed when its disk was wiped, until its transfer ends. */
  slowed: boolean;
  /** The newest checkpoint it held before its last wipe: until it holds one as high, its reports are unbacked. */
  mustReach: number;
  /** The leader as this incarnation last reported it (`leader <id> <version>` on its stdout). */
  sees: { id: number | undefined; version: number };
}
const replicas: ReplicaProc[] = Array.from({ length: R }, () => ({
  child: null,
  incarnation: 0,
  state: 'down' as const,
  rejoining: false,
  fetching: false,
  wiped: undefined,
  checkpoint: 0,
  mustReach: 0,
  slowed: false,
  sees: { id: undefined, version: 0 },
}));
function startReplica(i: number, rejoin = false): void {
  const r = replicas[i] as ReplicaProc;
  r.incarnation++;
  r.fetching = false;
  r.sees = { id: undefined, version: 0 };
  const args = [join(here, 'chaos-replica.js'), String(i), configPaths[i] as string, join(dir, `deliveries-${i}-${r.incarnation}.log`), '--pad', String(PAD), ...(rejoin ? ['--rejoin'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  let partial = '';
  const errLog = join(dir, `stderr-${i}-${r.incarnation}.log`);
  child.stderr?.on('data', (d: Buffer) => {
    // Only the end is shown when a replica fails; the whole of it goes to a file with --verbose.
    err = (err + d.toString()).slice(-4000);
    if (argv.verbose) appendFileSync(errLog, d);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('[event] ') && r.child === child) replicaEvent(i, l.slice(8));
  });
  child.once('exit', (code, signal) => {
    if (signal === null && code !== 0 && r.state === 'up') log(`replica ${i} exited with ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`);
  });
  r.state = 'up';
}

/** A replica's checkpoint, transfer and rejoin lines: counted, kept for the wipe rule, and a transfer that starts may be interrupted. */
function replicaEvent(i: number, line: string): void {
  const r = replicas[i] as ReplicaProc;
  const trim = /^trim (\d+)$/.exec(line);
  if (trim !== null) {
    maxTrim = Math.max(maxTrim, Number(trim[1]));
    return;
  }
  const at = /^at (\d+)$/.exec(line);
  if (at !== null) {
    maxDelivered = Math.max(maxDelivered, Number(at[1]));
    return;
  }
  // What its disk holds; not from lines a killed (or wiped) replica wrote before it died, which may
  // still be in the pipe.
  const ckpt = /^(?:Checkpoint of instance|Restored the checkpoint of instance|Installed the checkpoint of instance) (\d+)/.exec(line);
  if (ckpt !== null && r.state !== 'down') r.checkpoint = Math.max(r.checkpoint, Number(ckpt[1]));
  if (/^Checkpoint of instance/.test(line)) return;
  if (/rejoined:/.test(line)) {
    const fence = /up to (\d+)/.exec(line);
    if (fence !== null) fences.push(Number(fence[1]));
    r.rejoining = false;
    transfers.rejoined++;
    log(`replica ${i}: ${line}`);
  } else if (/fetching the checkpoint|Resuming the transfer/.test(line)) {
    if (/Resuming/.test(line)) transfers.resumed++;
    else transfers.started++;
    r.fetching = true;
    log(`replica ${i}: ${line}`);
    // The nemesis kills a replica in the middle of its transfer, now and then (one that just lost
    // its disk always, the first time): the next incarnation must resume it and rejoin.
    if (submitting && (faults['kill-in-transfer'] === 0 || rng.chance(1, 3)) && replicas.filter((x) => x !== r && (x.state !== 'up' || x.rejoining)).length + isolated.size < maxDown) {
      const child = r.child;
      later(faults['kill-in-transfer'] === 0 ? 15 : rng.between(30, 200), () => {
        if (r.child !== child || !r.fetching || r.state !== 'up') return;
        r.state = 'down';
        child?.kill('SIGKILL');
        faults['kill-in-transfer'] = (faults['kill-in-transfer'] ?? 0) + 1;
        log(`replica ${i} killed in the middle of a snapshot transfer`);
        later(rng.between(300, 1500), () => startReplica(i));
      });
    }
  } else if (/Installed the checkpoint/.test(line)) {
    transfers.installed++;
    r.fetching = false;
    r.slowed = false;
    for (const p of linksFrom[i] ?? []) p.setDelay(0);
    log(`replica ${i}: ${line}`);
  } else if (/Caught up from the log|no peer has a checkpoint/.test(line)) {
    // The transfer ended without an install (as chaos-kv reads it from the JSON log): not
    // fetching any more, or a later kill would count as one in the middle of a transfer and no
    // kill or pause would be drawn until a restart; and its links are no longer slowed.
    r.fetching = false;
    if (r.slowed) for (const p of linksFrom[i] ?? []) p.setDelay(0);
    r.slowed = false;
    log(`replica ${i}: ${line}`);
  }
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
  // The client's learner keeps the chaos state too: if it falls behind the acceptors' trim it
  // installs a replica's checkpoint, whose ids tell it which of its values were delivered meanwhile.
  const state = new ChaosState(0, (_iid, st) => {
    for (const id of st.ids) {
      const [client, seq] = id.split(':').map(Number) as [number, number];
      if (client !== c.id || !c.pending.has(seq)) continue;
      c.delivered.set(id, (c.delivered.get(id) ?? 0) + 1);
      c.pending.delete(seq);
    }
  });
  c.learner = await startLearner({
    config,
    log: silentLogger,
    stateMachine: state,
    checkpointDir: join(dir, `client-${c.id}-ckpt`),
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
let lastWipeAt = 0;

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
  // The leader goes away: the others must still be a majority (a rejoining replica does not vote
  // yet). Not while a replica rejoins or fetches a snapshot either: that one may be killed in its
  // transfer, and the two faults together could take the quorum away.
  if (replicas.filter((r) => r.state !== 'up' || r.rejoining).length + isolated.size >= maxDown || replicas.some((r) => r.rejoining || r.fetching)) return false;
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
  // The first wipe comes a quarter into the run (or once the log was first trimmed, if later), so
  // every run sees one and the wiped replica must catch up through a snapshot.
  const wipeDue = faults.wipe === 0 && maxTrim > 0 && Date.now() - started >= (argv.duration * 1000) / 4;
  // Likewise the first leader fault an eighth into the run, unless one came already: after the
  // wipe, leader faults wait while the wiped replica rejoins and fetches its snapshot, which can
  // last until leader faults stop (a lease and 8 s before the end), so a run whose random picks
  // held none back then (seed 7 since the transfers' timing changed) had none at all.
  const leaderFaults = (faults['kill-leader'] ?? 0) + (faults['pause-leader'] ?? 0) + (faults['cut-leader'] ?? 0);
  const leaderDue = LEADER && !wipeDue && leaderFaults === 0 && Date.now() - started >= (argv.duration * 1000) / 8;
  const kinds = ['kill', 'pause', 'cut', 'delay', 'reset', 'one-way', 'wipe', ...(LEADER ? (['kill-leader', 'pause-leader', 'cut-leader'] as const) : [])] as const;
  const kind = wipeDue ? 'wipe' : leaderDue ? rng.pick(['kill-leader', 'pause-leader', 'cut-leader'] as const) : rng.pick(kinds);
  // A replica rejoining after losing its data directory does not vote yet: it counts as down, as
  // does a leader cut off from everyone.
  const unavailable = replicas.filter((r) => r.state !== 'up' || r.rejoining).length + isolated.size;
  if (kind === 'kill-leader' || kind === 'pause-leader' || kind === 'cut-leader') {
    leaderFault(kind);
  } else if (
    kind === 'wipe' &&
    maxTrim > 0 &&
    unavailable < maxDown &&
    // A replica that lost its data directory cannot vote below its fence until the cluster passes
    // it: one wipe at a time, well apart (losing a second one meanwhile could lose a quorum).
    !replicas.some((r) => r.rejoining) &&
    fences.every((f) => f < maxDelivered) &&
    // One lost disk at a time (README, "Checkpoints and trimming"): the trim waits for two
    // replicas' reports, which covers one wiped replica until it holds a checkpoint as high again.
    replicas.every((r) => r.checkpoint >= r.mustReach) &&
    Date.now() - lastWipeAt > 8000
  ) {
    const i = rng.pick(replicas.map((_, k) => k).filter((k) => replicas[k]?.state === 'up'));
    const r = replicas[i] as ReplicaProc;
    r.state = 'down';
    r.rejoining = true;
    r.mustReach = r.checkpoint;
    r.checkpoint = 0;
    r.child?.kill('SIGKILL');
    lastWipeAt = Date.now();
    // Its links are slow until it installed a snapshot, so that its transfer lasts long enough to
    // be interrupted (a new disk on a busy network).
    for (const p of linksFrom[i] ?? []) p.setDelay(25);
    r.slowed = true;
    const child = r.child;
    // Once it is gone: its whole data directory (acceptor storage and checkpoints). It restarts
    // with --rejoin (or at the heal, which waits for the wipe first).
    r.wiped = new Promise<void>((resolve) => {
      const wipe = () => {
        rmSync(join(dir, `acceptor_${i}`), { recursive: true, force: true });
        rmSync(join(dir, `ckpt_${i}`), { recursive: true, force: true });
        log(`replica ${i}'s data directory wiped; it restarts with --rejoin`);
        r.wiped = undefined;
        resolve();
        if (submitting) later(rng.between(1000, 3000), () => startReplica(i, true));
      };
      if (child === null || child.exitCode !== null || child.signalCode !== null) wipe();
      else child.once('exit', wipe);
    });
    faults.wipe = (faults.wipe ?? 0) + 1;
  } else if ((kind === 'kill' || kind === 'pause') && unavailable < maxDown && !replicas.some((r) => r.rejoining || r.fetching)) {
    // (Not while a replica rejoins or fetches a snapshot: that one may be killed in its transfer.)
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
  } else if (kind !== 'kill' && kind !== 'pause' && kind !== 'wipe') {
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
await Promise.all(replicas.map((r) => r.wiped));
replicas.forEach((r, i) => {
  if (r.state === 'paused') r.child?.kill('SIGCONT');
  // A replica wiped and not yet rejoined restarts with --rejoin, whenever that comes.
  if (r.state === 'down') startReplica(i, r.rejoining);
  r.state = 'up';
});
log('healed; waiting until every replica has delivered every submitted value');
const violations: string[] = [];
/**
 * An incarnation's log: the checkpoint it restored first, if any (`restored <iid> <count> <hash>`),
 * then its deliveries `<iid> <position> <id>`, in order. A later restore in the same incarnation (it
 * fell behind the trim and installed a peer's checkpoint) starts a new segment.
 */
interface Segment {
  readonly name: string;
  readonly restored?: { readonly iid: number; readonly count: number; readonly hash: number };
  readonly lines: { readonly iid: number; readonly pos: number; readonly id: string }[];
}
const readSegments = (f: string): Segment[] => {
  const text = existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '';
  const segments: Segment[] = [{ name: f, lines: [] }];
  for (const l of text.split('\n')) {
    if (l === '') continue;
    const parts = l.split(' ');
    if (parts[0] === 'restored') {
      segments.push({ name: `${f} (from the checkpoint of instance ${parts[1]})`, restored: { iid: Number(parts[1]), count: Number(parts[2]), hash: Number(parts[3]) }, lines: [] });
    } else {
      (segments[segments.length - 1] as Segment).lines.push({ iid: Number(parts[0]), pos: Number(parts[1]), id: parts[2] as string });
    }
  }
  return segments.filter((s) => s.restored !== undefined || s.lines.length > 0);
};
const latest = (i: number) => `deliveries-${i}-${replicas[i]?.incarnation}.log`;
/**
 * The value ids each replica's current incarnation delivered or restored, read incrementally: a
 * replica restarted without a checkpoint re-learns the whole history, and re-reading a long log
 * every poll would take the CPU it needs to do so.
 */
const seen = replicas.map(() => ({ name: '', offset: 0, partial: '', ids: new Set<string>(), restoredIds: undefined as Set<string> | undefined }));
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
      for (const l of lines) {
        if (l === '') continue;
        const parts = l.split(' ');
        // A restored checkpoint holds everything up to its instance: the common sequence's prefix.
        if (parts[0] === 'restored') s.ids = new Set([...s.ids, ...prefixIds(Number(parts[1]))]);
        else s.ids.add(parts[2] as string);
      }
    }
  } finally {
    closeSync(fd);
  }
  return s.ids;
};
/** The ids delivered up to instance `iid`, by any log that got there (for the restored prefix above). */
const prefixIds = (iid: number): string[] => {
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.startsWith('deliveries-'))) for (const seg of readSegments(f)) for (const l of seg.lines) if (l.iid <= iid) out.push(l.id);
  return out;
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
// The clients' own learners (they decide what to resubmit) must catch up too: from the log, or
// from a replica's checkpoint when they fell behind the trim.
const behind = () => clients.filter((c) => c.pending.size > 0);
for (const deadline = Date.now() + 30_000; behind().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 500));
const learnersBehind = behind().map((c) => `client ${c.id} (${c.pending.size} values unseen)`);
if (learnersBehind.length > 0) violations.push(`client learners did not catch up 30 s after the replicas did: ${learnersBehind.join(', ')}`);
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

// The common sequence: every (instance, position) any incarnation delivered, with one id each.
const segments = readdirSync(dir)
  .filter((f) => f.startsWith('deliveries-'))
  .flatMap((f) => readSegments(f));
const at = new Map<string, string>();
for (const seg of segments) {
  for (const l of seg.lines) {
    const key = `${l.iid} ${l.pos}`;
    const other = at.get(key);
    if (other === undefined) at.set(key, l.id);
    else if (other !== l.id) violations.push(`${seg.name} delivered ${l.id} at instance ${l.iid} position ${l.pos}, another log ${other}`);
  }
}
const common = [...at.entries()]
  .map(([key, id]) => {
    const [iid, pos] = key.split(' ').map(Number) as [number, number];
    return { iid, pos, id };
  })
  .sort((a, b) => a.iid - b.iid || a.pos - b.pos);
const index = new Map(common.map((e, k) => [`${e.iid} ${e.pos}`, k]));
// The state after each entry of the common sequence (count, hash), to check restored checkpoints.
const hashes: number[] = [];
let h = new ChaosState(0).hash;
for (const e of common) hashes.push((h = chainHash(h, e.id)));
/** Entries of the common sequence at or below instance `iid`. */
const upTo = (iid: number): number => {
  let lo = 0;
  let hi = common.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((common[mid] as { iid: number }).iid <= iid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};
let restoredChecked = 0;
for (const seg of segments) {
  // A segment starts at the beginning of the common sequence, or right after the checkpoint it
  // restored, and follows it without a gap, each value once.
  let k = 0;
  if (seg.restored !== undefined) {
    k = upTo(seg.restored.iid);
    const count = k;
    const hash = k === 0 ? new ChaosState(0).hash : (hashes[k - 1] as number);
    restoredChecked++;
    if (seg.restored.count !== count || seg.restored.hash !== hash) {
      violations.push(`${seg.name}: the restored state (${seg.restored.count} values, hash ${seg.restored.hash}) is not the common sequence's through instance ${seg.restored.iid} (${count} values, hash ${hash})`);
    }
  }
  for (const [n, l] of seg.lines.entries()) {
    const want = common[k + n];
    if (want === undefined || want.iid !== l.iid || want.pos !== l.pos) {
      violations.push(`${seg.name} line ${n + 1} (instance ${l.iid} position ${l.pos}) does not follow the common sequence (expected ${want === undefined ? 'its end' : `instance ${want.iid} position ${want.pos}`})`);
      break;
    }
  }
}
void index;
const counts = new Map<string, number>();
for (const e of common) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
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
const logs = segments;
const sortedFailovers = [...failoverMs].sort((a, b) => a - b);
const report = {
  seed: argv.seed,
  replicas: R,
  durationSeconds: argv.duration,
  leader: argv.leader,
  faults,
  snapshotTransfers: transfers,
  restoredStatesChecked: restoredChecked,
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

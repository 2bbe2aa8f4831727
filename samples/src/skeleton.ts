#!/usr/bin/env node
/**
 * The ceiling of LibPaxos3's benchmark pattern in Node (`pnpm bench:skeleton`, issue 10): the
 * processes, connections, messages, sizes and fan-out of a replica-mode run — a client at replica
 * 0, three replicas that each dial the others, every acceptor broadcasting each accepted value to
 * every connection — with no Paxos at all. Each process only decodes, forwards and counts:
 *
 *   client --client_value--> replica 0 --prepare(iid + window), accept(iid)--> 3 acceptors
 *   acceptor --promise--> proposer;  acceptor --accepted--> every replica and the client's learner
 *   learners count 2 of 3 accepted per instance; the client then sends its next value.
 *   (The client's connection to replica 0 only submits: its hello says so, and no accepted goes
 *   there, as in evpaxos.)
 *
 * The same codec and the same one-write-per-peer-per-turn batching as evpaxos, a replica's own
 * acceptor reached in memory as evpaxos does. What our replicas spend beyond this is the cost of
 * Paxos (state, ballots, votes, the pump) and nothing else. Prints what `client --json` prints.
 *
 *   skeleton replica <id> <port0> <port1> <port2> [--batch]
 *   skeleton client <port0> <port1> <port2> -o N -v N --warmup S --duration S [--batch]
 *
 * With --batch (given to the proposing process and the client alike), the pattern of our batching
 * (`proposer-batch-max-values`): client values wait at the proposer and go out as one instance
 * whose value is a batch (paxos-core's layout) at the end of a turn, or when an instance reaches
 * its quorum, while fewer than two instances await theirs (our proposer's default with
 * batching, which makes batches grow with load); the client unpacks them. No cap on a batch's
 * size.
 *
 * Split mode's pattern as well (`pnpm bench` runs the skeleton of each row's mode): three
 * acceptors and a proposer, the client at the proposer and its learner at the acceptors.
 *
 *   skeleton acceptor <id> <port>
 *   skeleton proposer <port> <acceptor port0> <port1> <port2> [--batch]
 *   skeleton client <proposer port> <acceptor port0> <port1> <port2> -o N -v N … --split [--batch]
 */
import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { type Message, decodeBatch, encodeBatch } from '@libpaxos/paxos-core';
import { FrameDecoder, SUBMIT_ONLY_HELLO, encodeMessage, plainTransport } from '@libpaxos/evpaxos';
import { LatencyHistogram } from './histogram.js';
import { PayloadMaker, isPayloadOf, nowUs, payloadSentUs } from './payload.js';
import { tuneGc } from './cli.js';

// The same V8 heap growth as the samples it is the ceiling of.
tuneGc('skeleton');

const HOST = '127.0.0.1';
const QUORUM = 2;
/** Acceptors: every instance gets this many votes, after which its count is dropped. */
const ACCEPTORS = 3;
/** Instances awaiting their quorum at most, with --batch (our proposer's `maxAccepting` with batching). */
const MAX_ACCEPTING = 2;
/** How far ahead phase 1 runs in a replica (LibPaxos3's pre-execution window). */
const WINDOW = 128;

/** One connection: bytes queued in a turn leave in one write, as in evpaxos's Network. */
class Peer {
  private chunks: Uint8Array[] = [];
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);

  constructor(
    readonly socket: Socket,
    private readonly dirty: Set<Peer>,
    private readonly onMessage: (peer: Peer, msg: Message) => void,
    dialled = false,
  ) {
    socket.setNoDelay(true);
    // A dialled socket reads into the shared buffer instead (see `dial`), as evpaxos's do.
    if (!dialled) socket.on('data', (chunk: Buffer) => this.receive(chunk, false));
    socket.on('error', () => undefined);
  }

  /** The peer only submits values (its hello said so, as our client's does): broadcasts skip it. */
  submitOnly = false;

  receive(chunk: Uint8Array, transient: boolean): void {
    // Apart from LibPaxos3's messages, the skeleton's peers send one frame: the client's hello on
    // its connection to the proposer, which only submits (SUBMIT_ONLY_FEATURE).
    for (const msg of this.decoder.push(chunk, transient)) {
      if (msg.type === 'extension') this.submitOnly = true;
      else this.onMessage(this, msg);
    }
  }

  write(bytes: Uint8Array): void {
    if (this.chunks.length === 0) this.dirty.add(this);
    this.chunks.push(bytes);
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    this.socket.write(this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : Buffer.concat(this.chunks));
    this.chunks = [];
  }
}

/** Peers with bytes queued, written at the end of the turn (after `beforeFlush`, if given). */
function flusher(beforeFlush?: () => void): { dirty: Set<Peer>; soon: () => void } {
  const dirty = new Set<Peer>();
  let scheduled = false;
  const flush = () => {
    // What beforeFlush queues leaves in this flush: no second one is scheduled for it.
    beforeFlush?.();
    scheduled = false;
    for (const p of dirty) p.flush();
    dirty.clear();
  };
  return {
    dirty,
    soon: () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(flush);
    },
  };
}

/** Listens on 127.0.0.1:`port`; a port it cannot have ends the process with a sentence (the bench then retries on others). */
function listen(server: Server, port: number): void {
  server.once('error', (e: NodeJS.ErrnoException) => {
    process.stderr.write(`skeleton: cannot listen on ${HOST}:${port} (${e.code ?? e.message}${e.code === 'EADDRINUSE' ? ': another process is using that port' : ''})\n`);
    process.exit(1);
  });
  // On stderr, which the bench keeps the end of: a test waits for it before starting a client.
  server.listen(port, HOST, () => process.stderr.write(`skeleton: listening on ${HOST}:${port}\n`));
}

/**
 * A proposer's side without Paxos: client values become instances, and accepted votes are counted
 * to a quorum. Without --batch each value is an instance at once. With it, our proposer's batching:
 * values wait here, and go out as one instance at the end of a turn or when an instance reaches its
 * quorum, while fewer than MAX_ACCEPTING instances await theirs.
 */
class Proposals {
  private pending: Uint8Array[] = [];
  private readonly open = new Set<number>();
  /** Votes per instance until every acceptor's is in. */
  private readonly counts = new Map<number, number>();

  /**
   * `propose` sends a value as a new instance and returns its id; `soon` asks for the end of the
   * turn (when `release` runs).
   */
  constructor(
    private readonly batch: boolean,
    private readonly propose: (value: Uint8Array) => number,
    private readonly soon: () => void,
  ) {}

  /** A client value: a view into its read's own bytes (an accepted socket) or a copy the decoder made; nothing rewrites either. */
  submit(value: Uint8Array): void {
    if (!this.batch) {
      this.propose(value);
      return;
    }
    this.pending.push(value);
    this.soon();
  }

  /** At the end of a turn (and after a quorum): what waits goes out, if an instance may open. */
  release(): void {
    if (this.pending.length === 0 || this.open.size >= MAX_ACCEPTING) return;
    const value = encodeBatch(this.pending);
    this.pending = [];
    this.open.add(this.propose(value));
  }

  /** An acceptor's accepted for instance `iid` (each acceptor's once). */
  vote(iid: number): void {
    const n = (this.counts.get(iid) ?? 0) + 1;
    if (n === QUORUM && this.open.delete(iid)) this.release();
    if (n >= ACCEPTORS) this.counts.delete(iid);
    else this.counts.set(iid, n);
  }
}

/** Dials as evpaxos does: its plain transport, whose sockets read into one reused buffer. */
const transport = plainTransport('skeleton');

/** A peer on a connection this process dials. */
async function dial(port: number, dirty: Set<Peer>, onMessage: (peer: Peer, msg: Message) => void): Promise<Peer> {
  let peer: Peer | undefined;
  // No read runs before the connection's promise settles and the peer is made below.
  const socket = await connect(port, (chunk) => {
    if (peer === undefined) throw new Error(`skeleton: bytes from port ${port} before its peer was set up`);
    peer.receive(chunk, true);
  });
  peer = new Peer(socket, dirty, onMessage, true);
  return peer;
}

function connect(port: number, onRead: (chunk: Uint8Array) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (left: number) => {
      const s = transport.connect({ host: HOST, port, where: 'skeleton', name: `port ${port}` }, `port ${port}`, onRead);
      s.once('connect', () => resolve(s));
      s.once('error', (e) => {
        s.destroy();
        if (left <= 0) reject(e);
        else setTimeout(() => attempt(left - 1), 50);
      });
    };
    attempt(100);
  });
}

async function replica(id: number, ports: number[], batch: boolean): Promise<void> {
  const { dirty, soon } = flusher(() => proposals.release());
  const proposals = new Proposals(batch, propose, soon);
  const incoming = new Set<Peer>();
  const acceptors: (Peer | undefined)[] = [];
  let nextIid = 0;
  const ballot = 10 + id;

  const toAcceptors = (msg: Message) => {
    const bytes = encodeMessage(msg);
    for (const a of acceptors) a?.write(bytes);
    self(msg, undefined);
    soon();
  };
  /** This replica's own acceptor and learner, in memory. */
  const self = (msg: Message, from: Peer | undefined) => handle(from, msg, true);

  function handle(from: Peer | undefined, msg: Message, local: boolean): void {
    switch (msg.type) {
      case 'client_value':
        proposals.submit(msg.value);
        return;
      case 'prepare': {
        const promise: Message = { type: 'promise', aid: id, iid: msg.iid, ballot: msg.ballot, valueBallot: 0, value: new Uint8Array(0) };
        if (local) return; // the proposer counts its own promise without a message
        from?.write(encodeMessage(promise));
        soon();
        return;
      }
      case 'accept': {
        const accepted: Message = { type: 'accepted', aid: id, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.ballot, value: msg.value };
        const bytes = encodeMessage(accepted);
        for (const p of incoming) if (!p.submitOnly) p.write(bytes);
        proposals.vote(msg.iid);
        soon();
        return;
      }
      case 'accepted':
        proposals.vote(msg.iid);
        return;
      default:
        return;
    }
  }

  function propose(value: Uint8Array): number {
    const iid = ++nextIid;
    toAcceptors({ type: 'prepare', iid: iid + WINDOW, ballot });
    toAcceptors({ type: 'accept', iid, ballot, value });
    return iid;
  }

  listen(
    createServer((socket) => {
      const peer = new Peer(socket, dirty, (p, msg) => handle(p, msg, false));
      incoming.add(peer);
      socket.on('close', () => incoming.delete(peer));
    }),
    ports[id] as number,
  );
  for (const [k, port] of ports.entries()) {
    if (k === id) {
      acceptors.push(undefined);
      continue;
    }
    acceptors.push(await dial(port, dirty, (p, msg) => handle(p, msg, false)));
  }
}

/** A split-mode acceptor: promises and broadcasts, nothing else. */
function acceptor(id: number, port: number): void {
  const { dirty, soon } = flusher();
  const incoming = new Set<Peer>();
  const handle = (from: Peer, msg: Message) => {
    if (msg.type === 'prepare') {
      from.write(encodeMessage({ type: 'promise', aid: id, iid: msg.iid, ballot: msg.ballot, valueBallot: 0, value: new Uint8Array(0) }));
    } else if (msg.type === 'accept') {
      const bytes = encodeMessage({ type: 'accepted', aid: id, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.ballot, value: msg.value });
      for (const p of incoming) if (!p.submitOnly) p.write(bytes);
    }
    soon();
  };
  listen(
    createServer((socket) => {
      const peer = new Peer(socket, dirty, handle);
      incoming.add(peer);
      socket.on('close', () => incoming.delete(peer));
    }),
    port,
  );
}

/** A split-mode proposer: a client value becomes a prepare ahead and an accept; it counts what it hears. */
async function proposer(port: number, acceptorPorts: number[], batch: boolean): Promise<void> {
  const { dirty, soon } = flusher(() => proposals.release());
  const proposals = new Proposals(batch, propose, soon);
  const acceptors: Peer[] = [];
  let nextIid = 0;
  const onAcceptor = (_p: Peer, msg: Message) => {
    if (msg.type === 'accepted') proposals.vote(msg.iid);
  };
  function propose(value: Uint8Array): number {
    const iid = ++nextIid;
    const prepare = encodeMessage({ type: 'prepare', iid: iid + WINDOW, ballot: 10 });
    const accept = encodeMessage({ type: 'accept', iid, ballot: 10, value });
    for (const a of acceptors) {
      a.write(prepare);
      a.write(accept);
    }
    soon();
    return iid;
  }
  listen(
    createServer((socket) => {
      new Peer(socket, dirty, (_p, msg) => {
        if (msg.type === 'client_value') proposals.submit(msg.value);
      });
    }),
    port,
  );
  for (const p of acceptorPorts) acceptors.push(await dial(p, dirty, onAcceptor));
}

async function client(ports: number[], outstanding: number, size: number, warmup: number, duration: number, batch: boolean): Promise<void> {
  const { dirty, soon } = flusher();
  const id = randomInt(2 ** 31);
  const counts = new Map<number, number>();
  const histogram = new LatencyHistogram();
  let second = { values: 0, bytes: 0, sum: 0, min: 0, max: 0 };
  let measured = 0;
  /** Instances that delivered values measured: with --batch, fewer than the values. */
  let instances = 0;
  const startedUs = nowUs() + warmup * 1e6;
  // Replica mode: the proposer is replica 0, and the learner dials all three; split mode: the
  // first port is the proposer's, the learner dials the other three (the acceptors).
  const split = ports.length === 4;
  const proposerPeer = await dial(ports[0] as number, dirty, () => undefined);
  // As our client: this connection only submits, and says so first.
  proposerPeer.write(SUBMIT_ONLY_HELLO);
  // The payloads our client makes, made the same way.
  const payloads = new PayloadMaker(id, size);
  const submit = () => {
    proposerPeer.write(encodeMessage({ type: 'client_value', value: payloads.next() }));
    soon();
  };
  const onAccepted = (_p: Peer, msg: Message) => {
    if (msg.type !== 'accepted') return;
    const n = (counts.get(msg.iid) ?? 0) + 1;
    if (n < QUORUM) {
      counts.set(msg.iid, n);
      return;
    }
    if (n > QUORUM) return;
    counts.set(msg.iid, n);
    if (counts.size > 4096) for (const k of counts.keys()) if (k < msg.iid - 2048) counts.delete(k);
    const before = measured;
    if (!batch) delivered(msg.value);
    else for (const v of decodeBatch(msg.value) ?? []) delivered(v);
    if (measured > before) instances++;
  };
  const delivered = (value: Uint8Array) => {
    if (!isPayloadOf(value, id)) return;
    const latency = Math.max(0, nowUs() - payloadSentUs(value));
    second.values++;
    second.bytes += value.length;
    second.sum += latency;
    if (second.min === 0 || latency < second.min) second.min = latency;
    if (latency > second.max) second.max = latency;
    if (nowUs() >= startedUs) {
      measured++;
      histogram.record(latency);
    }
    submit();
  };
  for (const port of split ? ports.slice(1) : ports) await dial(port, dirty, onAccepted);
  for (let i = 0; i < outstanding; i++) submit();
  const ticker = setInterval(() => {
    const s = second;
    second = { values: 0, bytes: 0, sum: 0, min: 0, max: 0 };
    const latencyUs = { min: s.min, max: s.max, avg: s.values > 0 ? Math.floor(s.sum / s.values) : 0 };
    process.stdout.write(`${JSON.stringify({ type: 'second', values: s.values, mbps: Number(((s.bytes * 8) / 2 ** 20).toFixed(2)), latencyUs })}\n`);
  }, 1000);
  setTimeout(() => {
    clearInterval(ticker);
    const secs = Math.max(0.001, (nowUs() - startedUs) / 1e6);
    const summary = {
      type: 'summary',
      values: measured,
      seconds: Number(secs.toFixed(2)),
      valuesPerSec: Math.round(measured / secs),
      instances,
      latencyUs: { p50: histogram.percentile(50), p99: histogram.percentile(99), max: histogram.max },
      outstanding,
      valueSize: size,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exit(measured > 0 ? 0 : 1);
  }, duration * 1000);
}

const [role, ...rest] = process.argv.slice(2);
// Exit on a signal through process.exit, so that --cpu-prof can write its profile.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
const flag = (name: string, fallback: number) => {
  const at = rest.indexOf(name);
  const v = at < 0 ? undefined : Number(rest[at + 1]);
  return v === undefined || !Number.isFinite(v) ? fallback : v;
};
if (role === 'replica') {
  const [id, ...ports] = rest.slice(0, 4).map(Number);
  await replica(id as number, ports, rest.includes('--batch'));
} else if (role === 'acceptor') {
  acceptor(Number(rest[0]), Number(rest[1]));
} else if (role === 'proposer') {
  await proposer(Number(rest[0]), rest.slice(1, 4).map(Number), rest.includes('--batch'));
} else if (role === 'client') {
  const ports = rest.slice(0, rest.includes('--split') ? 4 : 3).map(Number);
  await client(ports, flag('-o', 1), flag('-v', 64), flag('--warmup', 2), flag('--duration', 12), rest.includes('--batch'));
} else {
  process.stderr.write(
    'usage: skeleton replica <id> <port0> <port1> <port2> [--batch] | acceptor <id> <port> | proposer <port> <a0> <a1> <a2> [--batch] | client <ports…> [--split] [--batch] -o N -v N --warmup S --duration S\n',
  );
  process.exit(2);
}

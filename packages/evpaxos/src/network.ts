import type { Server, Socket } from 'node:net';
import {
  ACCEPTED_DIGESTS_FEATURE,
  MESSAGE_CODE,
  assertNever,
  digestOf,
  type AcceptMsg,
  type AcceptedMsg,
  type ClientValueMsg,
  type Message,
  type PeerId,
} from '@libpaxos/paxos-core';
import { FrameDecoder, WireError, copyKept, copyShortLived, encodeMessage, type Frame } from './codec.js';
import { DIGEST_MIN_VALUE_BYTES, formatAddress, type Address } from './config.js';
import { ExtensionError, SUBMIT_ONLY_FEATURE, decodeExtension, encodeExtension, type ExtensionMessage, type ExtensionType, type HelloMsg } from './extensions.js';
import { limitRepeats, type Logger, type RateLimitedLogger } from './log.js';
import { ANY_MESSAGE, allowedExtensions, allowedMessages } from './tls.js';
import { dialProblem, plainTransport, type Refusal, type Transport } from './transport.js';

export interface NetworkOptions {
  /** Address to listen on, if this process accepts connections. */
  readonly listen?: Address;
  /** Acceptors to dial, in config order: the connection to acceptors[k] has PeerId k. */
  readonly dial?: readonly Address[];
  readonly nodelay: boolean;
  readonly maxValueSize: number;
  /** A peer that lets more than this many bytes queue up is disconnected (B13). */
  readonly maxQueuedBytes: number;
  /**
   * Redial delays for a dialled connection that failed or was lost: `firstMs`, doubling up to
   * `maxMs`, and back to `firstMs` after a connection succeeds. Default 50 ms to 2 s (LibPaxos3
   * redials every 2 s, so processes started together found each other up to 2 s late).
   */
  readonly redial?: { readonly firstMs: number; readonly maxMs: number };
  /** Repeated lines (failed redials, hostile peers) are summarised (see `RateLimitedLogger`). */
  readonly log: Logger;
  /** Plain TCP (default, LibPaxos3's) or mutual TLS; see `transport.ts`. */
  readonly transport?: Transport;
  /** A message from a peer; `from` is the connection's PeerId. */
  readonly onMessage: (from: PeerId, msg: Message) => void;
  /**
   * In a replica: the index in `dial` of this process's own acceptor. It is not dialled; messages
   * between the process and its own acceptor are handed over in memory when the others are
   * written, as if they had come over a connection (see `Network.flush`).
   */
  readonly self?: number;
  /**
   * Split mode with leadership on: proposers to forward client values to (`toProposer`), dialled
   * on first use, like a client dials its proposer. In a replica cluster proposer k is replica k,
   * reached over the connection dialled to it.
   */
  readonly proposers?: readonly Address[];
  /**
   * This process's `hello` (extensions.ts), sent first on every connection it dials and in answer
   * to a peer's hello. Without it, this process speaks LibPaxos3's nine messages only.
   */
  readonly hello?: HelloMsg;
  /**
   * `accepted-digests yes`: this process's acceptor sends its broadcast accepted messages as
   * digests (paxos-core's accepted-digest.ts) to the peers whose hello offers 'accepted-digests'
   * (replicas that hold the values of the accepts their acceptors receive). Everyone else — C
   * LibPaxos3 peers, clients, learners, proposers, a peer whose hello has not arrived — gets
   * LibPaxos3's accepted byte for byte, and repeat answers (`toPeer`) always carry the value.
   */
  readonly acceptedDigests?: boolean;
  /** Values smaller than this go whole even then (`accepted-digests-min-value-size`; default DIGEST_MIN_VALUE_BYTES). */
  readonly acceptedDigestsMinValueSize?: number;
  /** An extension message (other than hello) from a libpaxos-ts peer; `from` is the connection's PeerId. */
  readonly onExtension?: (from: PeerId, msg: ExtensionMessage) => void;
  /**
   * The connection dialled to acceptor `peer` came up (first or again), after what was queued for
   * it went out: a learner asks it for what it broadcast meanwhile, a proposer sends it again what
   * it may have lost (paxos-core's `acceptor-connected`).
   */
  readonly onAcceptorConnected?: (peer: PeerId) => void;
}

/** PeerIds of connections dialled to proposers: clear of acceptor ids and of incoming ones. */
const PROPOSER_PEER_BASE = 500;

/** Message types that name an acceptor: believed only from the connection dialled to it. */
const FROM_ACCEPTOR = new Set<Message['type']>(['promise', 'accepted', 'preempted', 'acceptor_state']);

/** Incoming connections get PeerIds from here up, so they never collide with acceptor indexes. */
const FIRST_INCOMING_ID = 1000;
/** The PeerId under which a replica's own acceptor hears the replica's proposer and learner. */
export const SELF_PEER = FIRST_INCOMING_ID - 1;

/** Redial delays: first, doubling, capped; back to the first after a success. */
export class Backoff {
  private delay: number;

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
  ) {
    this.delay = firstMs;
  }

  /** The delay before the next attempt; each call doubles the one after, up to the cap. */
  next(): number {
    const d = this.delay;
    this.delay = Math.min(this.maxMs, this.delay * 2);
    return d;
  }

  reset(): void {
    this.delay = this.firstMs;
  }
}

/** What an emptied queue slot holds (see `Connection.chunks`). */
const EMPTY_CHUNK = new Uint8Array(0);

/**
 * A peer that is down when this process starts, or that was lost, is reported only once it has
 * stayed unreachable this long: processes started together find each other within it, and a
 * healthy start-up should not print connection errors.
 */
const REPORT_AFTER_MS = 1000;

/** A replica's hello makes this process dial it early (`Network.redialNow`) at most this often. */
const HELLO_REDIAL_MIN_MS = 50;

/** What a failed connection's error code means, for the log line. */
const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens at that address',
  ECONNRESET: 'connection reset by the peer',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'broken pipe',
};

function cause(e: NodeJS.ErrnoException): string {
  return e.code !== undefined ? `${CAUSES[e.code] ?? e.message} (${e.code})` : e.message;
}

/** Bytes to and from one peer (a dialled process, or every incoming peer of one name), for metrics. */
export interface Traffic {
  received: number;
  sent: number;
}

/** What the network counted so far, for metrics (read on scrape; counting is plain additions). */
export interface NetworkStats {
  /** Bytes by peer: dialled peers by their config name, incoming ones by their TLS name or `incoming`. */
  readonly traffic: ReadonlyMap<string, Traffic>;
  /** Messages received and sent, by LibPaxos3 type code (MESSAGE_CODE). */
  readonly received: readonly number[];
  readonly sent: readonly number[];
  /** Incoming connections refused, by reason (`certificate`, `identity`, `handshake`, `bad-bytes`, `not-reading`). */
  readonly refused: ReadonlyMap<string, number>;
  /** Messages naming an acceptor that came on another connection (dropped). */
  readonly impostors: number;
  /** Messages of a type the peer's role does not send (TLS; dropped), extension messages included. */
  readonly forbidden: number;
  /** Our extension messages (hello, snapshot transfer, rejoin) received and sent, by type. */
  readonly extensionsReceived: ReadonlyMap<ExtensionType, number>;
  readonly extensionsSent: ReadonlyMap<ExtensionType, number>;
}

class Connection {
  readonly decoder: FrameDecoder;
  /** This peer's counters (shared by every incoming connection of one name). */
  traffic: Traffic;
  /** Incoming connections: the message types this peer may send (a bit per MESSAGE_CODE; see `allowedMessages`). */
  allowed = ANY_MESSAGE;
  /** Incoming connections with TLS: the extension messages this peer may send (see `allowedExtensions`); undefined: any. */
  allowedExtensions: ReadonlySet<ExtensionType> | undefined;
  /**
   * What `write` queued since the last flush: the first `count` entries (the rest are emptied
   * slots). The array is kept from flush to flush: a new one per flush was a few hundred bytes of
   * garbage for every value at small values (assigning `length = 0` frees its storage too).
   */
  private readonly chunks: Uint8Array[] = [];
  private count = 0;
  private queued = 0;
  socket: Socket | null = null;
  connected = false;
  /** Dialled connections: when the peer became unreachable (start or loss), while it is. */
  downSince: number | undefined;
  /** Dialled connections: the failure cause last written to the log, while the peer is down. */
  reported: string | undefined;
  /** Dialled connections: when to redial. */
  backoff: Backoff | undefined;
  /** Dialled connections: the next dial while the peer is down, its timer and when it fires (`performance.now()`; see `Network.redialNow`). */
  redial: { readonly timer: NodeJS.Timeout; readonly at: number } | undefined;
  /** Dialled connections: when the last dial began (`performance.now()`). */
  dialledAt = -Infinity;
  /** The peer's hello, once it arrived on this connection: only then may extension messages go on it. */
  hello: HelloMsg | undefined;
  /** Incoming connections: the peer's hello said it only submits values: no broadcast goes to it. */
  submitOnly = false;
  /** Incoming connections: the peer's hello offers ACCEPTED_DIGESTS_FEATURE (an acceptor's accepted may go as a digest). */
  takesDigests = false;
  /** This process dialled it (to an acceptor or a proposer): what names an acceptor is believed only on such a connection. */
  readonly outbound: boolean;

  constructor(
    readonly id: PeerId,
    readonly name: string,
    private readonly net: Network,
    maxValueSize: number,
    /**
     * Dialled: the process it was dialled to (its config name). Incoming under TLS: the process
     * names the peer's certificate carries, comma-separated (undefined over plain TCP). For TLS
     * checks and metrics.
     */
    readonly peer: string | undefined,
  ) {
    this.outbound = id < FIRST_INCOMING_ID;
    this.decoder = new FrameDecoder(maxValueSize);
    this.traffic = net.trafficOf(peer ?? 'incoming');
  }

  /**
   * Queues bytes; `Network.flush` writes everything queued since the last one in one write.
   * `type`: the LibPaxos3 message they hold, counted for metrics (extension messages are counted
   * apart: see `Network.sendExtension`).
   */
  write(bytes: Uint8Array, type?: Message['type']): void {
    if (type !== undefined) {
      const code = MESSAGE_CODE[type];
      this.net.sent[code] = (this.net.sent[code] as number) + 1;
    }
    const backlog = this.queued + (this.socket?.writableLength ?? 0);
    if (backlog + bytes.length > this.net.options.maxQueuedBytes) {
      this.refuse(backlog);
      return;
    }
    if (this.count === 0) this.net.markDirty(this);
    this.chunks[this.count++] = bytes;
    this.queued += bytes.length;
  }

  /**
   * The peer stopped reading and `backlog` bytes wait for it: the connection is closed. Apart from
   * `write` because its summary callback captures `this`: in `write` that was a new context for
   * every message sent.
   */
  private refuse(backlog: number): void {
    if (this.connected) {
      this.net.log.repeated(
        `not reading ${this.name}`,
        'error',
        `${this.name} is not reading: ${backlog} bytes queued; closing the connection`,
        (n, s) => `${this.name} is not reading: ${n} more writes refused in the last ${s} s`,
        undefined,
        { peer: this.name, queuedBytes: backlog },
      );
      this.net.countRefusal('not-reading');
      this.socket?.destroy();
    }
  }

  flush(): void {
    const n = this.count;
    if (!this.connected || this.socket === null || n === 0) return;
    const chunks = this.chunks;
    let data = chunks[0] as Uint8Array;
    // Not Buffer.concat(chunks): the array keeps its emptied slots past `count`, as many as the
    // largest burst it held, and concat would walk them all.
    if (n > 1) {
      data = Buffer.allocUnsafe(this.queued);
      for (let i = 0, at = 0; i < n; i++) {
        const c = chunks[i] as Uint8Array;
        data.set(c, at);
        at += c.length;
      }
    }
    this.clear();
    this.traffic.sent += data.length;
    this.socket.write(data);
  }

  /**
   * Puts `bytes` ahead of everything queued (our hello, as a dialled connection comes up: a peer
   * must know us before it reads an extension message of ours).
   */
  writeFirst(bytes: Uint8Array): void {
    if (this.count === 0) this.net.markDirty(this);
    // Into an emptied slot if there is one (splice would grow the array at every connect).
    if (this.count < this.chunks.length) {
      this.chunks.copyWithin(1, 0, this.count);
      this.chunks[0] = bytes;
    } else {
      this.chunks.unshift(bytes);
    }
    this.count++;
    this.queued += bytes.length;
  }

  /** An incoming connection from a replica: written after the others in a flush (see `Network.writeOut`). */
  get last(): boolean {
    return this.id >= FIRST_INCOMING_ID && this.hello?.role === 'replica';
  }

  /** Bytes queued here and in the socket, not yet handed to the kernel. */
  get backlog(): number {
    return this.queued + (this.socket?.writableLength ?? 0);
  }

  /** Forgets what was queued (the slots let go of their bytes; the array stays). */
  private clear(): void {
    for (let i = 0; i < this.count; i++) this.chunks[i] = EMPTY_CHUNK;
    this.count = 0;
    this.queued = 0;
  }

  /**
   * Bytes queued while disconnected are lost with the connection (LibPaxos3 too); Paxos resends.
   * (What is queued while a dial is under way goes out if that dial succeeds: `connect`.)
   */
  reset(): void {
    this.clear();
    // A dialled connection is redialled with this object: a frame cut off when the connection
    // ended must not be glued to the first bytes of the next one.
    this.decoder.reset();
    this.hello = undefined;
    this.submitOnly = false;
    this.takesDigests = false;
    this.connected = false;
    this.socket = null;
  }
}

/**
 * The TCP side of a process (LibPaxos3's `peers`): dials acceptors and keeps redialling them,
 * accepts connections, frames and decodes messages, and writes each peer's messages of one batch
 * in one socket write. Hostile bytes close only the connection they came on.
 */
export class Network {
  private server: Server | null = null;
  /** Connections to acceptors by index; undefined at `options.self`. */
  private readonly dialled: (Connection | undefined)[] = [];
  /** Connections dialled to proposers (`toProposer`), by proposer id. */
  private readonly proposerConns = new Map<number, Connection>();
  /** Whether "no acceptor is reachable" was said since the last connection came up. */
  private saidNoneReachable = false;
  /** Messages to hand to this process itself at the next flush, with the PeerId they come from. */
  private local: [PeerId, Message][] = [];
  private readonly incoming = new Map<PeerId, Connection>();
  private nextIncomingId = FIRST_INCOMING_ID;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Connections with bytes queued since the last flush: the first `dirtyCount` entries (the array is kept from turn to turn, as `Connection.chunks` is). */
  private dirty: (Connection | undefined)[] = [];
  private spareDirty: (Connection | undefined)[] = [];
  private dirtyCount = 0;
  private flushScheduled = false;

  readonly log: RateLimitedLogger;
  private readonly transport: Transport;
  private readonly traffic = new Map<string, Traffic>();
  /** Messages received and sent by type code (see `stats`). */
  readonly received: number[] = new Array<number>(9).fill(0);
  readonly sent: number[] = new Array<number>(9).fill(0);
  private readonly refused = new Map<string, number>();
  private impostors = 0;
  private forbidden = 0;
  private readonly extReceived = new Map<ExtensionType, number>();
  private readonly extSent = new Map<ExtensionType, number>();
  /** Accepted values this long or longer may go as digests (`acceptedDigests`). */
  private readonly acceptedDigestsMinValueSize: number;

  constructor(readonly options: NetworkOptions) {
    this.log = limitRepeats(options.log);
    this.transport = options.transport ?? plainTransport('');
    this.acceptedDigestsMinValueSize = options.acceptedDigestsMinValueSize ?? DIGEST_MIN_VALUE_BYTES;
  }

  /** The counters of peer `label` (created on first use; they outlive its connections). */
  trafficOf(label: string): Traffic {
    let t = this.traffic.get(label);
    if (t === undefined) {
      t = { received: 0, sent: 0 };
      this.traffic.set(label, t);
    }
    return t;
  }

  countRefusal(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }

  /** What was counted so far (metrics read it on scrape). */
  stats(): NetworkStats {
    return {
      traffic: this.traffic,
      received: this.received,
      sent: this.sent,
      refused: this.refused,
      impostors: this.impostors,
      forbidden: this.forbidden,
      extensionsReceived: this.extReceived,
      extensionsSent: this.extSent,
    };
  }

  /** Encodes an extension message for a connection, counting it by type. */
  private extensionBytes(msg: ExtensionMessage): Uint8Array {
    this.extSent.set(msg.type, (this.extSent.get(msg.type) ?? 0) + 1);
    return encodeExtension(msg);
  }

  /** The acceptors this process dials, by config name, with whether each connection is up (its own acceptor is). */
  acceptors(): { readonly name: string; readonly up: boolean }[] {
    return (this.options.dial ?? []).map((a, k) => ({ name: a.name, up: this.isUp(k) }));
  }

  /** Every dialled peer (acceptors, and proposers a value was forwarded to), with whether it is up. */
  peers(): { readonly name: string; readonly up: boolean }[] {
    const out = this.acceptors();
    for (const [k, conn] of this.proposerConns) out.push({ name: this.options.proposers?.[k]?.name ?? `proposer-${k}`, up: conn.connected });
    return out;
  }

  /** How many incoming connections are open. */
  get incomingCount(): number {
    return this.incoming.size;
  }

  /** Bytes queued for peers and not yet handed to the kernel. */
  get backlog(): number {
    let n = 0;
    for (const c of this.dialled) if (c !== undefined) n += c.backlog;
    for (const c of this.proposerConns.values()) n += c.backlog;
    for (const c of this.incoming.values()) n += c.backlog;
    return n;
  }

  /**
   * Writes what every connection queued, one socket write each, then hands this process's
   * messages to itself to the role (see `routeLocal`). For writes outside the pump.
   */
  flush(): void {
    this.flushScheduled = false;
    this.writeOut();
    this.routeLocal();
  }

  /**
   * Writes what every connection queued, one socket write each. The pump calls it after each
   * batch's sends, in the same event-loop turn: deferring each write once more would add a loop
   * turn to every hop's latency.
   */
  writeOut(): void {
    const n = this.dirtyCount;
    if (n === 0) return;
    // The lists swap: a connection that queued bytes during these writes (none does today: a
    // socket write raises no event in the same call) lands in the other list, for the next flush.
    const dirty = this.dirty;
    this.dirty = this.spareDirty;
    this.spareDirty = dirty;
    this.dirtyCount = 0;
    // Each socket write takes microseconds, and the last connection waits for all the others.
    // Replicas' connections to this acceptor go last: what they carry (accepted, as digests) lets
    // the other replicas deliver, which a state machine's reply may wait for, but a client's
    // learner, or an acceptor an accept is for, is on the path of every submitted value (A/B in
    // the commit that made this order: -o 1 +5–9 % values/s). Order within a connection is kept.
    let deferred = false;
    for (let i = 0; i < n; i++) {
      const conn = dirty[i] as Connection;
      if (conn.last) deferred = true;
      else conn.flush();
    }
    if (deferred) {
      for (let i = 0; i < n; i++) {
        const conn = dirty[i] as Connection;
        if (conn.last) conn.flush();
      }
    }
    for (let i = 0; i < n; i++) dirty[i] = undefined;
  }

  /** `conn` queued its first bytes since its last flush. */
  markDirty(conn: Connection): void {
    this.dirty[this.dirtyCount++] = conn;
  }

  /**
   * A replica's messages to its own acceptor and back, after the commit that precedes every send
   * (persist before send holds), without a loopback socket's syscalls and codec. LibPaxos3 dials
   * itself over TCP; a peer cannot tell the difference.
   */
  routeLocal(): void {
    if (this.local.length === 0) return;
    const local = this.local;
    this.local = [];
    for (const [from, msg] of local) if (!this.closed) this.options.onMessage(from, msg);
  }

  /** For writes outside the pump (a replica's submit): flush at the end of this turn. */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  async start(): Promise<void> {
    const { listen, dial } = this.options;
    if (listen !== undefined) {
      const server = this.transport.createServer(
        (socket, peer) => this.accept(socket, peer),
        (r) => this.refusedIncoming(r),
      );
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) => {
          const hint = e.code === 'EADDRINUSE' ? 'another process is using that port' : e.code === 'EADDRNOTAVAIL' ? 'that address is not on this machine' : e.message;
          reject(new Error(`cannot listen on ${formatAddress(listen)} (${listen.where}): ${hint}`, { cause: e }));
        });
        server.listen(listen.port, listen.host, () => resolve());
      });
      server.on('error', (e) => this.log.error(`listening socket: ${e.message}`));
    }
    (dial ?? []).forEach((addr, k) => {
      if (k === this.options.self) {
        this.dialled.push(undefined);
        return;
      }
      const conn = new Connection(k, `acceptor ${k} (${formatAddress(addr)})`, this, this.options.maxValueSize, addr.name);
      conn.downSince = performance.now();
      this.dialled.push(conn);
      conn.backoff = new Backoff(this.options.redial?.firstMs ?? 50, this.options.redial?.maxMs ?? 2000);
      this.connect(conn, addr);
    });
  }

  /** Whether the connection dialled to acceptor `k` is up. */
  isUp(k: number): boolean {
    return k === this.options.self || (this.dialled[k]?.connected ?? false);
  }

  /** Sends to every dialled acceptor. */
  toAcceptors(msg: Message): void {
    if (this.dialled.length === 0) return;
    if (this.options.self !== undefined) this.toSelf(SELF_PEER, msg);
    if (this.dialled.length === 1 && this.options.self !== undefined) return;
    const bytes = encodeMessage(msg);
    for (const conn of this.dialled) conn?.write(bytes, msg.type);
  }

  /** Sends to every incoming connection (LibPaxos3's acceptor broadcasts). */
  toSubscribers(msg: Message): void {
    if (this.options.self !== undefined) this.toSelf(this.options.self, msg);
    if (this.incoming.size === 0) return;
    if (msg.type === 'accepted' && this.options.acceptedDigests === true && msg.value.length >= this.acceptedDigestsMinValueSize) {
      this.acceptedToSubscribers(msg);
      return;
    }
    const bytes = encodeMessage(msg);
    for (const conn of this.incoming.values()) if (!conn.submitOnly) conn.write(bytes, msg.type);
  }

  /** An accepted to every incoming connection: as a digest to those that take one, whole to the rest. */
  private acceptedToSubscribers(msg: Extract<Message, { type: 'accepted' }>): void {
    let bytes: Uint8Array | undefined;
    let digest: Uint8Array | undefined;
    let digests = 0;
    for (const conn of this.incoming.values()) {
      if (conn.submitOnly) continue;
      if (conn.takesDigests) {
        digest ??= encodeExtension(digestOf(msg));
        digests++;
        conn.write(digest);
      } else {
        bytes ??= encodeMessage(msg);
        conn.write(bytes, msg.type);
      }
    }
    if (digests > 0) this.extSent.set('accepted_digest', (this.extSent.get('accepted_digest') ?? 0) + digests);
  }

  toPeer(peer: PeerId, msg: Message): void {
    const self = this.options.self;
    if (self !== undefined && (peer === SELF_PEER || peer === self)) {
      this.toSelf(peer === SELF_PEER ? self : SELF_PEER, msg);
      return;
    }
    const conn = peer >= FIRST_INCOMING_ID ? this.incoming.get(peer) : this.dialled[peer];
    conn?.write(encodeMessage(msg), msg.type);
  }

  /**
   * Sends to proposer `k` (leadership: a client value forwarded to the leader): over the dialled
   * connection in a replica cluster, else over a connection dialled to its proposer port on
   * first use and kept.
   */
  toProposer(k: number, msg: Message): void {
    const addr = this.options.proposers?.[k];
    if (addr === undefined) {
      this.toAcceptor(k, msg);
      return;
    }
    let conn = this.proposerConns.get(k);
    if (conn === undefined) {
      conn = new Connection(PROPOSER_PEER_BASE + k, `proposer ${k} (${formatAddress(addr)})`, this, this.options.maxValueSize, addr.name);
      conn.downSince = performance.now();
      conn.backoff = new Backoff(this.options.redial?.firstMs ?? 50, this.options.redial?.maxMs ?? 2000);
      this.proposerConns.set(k, conn);
      this.connect(conn, addr);
    }
    conn.write(encodeMessage(msg), msg.type);
    this.flushSoon();
  }

  /** Sends to acceptor `k` over its dialled connection (e.g. a replica's submit). */
  toAcceptor(k: number, msg: Message): void {
    if (k === this.options.self) this.toSelf(SELF_PEER, msg);
    else this.dialled[k]?.write(encodeMessage(msg), msg.type);
    this.flushSoon();
  }

  /**
   * The libpaxos-ts peers this process dialled (in a replica: the other replicas) whose hello arrived
   * and that offer `feature`, if given: where extension messages may go.
   */
  extensionPeers(feature?: string): PeerId[] {
    const out: PeerId[] = [];
    for (const conn of this.dialled) {
      if (conn === undefined || !conn.connected || conn.hello === undefined) continue;
      if (feature === undefined || conn.hello.features.includes(feature)) out.push(conn.id);
    }
    return out;
  }

  /**
   * How log lines name peer `id`: a dialled peer by its config name and address
   * (`replica-1 at node-b:8801 (10.0.0.5)`), an incoming one by its remote address and, with TLS,
   * the name its certificate gives.
   */
  peerName(id: PeerId): string {
    if (id >= FIRST_INCOMING_ID) return this.incoming.get(id)?.name ?? `peer ${id}`;
    const addr = this.options.dial?.[id];
    return addr === undefined ? `peer ${id}` : `${addr.name} at ${formatAddress(addr)}`;
  }

  /**
   * Sends an extension message to `peer` (dialled or incoming), only if that peer said hello on
   * this connection: a C LibPaxos3 peer never receives one. Returns whether it was queued.
   */
  toPeerExtension(peer: PeerId, msg: ExtensionMessage): boolean {
    const conn = peer >= FIRST_INCOMING_ID ? this.incoming.get(peer) : this.dialled[peer];
    if (conn === undefined || !conn.connected || conn.hello === undefined) return false;
    conn.write(this.extensionBytes(msg));
    this.flushSoon();
    return true;
  }

  /**
   * Queues `msg` for this process, as coming from `from`; the pump hands it to the role after each
   * batch (`routeLocal`). Values are copied, except a promise's, so that what the application
   * proposed or was delivered by this path is not the acceptor's record: an application may change
   * what it proposed, and an accept may carry a decided value that was also delivered (a proposer
   * re-sending it); a promise carries the local acceptor's own record, which only the core holds.
   * (A value from the wire may be both: a follower replica's acceptor keeps the accept's bytes,
   * and with digest votes its learner counts the votes with them; the learner replaces them by
   * bytes of its own before the first vote counts, those of this copy of its own acceptor's
   * accepted when equal, so what it delivers is never the record: `Learner.holdValue`.)
   */
  private toSelf(from: PeerId, msg: Message): void {
    this.local.push([from, withOwnValue(msg)]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.local = [];
    for (const conn of [...this.dialled, ...this.proposerConns.values(), ...this.incoming.values()]) {
      if (conn === undefined) continue;
      conn.flush();
      conn.socket?.end();
      conn.socket?.destroy();
    }
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.log !== this.options.log) this.log.close();
  }

  private connect(conn: Connection, addr: Address): void {
    if (this.closed) return;
    conn.dialledAt = performance.now();
    // Reads of a dialled plain socket land in a buffer the transport reuses (see Transport.connect).
    const socket = this.transport.connect(addr, addr.name, (chunk) => this.receive(conn, chunk, true));
    socket.setNoDelay(this.options.nodelay);
    conn.socket = socket;
    let error: string | undefined;
    /** The peer's certificate or identity was refused (TLS): said at once, at error level. */
    let refused = false;
    socket.on(this.transport.readyEvent, () => {
      conn.connected = true;
      conn.backoff?.reset();
      this.log.endAll(`dial ${conn.id} `);
      conn.downSince = undefined;
      conn.reported = undefined;
      this.saidNoneReachable = false;
      this.log.info(`Connected to ${conn.name}`, { peer: addr.name, address: formatAddress(addr) });
      // Our hello goes first, ahead of anything queued while connecting: a libpaxos-ts peer
      // answers with its own, a C LibPaxos3 peer ignores it.
      if (this.options.hello !== undefined) conn.writeFirst(this.extensionBytes(this.options.hello));
      // What was queued while connecting (LibPaxos3 loses it; Paxos would resend it later).
      conn.flush();
      if (conn.id < this.dialled.length) this.options.onAcceptorConnected?.(conn.id);
    });
    // Only a TLS socket emits 'data' here: a plain one reads through the callback above.
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk, false));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const tls = this.transport.secure ? dialProblem(e) : undefined;
      error = tls?.why ?? cause(e);
      refused = tls?.refused ?? false;
      this.log.debug(`${conn.name}: ${e.code ?? e.message}`);
    });
    socket.on('close', () => {
      const wasUp = conn.connected;
      conn.reset();
      // An orderly close of this process is not news: nothing to say, nothing to redial.
      if (this.closed) return;
      const now = performance.now();
      if (wasUp && !refused) {
        conn.downSince = now;
        this.log.info(`Connection to ${conn.name} lost (${error ?? 'closed by the peer'}); reconnecting`, { peer: addr.name, address: formatAddress(addr), cause: error ?? 'closed by the peer' });
      } else {
        this.failedDial(conn, error ?? 'closed by the peer', now, refused);
      }
      this.redialIn(conn, addr, conn.backoff?.next() ?? 2000);
    });
  }

  /** Dials `conn` again in `ms` from `now`, instead of when its pending redial timer (if any) would have. */
  private redialIn(conn: Connection, addr: Address, ms: number, now = performance.now()): void {
    this.dropRedial(conn);
    const timer = setTimeout(() => this.dialNow(conn, addr), ms);
    this.timers.add(timer);
    // From the caller's `now`: `redialNow` compares later hellos' targets with it, and an `at` a
    // few µs later than its own would make each of them set the same timer again.
    conn.redial = { timer, at: now + ms };
  }

  /** Dials `conn` again now, dropping its redial timer if one is pending. */
  private dialNow(conn: Connection, addr: Address): void {
    this.dropRedial(conn);
    this.connect(conn, addr);
  }

  private dropRedial(conn: Connection): void {
    if (conn.redial === undefined) return;
    clearTimeout(conn.redial.timer);
    this.timers.delete(conn.redial.timer);
    conn.redial = undefined;
  }

  /**
   * Replica `k` dialled this process and said hello: it is up, so if the connection to it is down
   * and waiting for its next dial, dial now rather than after the backoff. Replicas started
   * together dial each other before all of them listen, and a refused dial waited 50, 100, 200,
   * 400 ms (up to 2 s after a peer's restart) before the connection came up; what the proposer
   * lost meanwhile it sends on `onAcceptorConnected` (paxos-core's Proposer.acceptorConnected).
   * The backoff keeps growing (a hello proves the peer is up, not that the dial will work), and a
   * hello within `HELLO_REDIAL_MIN_MS` of the last dial makes the next one come that long after it:
   * connections that say hello over and over cannot make this process dial faster than that.
   * Under TLS the hello counts only on a connection whose certificate names replica `k` (`from.peer`):
   * a learner's or a client's certificate cannot make this process dial a replica early.
   */
  private redialNow(k: number, from: Connection): void {
    const conn = this.dialled[k];
    const addr = this.options.dial?.[k];
    if (conn === undefined || addr === undefined || conn.redial === undefined || this.closed) return;
    if (from.peer !== undefined && !from.peer.split(',').includes(addr.name)) {
      this.log.debug(`${from.name} said hello as replica ${k}, which its certificate does not name: not dialling ${addr.name} early`);
      return;
    }
    const now = performance.now();
    const wait = conn.dialledAt + HELLO_REDIAL_MIN_MS - now;
    if (wait <= 0) {
      this.log.debug(`${conn.name} dialled this process: dialling it now, not after the backoff`);
      this.dialNow(conn, addr);
    } else if (now + wait < conn.redial.at) {
      this.log.debug(`${conn.name} dialled this process: dialling it in ${Math.ceil(wait)} ms, not after the backoff`);
      this.redialIn(conn, addr, wait, now);
    }
  }

  /**
   * A dial failed. The cause is written once per peer (again only when it changes, or after the
   * peer was reachable in between), then summarised; and once, when no acceptor at all answers,
   * the process says so (a learner with no acceptor up used to print nothing).
   */
  private failedDial(conn: Connection, why: string, now: number, refused = false): void {
    conn.downSince ??= now;
    // A refused peer (TLS: not the process of its config line, or not of this cluster's CA) is
    // news at once; a peer that is merely not up yet is said only after a second.
    if (!refused && conn.reported === undefined && now - conn.downSince < REPORT_AFTER_MS) return;
    if (conn.reported !== why) this.log.endAll(`dial ${conn.id} `);
    conn.reported = why;
    const max = (this.options.redial?.maxMs ?? 2000) / 1000;
    this.log.repeated(
      `dial ${conn.id} ${why}`,
      refused ? 'error' : 'info',
      refused ? `Refused ${conn.name}: ${why}; not connecting, retrying every ${max} s at most` : `Cannot connect to ${conn.name}: ${why}; retrying every ${max} s at most`,
      (n, s) => `${conn.name} is still ${refused ? 'refused' : 'unreachable'} (${why}): ${n} more failed attempt${n === 1 ? '' : 's'} in the last ${s} s`,
      60_000,
      { peer: conn.peer, connection: conn.name, cause: why, refused },
    );
    const others = this.dialled.filter((c): c is Connection => c !== undefined);
    if (!this.saidNoneReachable && others.length === this.dialled.length && others.every((c) => !c.connected && c.reported !== undefined)) {
      this.saidNoneReachable = true;
      this.log.info(`No acceptor is reachable (none of the ${others.length} in the config answers); waiting for one to come up`);
    }
  }

  /**
   * An incoming connection the transport refused (TLS: no certificate, another CA, a process not
   * in the config, no handshake): one error line per peer host and reason, then a count.
   */
  private refusedIncoming(r: Refusal): void {
    if (r.level === 'quiet') {
      this.log.debug(`${r.remote}: ${r.why}`);
      return;
    }
    this.countRefusal(r.reason);
    const host = r.remote.replace(/:\d+$/, '');
    const refused = r.level === 'refused';
    this.log.repeated(
      `refused ${host} ${r.why}`,
      refused ? 'error' : 'info',
      refused ? `Refused a connection from ${r.remote}: ${r.why}` : `A connection from ${r.remote} failed: ${r.why}`,
      (n, s) => `${refused ? 'Refused' : 'Failed'} ${n} more connection${n === 1 ? '' : 's'} from ${host} in the last ${s} s: ${r.why}`,
      60_000,
      { remote: r.remote, reason: r.reason, cause: r.why },
    );
  }

  private accept(socket: Socket, peer: string | undefined): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(this.options.nodelay);
    const id = this.nextIncomingId++;
    const remote = `${socket.remoteAddress?.includes(':') === true ? `[${socket.remoteAddress}]` : (socket.remoteAddress ?? '?')}:${socket.remotePort ?? '?'}`;
    const conn = new Connection(id, `peer ${remote}${peer !== undefined ? ` (${peer})` : ''}`, this, this.options.maxValueSize, peer);
    if (peer !== undefined) {
      conn.allowed = allowedMessages(peer.split(','));
      conn.allowedExtensions = allowedExtensions(peer.split(','));
    }
    conn.socket = socket;
    conn.connected = true;
    this.incoming.set(id, conn);
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk, false));
    socket.on('error', (e: NodeJS.ErrnoException) => this.log.debug(`${conn.name}: ${e.code ?? e.message}`));
    socket.on('close', () => {
      this.incoming.delete(id);
      conn.reset();
    });
  }

  /** Bytes read from `conn`; `transient`: the read buffer is reused once this returns (see `FrameDecoder.push`). */
  private receive(conn: Connection, chunk: Uint8Array, transient: boolean): void {
    // The reports below are methods of their own: their summary callbacks capture what they say,
    // and a closure here would make every read (and every message) allocate a context.
    conn.traffic.received += chunk.length;
    let msgs: Frame[];
    try {
      msgs = conn.decoder.push(chunk, transient);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.badBytes(conn, e);
      return;
    }
    for (const msg of msgs) {
      if (msg.type === 'extension') {
        this.extension(conn, msg.code, msg.payload);
        continue;
      }
      const code = MESSAGE_CODE[msg.type];
      this.received[code] = (this.received[code] as number) + 1;
      if (((conn.allowed >> code) & 1) === 0) {
        this.forbiddenMessage(conn, msg.type);
        continue;
      }
      // A message naming an acceptor is believed only on the connection we dialled to it.
      if (FROM_ACCEPTOR.has(msg.type) && (!conn.outbound || (msg as { aid: number }).aid !== conn.id)) {
        this.impostor(conn, msg.type, (msg as { aid: number }).aid);
        continue;
      }
      if (this.closed) return;
      this.options.onMessage(conn.id, msg);
    }
  }

  /** `conn` sent bytes that are not a message: it is closed. */
  private badBytes(conn: Connection, e: WireError): void {
    // 0x16 opens a TLS handshake: a process with TLS on dialled this one, which has it off.
    const hint = /got byte 0x16\b/.test(e.message) && !this.transport.secure ? '; it looks like a TLS handshake: TLS is off in this process\'s config' : '';
    this.log.repeated(
      `bad bytes ${e.message}`,
      'error',
      `${conn.name} sent bytes that are not a LibPaxos3 message (${e.message}${hint}); closing that connection`,
      (n, s) => `${n} more connection${n === 1 ? '' : 's'} sent the same bytes in the last ${s} s (${e.message}); closed them`,
      undefined,
      { connection: conn.name, peer: conn.peer, problem: e.message },
    );
    this.countRefusal('bad-bytes');
    conn.socket?.destroy();
  }

  /** TLS: this peer's certificate names a role that does not send this type (a client's prepare). Dropped. */
  private forbiddenMessage(conn: Connection, type: Message['type']): void {
    this.forbidden++;
    this.log.repeated(
      `forbidden ${conn.peer ?? ''} ${type}`,
      'error',
      `${conn.name} sent ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}, which a ${conn.peer ?? 'peer'} does not send; dropped`,
      (n, s) => `${conn.peer ?? 'peer'} connections sent ${n} more ${type} messages in the last ${s} s; dropped`,
      undefined,
      { connection: conn.name, peer: conn.peer, type },
    );
  }

  /** A message naming acceptor `aid` that came on another connection. Dropped. */
  private impostor(conn: Connection, type: Message['type'], aid: number): void {
    this.impostors++;
    this.log.repeated(
      `impostor ${conn.name} ${type} ${aid}`,
      'error',
      `${conn.name} sent a ${type} claiming to be from acceptor ${aid}; dropped`,
      (n, s) => `${conn.name} sent ${n} more ${type} messages claiming to be from acceptor ${aid} in the last ${s} s; dropped`,
    );
  }

  /**
   * An extension frame. A hello marks the connection as one to a libpaxos-ts peer (and is answered
   * on a connection the peer dialled); other messages go to `onExtension`. A code this build does
   * not know (a newer peer's) is ignored, as C LibPaxos3 ignores ours; a known message in a format
   * this build does not read is dropped with a sentence. The connection stays up either way: the
   * nine LibPaxos3 messages on it are still good.
   */
  private extension(conn: Connection, code: number, payload: Uint8Array): void {
    let msg: ExtensionMessage | undefined;
    try {
      msg = decodeExtension(code, payload);
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw e;
      this.badExtension(conn, e);
      return;
    }
    if (msg === undefined) {
      this.log.debug(`${conn.name} sent an extension message of type ${code}, which this build does not know; ignored`);
      return;
    }
    if (this.closed) return;
    this.extReceived.set(msg.type, (this.extReceived.get(msg.type) ?? 0) + 1);
    if (msg.type === 'accepted_digest' && (!conn.outbound || msg.aid !== conn.id)) {
      // Like an accepted, it names an acceptor: believed only on the connection dialled to it.
      this.digestImpostor(conn, msg.aid);
      return;
    }
    if (!conn.outbound && conn.allowedExtensions !== undefined && !conn.allowedExtensions.has(msg.type)) {
      // TLS: this peer's certificate names a role that does not send this (a client's snapshot_get).
      this.forbiddenExtension(conn, msg.type);
      return;
    }
    if (msg.type === 'hello') {
      const first = conn.hello === undefined;
      conn.hello = msg;
      if (!conn.outbound) {
        conn.submitOnly = msg.features.includes(SUBMIT_ONLY_FEATURE);
        conn.takesDigests = msg.features.includes(ACCEPTED_DIGESTS_FEATURE);
      }
      if (first) this.log.debug(`${conn.name} is libpaxos-ts ${msg.version} (${msg.role} ${msg.id}${msg.features.length > 0 ? `, ${msg.features.join(', ')}` : ''})`);
      if (!conn.outbound && first && this.options.hello !== undefined) {
        conn.write(this.extensionBytes(this.options.hello));
        this.flushSoon();
      }
      // (The decoder takes ids of −1 to 255 only.)
      if (!conn.outbound && first && msg.role === 'replica' && msg.id >= 0) this.redialNow(msg.id, conn);
      return;
    }
    this.options.onExtension?.(conn.id, msg);
  }

  // The reports of `extension`, apart from it for the reason given in `receive` (a digest vote
  // comes through it for every value of accepted-digests-min-value-size or more).

  private badExtension(conn: Connection, e: ExtensionError): void {
    this.log.repeated(
      `extension ${conn.name} ${e.message}`,
      'error',
      `${conn.name} sent ${e.message}; message dropped`,
      (n, s) => `${conn.name} sent ${n} more such messages in the last ${s} s (${e.message}); dropped`,
    );
  }

  private digestImpostor(conn: Connection, aid: number): void {
    this.impostors++;
    this.log.repeated(
      `impostor ${conn.name} accepted_digest ${aid}`,
      'error',
      `${conn.name} sent an accepted_digest claiming to be from acceptor ${aid}; dropped`,
      (n, s) => `${conn.name} sent ${n} more accepted_digest messages claiming to be from acceptor ${aid} in the last ${s} s; dropped`,
    );
  }

  private forbiddenExtension(conn: Connection, type: ExtensionType): void {
    this.forbidden++;
    this.log.repeated(
      `forbidden ${conn.peer ?? ''} ${type}`,
      'error',
      `${conn.name} sent a ${type}, which a ${conn.peer ?? 'peer'} does not send; dropped`,
      (n, s) => `${conn.peer ?? 'peer'} connections sent ${n} more ${type} messages in the last ${s} s; dropped`,
      undefined,
      { connection: conn.name, peer: conn.peer, type },
    );
  }
}

/**
 * `msg` with a copy of its value (see `Network.toSelf`), a promise as it is. Written out per type:
 * an object spread makes a slower object, and this runs for a replica's every accept and accepted.
 * (`satisfies Required<…>`: a field added to one of these messages fails to compile here until it
 * is copied too.)
 */
function withOwnValue(msg: Message): Message {
  // Copies in shared slabs (codec.ts): an ArrayBuffer of its own per copy, with its backing
  // store, was about 320 bytes per value kept by a leader's acceptor (heap snapshot, memory
  // storage), and work for every scavenge. The accept's copy is what the acceptor stores.
  switch (msg.type) {
    case 'accept':
      return { type: 'accept', iid: msg.iid, ballot: msg.ballot, value: copyKept(msg.value) } satisfies Required<AcceptMsg>;
    case 'accepted':
      return {
        type: 'accepted',
        aid: msg.aid,
        iid: msg.iid,
        ballot: msg.ballot,
        valueBallot: msg.valueBallot,
        value: copyShortLived(msg.value),
      } satisfies Required<AcceptedMsg>;
    case 'client_value':
      return { type: 'client_value', value: copyShortLived(msg.value) } satisfies Required<ClientValueMsg>;
    case 'promise':
    case 'prepare':
    case 'preempted':
    case 'repeat':
    case 'trim':
    case 'acceptor_state':
      return msg;
    default:
      return assertNever(msg, 'message');
  }
}

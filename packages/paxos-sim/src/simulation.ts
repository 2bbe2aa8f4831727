import {
  DEFAULT_MEMORY_BYTES,
  MESSAGE_CODE,
  StartWindow,
  assertNever,
  Prng,
  REJOIN_PENDING,
  rejoinMargin,
  rejoinPoint,
  clearEffects,
  digestOf,
  newEffects,
  quorumSize,
  type AcceptedDigestMsg,
  type AcceptorRecord,
  type Effects,
  type Envelope,
  type MasterState,
  type Message,
  type PersistRecord,
  type RejoinAnswer,
  type RejoinMessage,
  type SnapshotMessage,
} from '@libpaxos/paxos-core';
import { Checker, type Sender } from './checker.js';
import type { DeliveryStream } from './delivery-stream.js';
import { DiskArchive, recordCopy } from './disk-archive.js';
import { EventQueue } from './event-queue.js';
import { KvWorkload, type KvEvent, type KvFigures, type KvHost } from './kv-workload.js';
import { LeaseChecker, type LeaseView } from './lease-checker.js';
import { MasterReference } from './master-reference.js';
import { mutantRoles } from './mutants.js';
import type { SimObserver } from './observer.js';
import { archiveHandsAt, digestsAt, loadWindowOf, type SimOptions } from './options.js';
import { isLeaderRole, realRoles, type LeaderRole, type LearnerRole, type ProposerRole, type ReplicaRole, type RoleFactory, type SimAcceptorRecovered, type SimRole } from './roles.js';
import { Checkpoints, type CheckpointEvent, type CheckpointFigures, type CheckpointHost, type CheckpointNode } from './sim-checkpoints.js';
import { describeValueId, makeValue, valueId } from './workload.js';

type Kind = 'acceptor' | 'proposer' | 'learner' | 'replica';

/** A node's disk: what survives a crash, and the writes not yet synced. */
interface Disk {
  readonly records: Map<number, AcceptorRecord>;
  trimIid: number;
  roundFloor: number;
  /** A replica that lost its storage and rejoined takes no part up to it (REJOIN_PENDING: rejoining). */
  fence: number;
  /** Group-commit batches waiting for their sync; their sends wait with them (persist before send). */
  pending: { persist: PersistRecord[]; send: Envelope[] }[];
  syncScheduled: boolean;
}

interface SimNode {
  readonly index: number;
  readonly kind: Kind;
  /** Acceptor id, proposer id, learner number or replica id. */
  readonly roleId: number;
  readonly name: string;
  up: boolean;
  incarnation: number;
  role: SimRole | null;
  readonly disk: Disk;
  /**
   * Acceptors and replicas with a memory window on: this incarnation's view of its disk as the
   * acceptor's archive (disk-archive.ts), which learns of each batch handed to the disk.
   */
  archive: DiskArchive | undefined;
  /** Learners: the next iid this incarnation must decide, and the application's durable checkpoint. */
  expectedNext: number;
  checkpoint: number;
  /** Replicas with leadership: leadership's state as of `checkpoint`, kept with it. */
  checkpointMaster: MasterState | undefined;
  /** Learners and replicas: what this incarnation's application received so far. */
  stream: DeliveryStream | null;
  /** Who this incarnation's messages come from, per role (a replica's acceptor replies carry its aid). */
  senders: { readonly acceptor: Sender; readonly proposer: Sender; readonly learner: Sender };
  /** This machine's monotonic clock: `offset + rate·t` at simulated time t (it keeps running across crashes). */
  readonly clockRate: number;
  readonly clockOffset: number;
  /** The clock reading of this incarnation's last tick: what the core knows of time. */
  lastTick: number;
  /** An end-of-batch event is queued for this node (one per moment). */
  endOfBatchDue: boolean;
}

type SimEvent =
  | { readonly k: 'msg'; readonly to: number; readonly from: number; readonly msg: Message }
  /** A replica's acceptor's accepted, as a digest vote to a peer replica (accepted-digest.ts). */
  | { readonly k: 'digest'; readonly to: number; readonly from: number; readonly msg: AcceptedDigestMsg }
  | { readonly k: 'tick'; readonly node: number; readonly inc: number }
  /** The end of a node's "turn": every event already queued for this moment ran first. */
  | { readonly k: 'end-of-batch'; readonly node: number; readonly inc: number }
  | { readonly k: 'sync'; readonly node: number; readonly inc: number }
  | { readonly k: 'submit'; readonly client: number; readonly seq: number }
  | { readonly k: 'crash' }
  | { readonly k: 'restart'; readonly node: number }
  | { readonly k: 'partition' }
  | { readonly k: 'resign' }
  | { readonly k: 'unpartition'; readonly links: readonly number[] }
  | { readonly k: 'trim' }
  | { readonly k: 'heal' }
  | { readonly k: 'liveness' }
  | { readonly k: 'kv'; readonly ev: KvEvent }
  | CheckpointEvent
  /** A rejoin message (a wiped replica asking the others, their answers), and its resend timer. */
  | { readonly k: 'rejoin'; readonly to: number; readonly from: number; readonly msg: RejoinMessage }
  | { readonly k: 'rejoin-retry'; readonly node: number; readonly inc: number }
  /**
   * A connection `node` dials came up to acceptor `peer` (evpaxos's `acceptor-connected` input),
   * both in the incarnations they were in when it was dialled.
   */
  | { readonly k: 'connected'; readonly node: number; readonly inc: number; readonly peer: number; readonly peerInc: number };

export interface FaultCounts {
  crashes: number;
  restarts: number;
  partitions: number;
  /** Planned handovers: a leader that was asked to drop its leadership. */
  resignations: number;
  dropped: number;
  duplicated: number;
  /** Connections that came up (the `acceptor-connected` inputs given; see SimOptions.connections). */
  connections: number;
}

export interface SimResult {
  readonly options: SimOptions;
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly events: number;
  readonly simTimeMs: number;
  readonly submitted: number;
  /** Distinct client values some application received. */
  readonly delivered: number;
  /** Never delivered: held by a proposer at the moment it crashed (its volatile queue or instances). */
  readonly lostWithCrash: number;
  /** Never delivered: given up with a `value-lost` event (and not held at a crash). */
  readonly reportedLost: number;
  /** `value-lost` events for values whose outcome could not be known (trimmed away); they may still be delivered. */
  readonly outcomeUnknown: number;
  readonly faults: FaultCounts;
  readonly instances: number;
  /** Leadership: client values chosen in a second instance (re-forwarded at a change of leader). */
  readonly duplicates: number;
  /** Breaches of the lease invariants in a run that breaks the clock assumption on purpose. */
  readonly assumptionViolations: number;
  /** Hash of the whole event trace: equal seeds must give equal hashes. */
  readonly traceHash: string;
  /** The KV workload's figures (workload kv only). */
  readonly kv?: KvFigures;
  /** With checkpoints on: checkpoints, restores, transfers, wipes, trims, state comparisons, crashes per step. */
  readonly checkpoints?: CheckpointFigures;
}

/** What applications write over the values they were delivered (see `step`). */
const SCRIBBLE = 0xa5;

const KIND_CODE: Record<SimEvent['k'], number> = {
  msg: 1,
  tick: 2,
  sync: 3,
  submit: 4,
  crash: 5,
  restart: 6,
  partition: 7,
  unpartition: 8,
  trim: 9,
  heal: 10,
  liveness: 11,
  ckpt: 12,
  fio: 13,
  snap: 14,
  rejoin: 15,
  'rejoin-retry': 16,
  kv: 17,
  'end-of-batch': 18,
  digest: 19,
  resign: 20,
  connected: 21,
};

/**
 * One seeded run: a cluster of core state machines on a simulated network and disks, a fault
 * phase (loss, duplication, delay, partitions, crashes with unsynced writes lost), then a heal
 * phase in which everything owed must be delivered. The checker runs inside every event.
 */
export class Simulation {
  readonly options: SimOptions;
  readonly checker: Checker;
  private readonly roles: RoleFactory;
  private readonly nodes: SimNode[] = [];
  private readonly acceptorNodes: number[] = [];
  private readonly subscriberNodes: number[] = [];
  private readonly proposerNodes: number[] = [];
  private readonly learnerNodes: number[] = [];
  private readonly queue = new EventQueue<SimEvent>();
  private readonly net: Prng;
  private readonly chaos: Prng;
  /** Draws when a leader is asked to hand over (`resignEveryMs`). */
  private readonly resigns: Prng;
  private readonly clocks: Prng;
  /** Directed link (from·n + to) → number of partitions currently cutting it. */
  private readonly cut: Uint16Array;
  private readonly out: Effects = newEffects();
  private readonly faults: FaultCounts = { crashes: 0, restarts: 0, partitions: 0, resignations: 0, dropped: 0, duplicated: 0, connections: 0 };
  private now = 0;
  private events = 0;
  private healed = false;
  private done = false;
  private lossy = true;
  private hash = 0x811c9dc5;
  private outcomeUnknown = 0;
  private globalTrim = 0;
  /** Values owed after healing: chosen, or held by a live proposer, or submitted after healing. */
  private readonly owed = new Set<number>();
  private readonly clients: number;
  /** Checkpoints, trims by them and snapshot transfer (options.checkpointEvery > 0). */
  private readonly ckpt: Checkpoints | undefined;
  /** Replicas rejoining after losing their storage: the incarnation asking, and the answers so far. */
  private readonly rejoining = new Map<number, { readonly inc: number; readonly answers: Map<number, RejoinAnswer> }>();
  private readonly lease: LeaseChecker | undefined;
  /** Leadership on: its state as of every instance, from the chosen log, to hold every node to. */
  private readonly masters: MasterReference | undefined;
  /** Highest instance whose client values some application received. */
  private deliveredThrough = 0;
  /** Told what happens, for display only (never changes the run). */
  private readonly observe: SimObserver | undefined;
  /** The KV workload, when it replaces the plain one (options.workload). */
  private readonly kv: KvWorkload | undefined;

  constructor(options: SimOptions, observe?: SimObserver) {
    this.options = options;
    this.observe = observe;
    this.roles = options.mutant ? mutantRoles(options.mutant, options) : realRoles(options);
    this.checker = new Checker({ quorum: quorumSize(options.acceptors), batched: options.batchMaxValues > 0, duplicatesAllowed: options.leadership });
    this.net = new Prng(options.seed * 3 + 1);
    this.chaos = new Prng(options.seed * 3 + 2);
    this.clocks = new Prng(options.seed * 3 + 4);
    // Not seed * 3 + 5, the next seed's `chaos` stream.
    this.resigns = new Prng((options.seed * 3 + 5) ^ 0x7e5197);
    this.lease = options.leadership ? new LeaseChecker((what) => this.checker.fail(what), options.driftViolation) : undefined;
    this.masters = options.leadership ? new MasterReference((iid) => this.checker.chosen.get(iid)) : undefined;
    if (options.mode === 'replica') {
      for (let i = 0; i < options.acceptors; i++) this.addNode('replica', i);
    } else {
      for (let i = 0; i < options.acceptors; i++) this.addNode('acceptor', i);
      for (let i = 0; i < options.proposers; i++) this.addNode('proposer', i);
      for (let i = 0; i < options.learners; i++) this.addNode('learner', i);
    }
    this.cut = new Uint16Array(this.nodes.length * this.nodes.length);
    this.clients = options.mode === 'replica' ? 2 : options.proposers;
    if (options.driftViolation) {
      // Clocks run anywhere from half to one and a half times real time: far beyond what the
      // margin covers, so the assumption leadership rests on is broken.
      for (const node of this.nodes) (node as { clockRate: number }).clockRate = 0.5 + this.clocks.below(1001) / 1000;
    }
    this.kv = options.workload === 'kv' ? new KvWorkload(this.kvHost(), options.seed, options.mode === 'replica' ? 3 : 4, options.values, options.mutant) : undefined;
    this.ckpt =
      options.checkpointEvery > 0
        ? new Checkpoints(
            this.checkpointHost(),
            options,
            this.learnerNodes.map((index) => {
              const n = this.nodes[index] as SimNode;
              // Report ids: a replica reports as itself, split learners from 100 up.
              return { index, key: n.kind === 'replica' ? n.roleId : 100 + n.roleId };
            }),
            (what) => this.checker.fail(what),
            (iid) => this.checker.chosen.get(iid),
            this.masters,
          )
        : undefined;
  }

  /** What the KV workload sees of the simulation. */
  private kvHost(): KvHost {
    const sim = this;
    const o = this.options;
    return {
      get now() {
        return sim.now;
      },
      get healed() {
        return sim.healed;
      },
      get lossy() {
        return sim.lossy;
      },
      delayMs: o.delayMs,
      jitterMs: o.jitterMs,
      faultMs: o.faultMs,
      leadership: o.leadership,
      batched: o.batchMaxValues > 0,
      gateways: this.proposerNodes,
      answerers: this.learnerNodes,
      isUp: (i) => (this.nodes[i] as SimNode).up,
      incarnation: (i) => (this.nodes[i] as SimNode).incarnation,
      propose: (i, value) => this.proposeAt(this.nodes[i] as SimNode, value),
      leaseRead: (i) => {
        const node = this.nodes[i] as SimNode;
        if (!node.up || !isLeaderRole(node.role)) return undefined;
        return { canRead: node.role.canReadLocally(this.clock(node)), nextIid: node.role.learner.nextIid };
      },
      schedule: (at, ev) => this.queue.push(at, { k: 'kv', ev }),
    };
  }

  /** What the checkpoint machinery (sim-checkpoints.ts) reaches of this simulation. */
  private checkpointHost(): CheckpointHost {
    const sim = this;
    return {
      get now() {
        return sim.now;
      },
      get faulty() {
        return !sim.healed;
      },
      push: (at, ev) => this.queue.push(at, ev),
      node: (index) => this.nodes[index] as SimNode as unknown as CheckpointNode,
      step: (index, input) => {
        const node = this.nodes[index] as SimNode;
        if (node.up && node.role !== null) this.step(node, (role, out) => input(role as LearnerRole | ReplicaRole, out));
      },
      crash: (index) => this.crash(this.nodes[index] as SimNode),
      transmit: (from, to, msg) => this.transmitSnapshot(from, to, msg),
      report: (index, value) => this.report(this.nodes[index] as SimNode, value),
      fail: (what) => this.checker.fail(what),
      checkpointSchedule: (from, now) => this.roles.checkpointSchedule(from, now),
      highestTrim: () => Math.max(...this.acceptorNodes.map((i) => (this.nodes[i] as SimNode).disk.trimIid)),
      highestFence: () => Math.max(0, ...this.acceptorNodes.map((i) => (this.nodes[i] as SimNode).disk.fence).filter((f) => f !== REJOIN_PENDING)),
    };
  }

  private addNode(kind: Kind, roleId: number): void {
    const index = this.nodes.length;
    const node: SimNode = {
      index,
      kind,
      roleId,
      name: `${kind} ${roleId}`,
      up: false,
      incarnation: 0,
      role: null,
      disk: { records: new Map(), trimIid: 0, roundFloor: 0, fence: 0, pending: [], syncScheduled: false },
      archive: undefined,
      expectedNext: 1,
      checkpoint: 0,
      checkpointMaster: undefined,
      stream: null,
      senders: sendersOf(kind, roleId, 0),
      clockRate: 1 + (this.clocks.below(2 * this.options.driftPpm + 1) - this.options.driftPpm) / 1e6,
      clockOffset: this.clocks.below(1_000_000),
      lastTick: 0,
      endOfBatchDue: false,
    };
    this.nodes.push(node);
    if (kind === 'acceptor' || kind === 'replica') this.acceptorNodes.push(index);
    if (kind !== 'acceptor') this.subscriberNodes.push(index);
    if (kind === 'proposer' || kind === 'replica') this.proposerNodes.push(index);
    if (kind === 'learner' || kind === 'replica') this.learnerNodes.push(index);
  }

  run(): SimResult {
    const o = this.options;
    for (const node of this.nodes) this.start(node);
    if (this.kv !== undefined) {
      this.kv.start();
    } else {
      const submitRng = new Prng(o.seed * 3 + 3);
      for (let i = 0; i < o.values; i++) {
        this.queue.push(submitRng.below(Math.floor(o.faultMs * 0.9)), { k: 'submit', client: i % this.clients, seq: i });
      }
    }
    this.queue.push(this.chaos.below(this.crashInterval()), { k: 'crash' });
    this.queue.push(this.chaos.below(o.partitionEveryMs), { k: 'partition' });
    // Its own generator: seeds without resignations keep their courses (and trace hashes).
    if (o.leadership && o.resignEveryMs > 0) this.queue.push(this.resigns.below(o.resignEveryMs), { k: 'resign' });
    // With checkpoints the learners trim by the lowest checkpoint; otherwise, now and then, up to
    // what every learner delivered.
    if (o.trimEveryMs > 0 && this.ckpt === undefined) this.queue.push(o.trimEveryMs, { k: 'trim' });
    this.queue.push(o.faultMs, { k: 'heal' });
    const deadline = o.faultMs + o.healMs;
    while (!this.done && this.checker.ok) {
      const next = this.queue.pop();
      if (next === undefined) break;
      if (next.time > deadline) {
        this.now = deadline;
        this.checker.now = deadline;
        this.checker.fail(`liveness: not everything owed was delivered ${o.healMs} ms after healing: ${this.livenessGap() ?? '?'} [${this.describeNodes()}]`);
        break;
      }
      this.now = next.time;
      this.checker.now = next.time;
      this.events++;
      this.traceEvent(next.item);
      this.handle(next.item);
      if (this.lease !== undefined) this.checkLeases(this.lease);
    }
    if (!this.done && this.checker.ok) this.checker.fail('the event queue ran dry before the run finished');
    if (this.done && this.checker.ok) this.ckpt?.finish();
    const losses = this.checker.account(this.done && this.checker.ok);
    // The history clients saw, checked once the run is over (a run cut short leaves its pending
    // operations' outcomes unknown, which the checker allows for).
    const kv = this.kv?.finish();
    if (kv?.violation !== undefined) this.checker.fail(kv.violation);
    return {
      options: o,
      ok: this.checker.ok,
      violations: this.checker.violations,
      events: this.events,
      simTimeMs: this.now,
      submitted: this.checker.submitted.size,
      delivered: this.checker.delivered.size,
      duplicates: this.checker.duplicates,
      assumptionViolations: this.lease?.assumptionViolations ?? 0,
      lostWithCrash: losses.lostWithCrash,
      reportedLost: losses.reportedLost,
      outcomeUnknown: this.outcomeUnknown,
      faults: { ...this.faults },
      instances: this.checker.maxDecided,
      traceHash: (this.hash >>> 0).toString(16).padStart(8, '0'),
      ...(kv !== undefined ? { kv: kv.figures } : {}),
      ...(this.ckpt !== undefined ? { checkpoints: { ...this.ckpt.figures, crashesAt: { ...this.ckpt.figures.crashesAt } } } : {}),
    };
  }

  private handle(ev: SimEvent): void {
    switch (ev.k) {
      case 'msg': {
        const node = this.nodes[ev.to] as SimNode;
        if (!node.up || node.role === null) return;
        const msg = ev.msg;
        this.step(node, (role, out) => role.receive(ev.from, msg, out));
        // A value forwarded to this node's proposer waits for the end of the turn like one
        // submitted here (evpaxos's pump steps end-of-batch after every round of inputs).
        if (msg.type === 'client_value') this.endOfBatchSoon(node);
        return;
      }
      case 'digest': {
        const node = this.nodes[ev.to] as SimNode;
        if (!node.up || node.role === null) return;
        const msg = ev.msg;
        this.step(node, (role, out) => (role as ReplicaRole).receiveDigest(ev.from, msg, out));
        return;
      }
      case 'tick': {
        const node = this.nodes[ev.node] as SimNode;
        if (!node.up || node.incarnation !== ev.inc) return;
        node.lastTick = this.clock(node);
        this.step(node, (role, out) => role.tick(node.lastTick, out));
        this.queue.push(this.now + this.options.tickMs, ev);
        return;
      }
      case 'end-of-batch': {
        const node = this.nodes[ev.node] as SimNode;
        node.endOfBatchDue = false;
        if (!node.up || node.incarnation !== ev.inc) return;
        this.step(node, (role, out) => (role as ProposerRole).endOfBatch?.(out));
        return;
      }
      case 'sync':
        this.sync(this.nodes[ev.node] as SimNode, ev.inc);
        return;
      case 'submit':
        this.submit(ev.client, ev.seq);
        return;
      case 'crash':
        if (this.healed) return;
        this.crashSomeone();
        this.queue.push(this.now + this.between(0.5, 1.5, this.crashInterval()), ev);
        return;
      case 'restart': {
        const node = this.nodes[ev.node] as SimNode;
        if (!node.up) this.start(node);
        return;
      }
      case 'partition':
        if (this.healed) return;
        this.partition();
        this.queue.push(this.now + this.between(0.5, 1.5, this.options.partitionEveryMs), ev);
        return;
      case 'resign':
        if (this.healed) return;
        this.resignLeader();
        this.queue.push(this.now + this.resigns.between(Math.floor(this.options.resignEveryMs / 2), Math.floor((this.options.resignEveryMs * 3) / 2)), ev);
        return;
      case 'unpartition': {
        if (this.healed) return;
        for (const link of ev.links) this.cut[link] = Math.max(0, (this.cut[link] as number) - 1);
        const n = this.nodes.length;
        this.observe?.({ kind: 'unpartition', time: this.now, links: ev.links.map((l) => [Math.floor(l / n), l % n] as const) });
        this.reconnect(ev.links);
        return;
      }
      case 'connected': {
        const node = this.nodes[ev.node] as SimNode;
        const acceptor = this.nodes[ev.peer] as SimNode;
        if (!node.up || node.role === null || node.incarnation !== ev.inc || !this.listening(acceptor) || acceptor.incarnation !== ev.peerInc || !this.linked(node, acceptor)) return;
        this.faults.connections++;
        // Acceptors are the first nodes: an acceptor's index is its id, the peer id a dialled
        // connection has in evpaxos (and what 'peer' sends are routed by here).
        this.step(node, (role, out) => (role as { acceptorConnected?(peer: number, out: Effects): void }).acceptorConnected?.(acceptor.index, out));
        return;
      }
      case 'trim':
        this.trim();
        this.queue.push(this.now + this.options.trimEveryMs, ev);
        return;
      case 'heal':
        this.heal();
        return;
      case 'liveness':
        if (this.livenessGap() === undefined) this.done = true;
        else this.queue.push(this.now + 100, ev);
        return;
      case 'kv':
        this.kv?.handle(ev.ev);
        return;
      case 'ckpt':
      case 'fio':
      case 'snap':
        this.ckpt?.handle(ev);
        return;
      case 'rejoin':
        this.rejoinMessage(ev.to, ev.from, ev.msg);
        return;
      case 'rejoin-retry': {
        const node = this.nodes[ev.node] as SimNode;
        if (!node.up || node.incarnation !== ev.inc || !this.rejoining.has(node.index)) return;
        this.askToRejoin(node);
        this.queue.push(this.now + 200, ev);
        return;
      }
    }
  }

  // ---- nodes ----

  private start(node: SimNode): void {
    if (node.incarnation > 0) this.faults.restarts++;
    node.up = true;
    node.incarnation++;
    node.senders = sendersOf(node.kind, node.roleId, node.incarnation);
    this.observe?.({ kind: 'up', time: this.now, node: node.index, name: node.name, role: node.kind });
    if (node.kind === 'replica' && node.disk.fence === REJOIN_PENDING) {
      // It lost its storage: it starts nothing until every other replica has answered (rejoin.ts).
      this.rejoining.set(node.index, { inc: node.incarnation, answers: new Map() });
      this.askToRejoin(node);
      this.queue.push(this.now + 200, { k: 'rejoin-retry', node: node.index, inc: node.incarnation });
      return;
    }
    this.startRole(node);
  }

  /**
   * Connections come up a hop after a node starts: from it to every acceptor it reaches, and to an
   * acceptor from every node that dials it (evpaxos processes redial until they connect).
   */
  private connectAll(node: SimNode): void {
    if (node.kind === 'acceptor' || node.kind === 'replica') for (const i of this.subscriberNodes) this.connectLater(this.nodes[i] as SimNode, node);
    if (node.kind !== 'acceptor') for (const i of this.acceptorNodes) this.connectLater(node, this.nodes[i] as SimNode);
  }

  /** The connections between the ends of `links` that are whole again come up (a hop later). */
  private reconnect(links: readonly number[]): void {
    const n = this.nodes.length;
    const pairs = new Set<number>();
    for (const l of links) {
      const a = Math.floor(l / n);
      const b = l % n;
      pairs.add(Math.min(a, b) * n + Math.max(a, b));
    }
    for (const p of pairs) {
      const a = this.nodes[Math.floor(p / n)] as SimNode;
      const b = this.nodes[p % n] as SimNode;
      this.connectLater(a, b);
      this.connectLater(b, a);
    }
  }

  /** `dialler`'s connection to acceptor `acceptor` comes up a hop from now, if both are up and linked both ways. */
  private connectLater(dialler: SimNode, acceptor: SimNode): void {
    if (!this.options.connections || dialler === acceptor || dialler.kind === 'acceptor' || (acceptor.kind !== 'acceptor' && acceptor.kind !== 'replica')) return;
    if (!dialler.up || !this.listening(acceptor) || !this.linked(dialler, acceptor)) return;
    const at = this.now + this.options.delayMs + this.net.below(this.options.jitterMs + 1);
    this.queue.push(at, { k: 'connected', node: dialler.index, inc: dialler.incarnation, peer: acceptor.index, peerInc: acceptor.incarnation });
  }

  /** Whether `acceptor` takes connections: it is up and runs its role (a rejoining replica does not listen yet). */
  private listening(acceptor: SimNode): boolean {
    return acceptor.up && acceptor.role !== null;
  }

  /** Whether no cut stands between `a` and `b`, either way (a TCP connection needs both). */
  private linked(a: SimNode, b: SimNode): boolean {
    return !this.isCut(a.index, b.index) && !this.isCut(b.index, a.index);
  }

  /** Whether a partition cuts the directed link from node `from` to node `to`. */
  private isCut(from: number, to: number): boolean {
    return this.cut[from * this.nodes.length + to] !== 0;
  }

  private startRole(node: SimNode): void {
    const seed = (this.options.seed * 131 + node.index * 17 + node.incarnation) >>> 0;
    const d = node.disk;
    // Read back from the disk: bytes of the new incarnation's own.
    const records = [...d.records.values()].map(recordCopy);
    // With a memory window, an acceptor forgets older records once its disk holds them and reads
    // them back from it: a new archive per incarnation, which holds what was read back. It is
    // given what LMDB storage's load gives: the records above a cut (the acceptor's window below
    // the highest, or in half the seeds a cut closer to it, as a load window may be smaller, and
    // within the acceptor's bytes), the cut, the highest instance of all of them and the highest
    // ballot of those given (the archive reads the older ones' when a rejoining replica first asks).
    const windowed = this.options.memoryWindow > 0 && (node.kind === 'acceptor' || node.kind === 'replica');
    let acceptorState: SimAcceptorRecovered = { trimIid: d.trimIid, records, fence: d.fence };
    node.archive = undefined;
    if (windowed) {
      // Through the StartWindow LMDB storage's load uses, newest first; memory bytes 0 is the core's default.
      const window = new StartWindow(loadWindowOf(this.options.seed, this.options.memoryWindow), this.options.memoryBytes > 0 ? this.options.memoryBytes : DEFAULT_MEMORY_BYTES, d.trimIid);
      for (const r of [...records].sort((a, b) => b.iid - a.iid)) if (!window.push(r)) break;
      const { records: given, recordsAbove, highestIid, maxBallot } = window.result();
      const archive = new DiskArchive(d, given, archiveHandsAt(this.options.seed), recordsAbove > d.trimIid ? recordsAbove : 0);
      node.archive = archive;
      acceptorState = { trimIid: d.trimIid, records: given, fence: d.fence, archive, highestIid, maxBallot, recordsAbove };
    }
    switch (node.kind) {
      case 'acceptor':
        node.role = this.roles.acceptor(node.roleId, acceptorState);
        break;
      case 'proposer':
        node.role = this.roles.proposer(node.roleId, { roundFloor: d.roundFloor }, seed);
        // Its learner starts from scratch, and so does the KV state it keeps for lease reads.
        this.kv?.started(node.index, 0);
        break;
      case 'learner': {
        const learner = this.roles.learner();
        // The application restarts from its checkpoint; with nothing trimmed yet, sometimes it
        // starts from scratch instead and must catch up the whole log through repeat (B8). With
        // checkpoints on, it restores its newest durable checkpoint (none: from the beginning).
        const fresh = this.ckpt === undefined && this.globalTrim === 0 && node.incarnation > 1 && this.chaos.chance(1, 2);
        const restored = this.ckpt?.start(node.index);
        const from = restored !== undefined ? restored.from : fresh ? 0 : node.checkpoint;
        // A following learner takes leadership's state from its checkpoint (without one it knows
        // it skipped master operations: see Leadership.jump).
        if (from > 0) learner.setInstanceId(from, undefined, restored?.master);
        if (restored !== undefined) learner.restoreReports(restored.reports, from);
        node.expectedNext = from + 1;
        node.stream = this.checker.openStream(`${node.name} (incarnation ${node.incarnation})`, from);
        node.role = learner;
        this.kv?.started(node.index, from);
        break;
      }
      case 'replica': {
        const replica = this.roles.replica(node.roleId, { acceptor: acceptorState, proposer: { roundFloor: d.roundFloor, fence: d.fence } }, seed);
        const restored = this.ckpt?.start(node.index);
        if (restored !== undefined) {
          node.checkpoint = restored.from;
          replica.restoreReports(restored.reports, restored.from);
        }
        if (node.checkpoint > 0) {
          clearEffects(this.out);
          // Leadership's state as of the checkpoint, kept in it (with checkpoints on, the one its
          // durable checkpoint file carries; else the ideal checkpoint's, as of its last decision).
          const master = restored !== undefined ? restored.master : node.checkpointMaster;
          replica.step({ kind: 'set-instance-id', iid: node.checkpoint, ...(master !== undefined ? { master } : {}) }, this.out);
          clearEffects(this.out);
        }
        node.expectedNext = node.checkpoint + 1;
        node.stream = this.checker.openStream(`${node.name} (incarnation ${node.incarnation})`, node.checkpoint);
        node.role = replica;
        this.kv?.started(node.index, node.checkpoint);
        break;
      }
    }
    this.queue.push(this.now + this.chaos.below(this.options.tickMs), { k: 'tick', node: node.index, inc: node.incarnation });
    this.connectAll(node);
  }

  /** A planned handover: every node that holds the lease by its own clock is asked to drop it. */
  private resignLeader(): void {
    for (const node of this.nodes) {
      const role = node.role;
      if (!node.up || !isLeaderRole(role) || !role.isLeader(this.clock(node))) continue;
      this.faults.resignations++;
      this.observe?.({ kind: 'resign', time: this.now, node: node.index });
      this.step(node, (r, out) => (r as SimRole & LeaderRole).dropLeadership(out));
    }
  }

  private crashSomeone(): void {
    const up = this.nodes.filter((n) => n.up);
    if (up.length === 0) return;
    this.crash(this.chaos.pick(up));
  }

  private crash(node: SimNode): void {
    if (!node.up) return;
    if ((node.kind === 'proposer' || node.kind === 'replica') && node.role !== null) {
      // Whatever it holds now dies with it: the only loss a client is not told about.
      for (const v of (node.role as ProposerRole).heldValues()) this.checker.heldAtCrash(v);
    }
    node.up = false;
    node.incarnation++;
    node.role = null;
    node.stream = null;
    // What it handed to the disk and the crash loses must not be read back, nor taken for held:
    // the next incarnation gets an archive of its own.
    node.archive = undefined;
    this.observe?.({ kind: 'crash', time: this.now, node: node.index });
    // Writes reach the disk in order; a crash lets a prefix of the unsynced batches through (a
    // sync that finished just before the crash) and loses the rest, with every send they held.
    const d = node.disk;
    const survive = this.chaos.below(d.pending.length + 1);
    for (let i = 0; i < survive; i++) for (const r of d.pending[i]?.persist ?? []) this.applyDurable(node, r);
    d.pending = [];
    d.syncScheduled = false;
    this.rejoining.delete(node.index);
    const wiped = this.ckpt?.has(node.index) === true && this.ckpt.crashed(node.index);
    let lostAcceptor = false;
    const ckpt = this.ckpt as Checkpoints;
    const fencesPassed = () => this.nodes.every((n) => n.disk.fence === 0 || (n.disk.fence !== REJOIN_PENDING && ckpt.checkpointAtLeast(n.disk.fence, node.index)));
    if (wiped && node.kind === 'replica' && this.options.wipeAcceptors && fencesPassed()) {
      // Its whole data directory: the acceptor's promises and votes, and the round floor kept with
      // them. (The oracle remembers what was durable: the rejoined acceptor is held to it.) Only
      // once the cluster passed every fence: another node holds a checkpoint above it (README's
      // rule for operators). Until then a fenced replica cannot vote at or below its fence, and
      // losing a second acceptor can leave those instances without a quorum to decide them or to
      // learn them from (in 3 replicas; everyone then waits for a checkpoint nobody can make). The
      // fenced replica itself included: wiped again before anything above its fence was recorded
      // elsewhere, it may have used ballots there that only its own, lost, acceptor saw, and its
      // next rejoin would compute the same fence and round floor and use them again (rejoin.ts;
      // seeds 15 and 111 with acceptor wipes forced on every seed and leadership).
      d.records.clear();
      d.trimIid = 0;
      d.roundFloor = 0;
      d.fence = REJOIN_PENDING;
      lostAcceptor = true;
      ckpt.figures.acceptorWipes++;
    }
    this.faults.crashes++;
    // After losing its storage a replica restarts only once its earlier messages have landed (a
    // new disk takes longer than a restart), so none of them is taken for the new incarnation's.
    this.queue.push(this.now + this.chaos.between(lostAcceptor ? 300 : 20, 1000), { k: 'restart', node: node.index });
  }

  /** Runs one input on a node and carries out its effects: persist, then send, then deliver. */
  private step(node: SimNode, input: (role: SimRole, out: Effects) => void): void {
    const out = this.out;
    clearEffects(out);
    // Whether it led as the step began, by its own clock: what the core knew when it acted (the
    // step may itself teach it that another node took over).
    const led = this.lease !== undefined && isLeaderRole(node.role) && node.role.isLeader(node.lastTick);
    input(node.role as SimRole, out);
    if (this.kv !== undefined && node.kind !== 'acceptor') this.kv.decided(node.index, (node.role as LearnerRole | ReplicaRole).lastDecided);
    // Judged when the proposal is made (it may leave later, once its writes are durable).
    if (this.lease !== undefined && !led) for (const env of out.send) if (env.msg.type === 'accept') this.onlyLeaderProposes(node, env.msg);
    this.countEvents(node, out);
    if (node.kind === 'learner' || node.kind === 'replica') this.learned(node);
    else if (out.deliver.length > 0) this.checker.fail(`${node.name} delivered values to an application it does not have`);
    if (this.masters !== undefined) this.checkMaster(this.masters, node);
    if (this.ckpt?.has(node.index)) this.ckpt.afterStep(node.index, out);
    // Applications write into what they were delivered once they have used it (the values
    // workload's; KV state machines keep what they apply): nothing the core still holds may be
    // those bytes, or a record, a proposal or a held value changes under it.
    if (this.kv === undefined) for (const d of out.deliver) d.value.fill(SCRIBBLE);
    const d = node.disk;
    if (out.persist.length > 0 || d.pending.length > 0) {
      d.pending.push({ persist: out.persist.slice(), send: out.send.slice() });
      // Handed to storage now (the very objects the acceptor holds, which it may forget from now
      // on): its reads see them before the sync, as LMDB's see the commit under way.
      if (node.archive?.handAt === 'write') node.archive.handedOver(out.persist);
      if (!d.syncScheduled) {
        d.syncScheduled = true;
        this.queue.push(this.now + this.options.diskMs, { k: 'sync', node: node.index, inc: node.incarnation });
      }
    } else {
      for (const env of out.send) this.send(node, env);
    }
  }

  /** A learner or replica stepped: check what it decided and what its application received. */
  private learned(node: SimNode): void {
    const role = node.role;
    const installed = (role as LearnerRole | ReplicaRole).lastInstalled;
    if (installed > 0) {
      // A checkpoint fetched from a peer replaced the application's state: this incarnation's
      // application goes on from there (never backwards: sim-checkpoints checks that).
      node.expectedNext = installed + 1;
      if (installed > node.checkpoint) node.checkpoint = installed;
      node.stream = this.checker.openStream(`${node.name} (incarnation ${node.incarnation}, from the checkpoint of instance ${installed})`, installed);
    }
    const decided = (role as LearnerRole | ReplicaRole).lastDecided;
    for (const d of decided) {
      this.observe?.({ kind: 'decide', time: this.now, node: node.index, iid: d.iid, value: d.value });
      this.checker.decided(node.name, node.expectedNext, d.iid, d.value);
      node.expectedNext = d.iid + 1;
      if (d.iid > node.checkpoint) node.checkpoint = d.iid;
    }
    // The application checkpoints leadership's state with its own (a real one would write both
    // in one file): a replica restored from it can judge master operations at once.
    if (decided.length > 0 && node.kind === 'replica') node.checkpointMaster = (role as ReplicaRole).masterState?.();
    const stream = node.stream as DeliveryStream;
    for (const d of this.out.deliver) {
      stream.deliver(d);
      if (d.iid > this.deliveredThrough) this.deliveredThrough = d.iid;
    }
    stream.settle(node.expectedNext - 1);
  }

  private countEvents(node: SimNode, out: Effects): void {
    for (const e of out.events) {
      // A trim by checkpoints, computed from the reports in instances 1..e.iid (its trim message
      // goes out in this step): checked against the reports the oracle reads there.
      if (e.kind === 'checkpoint-trim' && this.ckpt?.has(node.index)) this.ckpt.trimSent(`${node.name} (incarnation ${node.incarnation})`, e.trimIid, e.iid);
      if (e.kind !== 'value-lost') continue;
      // Given up knowingly (counted), so no longer owed; if it was chosen after all, it is
      // delivered anyway and the checker sees that.
      if (e.reason === 'outcome-unknown') this.outcomeUnknown++;
      this.checker.reportedLost(e.value);
      for (const v of this.checker.clientValues(e.value)) {
        const id = valueId(v);
        if (id !== undefined && !this.checker.delivered.has(id)) this.owed.delete(id);
      }
    }
  }

  private sync(node: SimNode, inc: number): void {
    if (!node.up || node.incarnation !== inc) return;
    const d = node.disk;
    const batches = d.pending;
    d.pending = [];
    d.syncScheduled = false;
    for (const b of batches) for (const r of b.persist) this.applyDurable(node, r);
    if (node.archive?.handAt === 'sync') for (const b of batches) node.archive.handedOver(b.persist);
    for (const b of batches) for (const env of b.send) this.send(node, env);
  }

  private applyDurable(node: SimNode, r: PersistRecord): void {
    const d = node.disk;
    switch (r.kind) {
      case 'record':
        if (r.iid <= d.trimIid) return;
        this.checker.durableWrite(node.roleId, r);
        // The disk holds bytes of its own: what the process does to its record after the write
        // does not reach what a restart reads back.
        d.records.set(r.iid, recordCopy(r));
        return;
      case 'trim':
        if (r.iid <= d.trimIid) return;
        for (const iid of d.records.keys()) if (iid <= r.iid) d.records.delete(iid);
        d.trimIid = r.iid;
        this.ckpt?.trimDurable(node.name, r.iid);
        return;
      case 'round-floor':
        if (r.round < d.roundFloor) this.checker.fail(`${node.name}: durable round floor went down to ${r.round}`);
        d.roundFloor = r.round;
        return;
      case 'learned':
        // A split proposer's restart point; the simulator restarts proposers from the round floor only.
        return;
      case 'fence':
        d.fence = r.iid;
        return;
    }
  }

  // ---- network ----

  private send(from: SimNode, env: Envelope): void {
    const s = from.senders;
    const sender = from.kind === 'replica' ? (isAcceptorReply(env.msg) ? s.acceptor : s.proposer) : s[from.kind];
    this.checker.sent(sender, env.msg);
    switch (env.to) {
      case 'acceptors':
        for (const to of this.acceptorNodes) this.transmit(from.index, to, env.msg);
        return;
      case 'subscribers': {
        // An acceptor's broadcast accepted goes as a digest vote to the other replicas, which
        // hold the values of the accepts their acceptors received (evpaxos: to the peers whose
        // hello says so); its own learner gets it whole, in memory, as in evpaxos.
        const msg = env.msg;
        // Only between replicas that both have them on (evpaxos: the sender's key, the receiver's hello).
        const digest = msg.type === 'accepted' && from.kind === 'replica' && digestsAt(this.options, from.roleId) ? digestOf(msg) : undefined;
        for (const to of this.subscriberNodes) {
          if (digest !== undefined && to !== from.index && digestsAt(this.options, (this.nodes[to] as SimNode).roleId)) this.transmitDigest(from.index, to, digest);
          else this.transmit(from.index, to, msg);
        }
        return;
      }
      case 'peer':
        this.transmit(from.index, env.peer, env.msg);
        return;
      case 'proposer': {
        const to = this.proposerNodes[env.proposer];
        if (to !== undefined) this.transmit(from.index, to, env.msg);
        return;
      }
      default:
        assertNever(env, 'envelope');
    }
  }

  /**
   * Leadership: a proposer that did not hold the lease (as its core last knew the time) sends no
   * accept of client values of its own. It may re-send an accept it sent while it led, or propose
   * a value phase 1 found in the instance (P2c): both were proposed there before.
   */
  private onlyLeaderProposes(from: SimNode, msg: { readonly iid: number; readonly ballot: number; readonly value: Uint8Array }): void {
    if (!isLeaderRole(from.role)) return;
    if (this.checker.clientValues(msg.value).length === 0) return;
    if (this.checker.proposedBefore(msg.iid, msg.ballot, msg.value)) return;
    this.checker.fail(`${from.name} proposed client values in iid ${msg.iid} (ballot ${msg.ballot}) while it does not hold the leader lease`);
  }

  /**
   * Leadership on: a node that knows leadership's state holds exactly the chosen log's as of the
   * last instance it learned: whatever it restored (a checkpoint, a snapshot) and skipped (a trim
   * point), it judges the next master operation as everyone else does, and knows the current
   * master version (MasterReference).
   */
  private checkMaster(masters: MasterReference, node: SimNode): void {
    const role = node.role as (SimRole & { masterState?(): MasterState | undefined; readonly nextIid?: number; readonly learner?: { readonly nextIid: number } }) | null;
    const held = role?.masterState?.();
    if (role === null || held === undefined) return;
    const learned = (role.learner?.nextIid ?? role.nextIid ?? 1) - 1;
    const why = masters.mismatch(`${node.name} (incarnation ${node.incarnation})`, learned, held);
    if (why !== undefined) this.checker.fail(why);
  }

  /** The lease invariants, after every event, each process on its own clock (see LeaseChecker). */
  private checkLeases(lease: LeaseChecker): void {
    const views: LeaseView[] = [];
    for (const node of this.nodes) {
      const role = node.role;
      if (!node.up || !isLeaderRole(role)) continue;
      const now = this.clock(node);
      const leads = role.isLeader(now);
      views.push({
        name: node.name,
        leads,
        version: leads ? (role.leader(now)?.version ?? 0) : 0,
        canRead: role.canReadLocally(now),
        applied: role.learner.nextIid - 1,
      });
    }
    lease.check(views, this.deliveredThrough);
  }

  /** What `node`'s clock reads now. */
  private clock(node: SimNode): number {
    return Math.floor(node.clockOffset + node.clockRate * this.now);
  }

  private transmit(from: number, to: number, msg: Message): void {
    const self = from === to;
    if (!self && this.isCut(from, to)) {
      this.faults.dropped++;
      this.observe?.({ kind: 'drop', time: this.now, from, to, msg, cause: 'partition' });
      return;
    }
    const o = this.options;
    if (!self && this.lossy && this.net.below(1000) < o.dropPerMille) {
      this.faults.dropped++;
      this.observe?.({ kind: 'drop', time: this.now, from, to, msg, cause: 'loss' });
      return;
    }
    const arrives = this.now + o.delayMs + this.net.below(o.jitterMs + 1);
    this.queue.push(arrives, { k: 'msg', to, from, msg: ownCopy(msg, self) });
    this.observe?.({ kind: 'send', time: this.now, from, to, msg, arrives, duplicate: false });
    if (!self && this.lossy && this.net.below(1000) < o.dupPerMille) {
      this.faults.duplicated++;
      const again = this.now + o.delayMs + this.net.below(o.jitterMs * 4 + 20);
      this.queue.push(again, { k: 'msg', to, from, msg: ownCopy(msg, false) });
      this.observe?.({ kind: 'send', time: this.now, from, to, msg, arrives: again, duplicate: true });
    }
  }

  /** A digest vote: the same network as the others (cuts, loss, duplication, delay). */
  private transmitDigest(from: number, to: number, msg: AcceptedDigestMsg): void {
    if (this.isCut(from, to)) {
      this.faults.dropped++;
      this.observe?.({ kind: 'drop', time: this.now, from, to, msg, cause: 'partition' });
      return;
    }
    const o = this.options;
    if (this.lossy && this.net.below(1000) < o.dropPerMille) {
      this.faults.dropped++;
      this.observe?.({ kind: 'drop', time: this.now, from, to, msg, cause: 'loss' });
      return;
    }
    const arrives = this.now + o.delayMs + this.net.below(o.jitterMs + 1);
    this.queue.push(arrives, { k: 'digest', to, from, msg });
    this.observe?.({ kind: 'send', time: this.now, from, to, msg, arrives, duplicate: false });
    if (this.lossy && this.net.below(1000) < o.dupPerMille) {
      this.faults.duplicated++;
      const again = this.now + o.delayMs + this.net.below(o.jitterMs * 4 + 20);
      this.queue.push(again, { k: 'digest', to, from, msg });
      this.observe?.({ kind: 'send', time: this.now, from, to, msg, arrives: again, duplicate: true });
    }
  }

  /** A snapshot message: the same network as the others (cuts, loss, duplication, delay). */
  private transmitSnapshot(from: number, to: number, msg: SnapshotMessage): void {
    if (from === to) return;
    // Counted apart from LibPaxos3's messages (FaultCounts, which the observer sees one by one).
    const figures = (this.ckpt as Checkpoints).figures;
    if (this.isCut(from, to)) {
      figures.extensionDropped++;
      return;
    }
    const o = this.options;
    if (this.lossy && this.net.below(1000) < o.dropPerMille) {
      figures.extensionDropped++;
      return;
    }
    this.queue.push(this.now + o.delayMs + this.net.below(o.jitterMs + 1), { k: 'snap', to, from, msg });
    if (this.lossy && this.net.below(1000) < o.dupPerMille) {
      figures.extensionDuplicated++;
      this.queue.push(this.now + o.delayMs + this.net.below(o.jitterMs * 4 + 20), { k: 'snap', to, from, msg });
    }
  }

  /**
   * A node's checkpoint report goes into the log: a replica proposes it itself; a split learner's
   * application hands it to the first live proposer, as a client would (none up: this report is
   * lost, the next checkpoint reports again). One proposer for all reports: spreading them over
   * proposers that have no client values left would only make them compete for instances.
   */
  private report(node: SimNode, value: Uint8Array): void {
    if (node.kind === 'replica') {
      if (node.up && node.role !== null) this.step(node, (role, out) => (role as ProposerRole).propose(value, out));
      return;
    }
    for (const i of this.proposerNodes) {
      const p = this.nodes[i] as SimNode;
      if (!p.up || p.role === null) continue;
      this.step(p, (role, out) => (role as ProposerRole).propose(value, out));
      return;
    }
  }

  // ---- rejoin (paxos-core's rejoin.ts) ----

  private askToRejoin(node: SimNode): void {
    const r = this.rejoining.get(node.index);
    if (r === undefined) return;
    for (const i of this.acceptorNodes) if (i !== node.index && !r.answers.has(i)) this.transmitRejoin(node.index, i, { type: 'rejoin_query' });
  }

  private rejoinMessage(to: number, from: number, msg: RejoinMessage): void {
    const node = this.nodes[to] as SimNode;
    if (!node.up) return;
    if (msg.type === 'rejoin_query') {
      // Only a replica that runs answers: one rejoining itself knows nothing yet.
      if (node.role === null || node.kind !== 'replica') return;
      // Unknown while its archive still reads the older records' ballots: the query comes again.
      const info = (node.role as ReplicaRole).acceptor.rejoinInfo;
      if (info !== undefined) this.transmitRejoin(to, from, { type: 'rejoin_info', ...info });
      return;
    }
    const r = this.rejoining.get(to);
    if (r === undefined || r.inc !== node.incarnation) return;
    r.answers.set(from, { highest: msg.highest, maxBallot: msg.maxBallot });
    const maxAccepting = this.options.batchMaxValues > 0 ? 2 : 1024;
    const point = rejoinPoint([...r.answers.values()], this.acceptorNodes.length - 1, rejoinMargin(this.options.preexecWindow, maxAccepting, this.options.leadership));
    if (point === undefined) return;
    this.rejoining.delete(to);
    node.disk.fence = point.fence;
    node.disk.roundFloor = Math.max(node.disk.roundFloor, point.roundFloor);
    if (this.ckpt !== undefined) this.ckpt.figures.rejoins++;
    this.startRole(node);
  }

  private transmitRejoin(from: number, to: number, msg: RejoinMessage): void {
    if (this.isCut(from, to) || (this.lossy && this.net.below(1000) < this.options.dropPerMille)) {
      (this.ckpt as Checkpoints).figures.extensionDropped++;
      return;
    }
    this.queue.push(this.now + this.options.delayMs + this.net.below(this.options.jitterMs + 1), { k: 'rejoin', to, from, msg });
  }

  /** Isolate one node, split in two, or cut one direction only; it heals by itself later. */
  private partition(): void {
    const n = this.nodes.length;
    const links: number[] = [];
    const kind = this.chaos.below(3);
    const inA = new Array<boolean>(n).fill(false);
    if (kind === 0) inA[this.chaos.below(n)] = true;
    else for (let i = 0; i < n; i++) inA[i] = this.chaos.chance(1, 2);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a === b || !inA[a] || inA[b]) continue;
        links.push(a * n + b);
        if (kind !== 2) links.push(b * n + a);
      }
    }
    for (const l of links) this.cut[l] = (this.cut[l] as number) + 1;
    this.faults.partitions++;
    this.observe?.({ kind: 'partition', time: this.now, links: links.map((l) => [Math.floor(l / n), l % n] as const) });
    // Up to one partition interval long, so that partitions overlap now and then, not always.
    this.queue.push(this.now + this.chaos.between(50, this.options.partitionEveryMs), { k: 'unpartition', links });
  }

  // ---- workload ----

  private submit(client: number, seq: number): void {
    const prefer = client % this.proposerNodes.length;
    for (let k = 0; k < this.proposerNodes.length; k++) {
      const node = this.nodes[this.proposerNodes[(prefer + k) % this.proposerNodes.length] as number] as SimNode;
      if (!node.up || node.role === null) continue;
      this.proposeAt(node, makeValue(client, seq, seq % 7));
      return;
    }
    // No proposer is up: the client tries again a little later.
    this.queue.push(this.now + 50, { k: 'submit', client, seq });
  }

  /** A client's value (the plain workload's or a KV client's), submitted at a node that is up. */
  private proposeAt(node: SimNode, value: Uint8Array): void {
    this.observe?.({ kind: 'submit', time: this.now, node: node.index, value });
    this.checker.submittedValue(value);
    if (this.healed) this.owed.add(valueId(value) as number);
    this.step(node, (role, out) => (role as ProposerRole).propose(value, out));
    this.endOfBatchSoon(node);
  }

  /**
   * Like evpaxos's pump: the values that reached a node's proposer at this moment are bound
   * together once the events already queued for it ran (other submissions, messages), as at the
   * end of a turn.
   */
  private endOfBatchSoon(node: SimNode): void {
    if (this.options.batchMaxValues > 0 && !node.endOfBatchDue) {
      node.endOfBatchDue = true;
      this.queue.push(this.now, { k: 'end-of-batch', node: node.index, inc: node.incarnation });
    }
  }

  /** Trim acceptors up to what every learner (crashed ones included) has delivered. */
  private trim(): void {
    let upTo = Infinity;
    for (const i of this.learnerNodes) upTo = Math.min(upTo, (this.nodes[i] as SimNode).expectedNext - 1);
    const live = this.learnerNodes.map((i) => this.nodes[i] as SimNode).filter((n) => n.up);
    if (!Number.isFinite(upTo) || upTo <= this.globalTrim || live.length === 0) return;
    const node = this.chaos.pick(live);
    this.globalTrim = upTo;
    this.step(node, (role, out) => {
      if (node.kind === 'replica') (role as ReplicaRole).step({ kind: 'trim', iid: upTo }, out);
      else (role as LearnerRole).trim(upTo, out);
    });
  }

  // ---- healing and liveness ----

  private heal(): void {
    this.healed = true;
    this.observe?.({ kind: 'heal', time: this.now });
    this.lossy = false;
    const cut: number[] = [];
    this.cut.forEach((c, l) => c > 0 && cut.push(l));
    this.cut.fill(0);
    this.reconnect(cut);
    for (const chosen of this.checker.chosen.values()) {
      for (const v of this.checker.clientValues(chosen)) {
        const id = valueId(v);
        if (id !== undefined) this.owed.add(id);
      }
    }
    for (const i of this.proposerNodes) {
      const node = this.nodes[i] as SimNode;
      if (!node.up || node.role === null) continue;
      for (const v of (node.role as ProposerRole).heldValues()) {
        // Checkpoint reports held are not client values: nobody is owed them.
        const id = valueId(v);
        if (id !== undefined) this.owed.add(id);
      }
    }
    for (const node of this.nodes) if (!node.up) this.start(node);
    this.queue.push(this.now + 100, { k: 'liveness' });
  }

  /** Why the run is not finished yet, or undefined when everything owed is delivered everywhere. */
  private livenessGap(): string | undefined {
    const c = this.checker;
    for (const id of this.owed) if (!c.delivered.has(id)) return `value ${describeValueId(id)} was never delivered`;
    // Every learner has learned what was chosen, up to what it could have heard of by now: an
    // instance chosen within the last sync, message delay and tick may still be on its way (with
    // a leader renewing its lease every few dozen ms, one always is at some learner, and a check
    // every 100 ms can keep landing in that window: seed 119 --drift-violation).
    const settled = this.now - (this.options.diskMs + this.options.delayMs + this.options.jitterMs + this.options.tickMs);
    let maxChosen = 0;
    for (const [iid, at] of c.chosenTime) if (iid > maxChosen && at <= settled) maxChosen = iid;
    for (const i of this.learnerNodes) {
      const node = this.nodes[i] as SimNode;
      if (node.expectedNext <= maxChosen) return `${node.name} is at iid ${node.expectedNext}, instance ${maxChosen} is chosen`;
    }
    for (const i of this.proposerNodes) {
      const node = this.nodes[i] as SimNode;
      const held = node.role === null ? [] : [...(node.role as ProposerRole).heldValues()];
      if (held.length > 0) return `${node.name} still holds ${held.length} value(s)`;
    }
    if (this.options.leadership && !this.proposerNodes.some((i) => {
      const node = this.nodes[i] as SimNode;
      return node.up && isLeaderRole(node.role) && node.role.isLeader(this.clock(node));
    })) {
      return 'no proposer holds the leader lease';
    }
    return this.kv?.gap();
  }

  // ---- misc ----

  private describeNodes(): string {
    let maxChosen = 0;
    for (const iid of this.checker.chosen.keys()) if (iid > maxChosen) maxChosen = iid;
    const parts = [`max chosen iid ${maxChosen}`];
    for (const node of this.nodes) {
      if (node.kind === 'acceptor') continue;
      const held = node.role === null ? 0 : [...((node.role as ProposerRole).heldValues?.() ?? [])].length;
      const next = `next iid ${node.expectedNext}${this.ckpt?.fetching(node.index) ? ' (fetching a snapshot)' : ''}`;
      parts.push(`${node.name}: ${node.kind === 'learner' ? next : node.kind === 'proposer' ? `holds ${held}` : `${next}, holds ${held}`}`);
    }
    return parts.join('; ');
  }

  private crashInterval(): number {
    return Math.max(1, Math.floor(this.options.crashEveryMs / this.nodes.length));
  }

  private between(lo: number, hi: number, mean: number): number {
    return Math.max(1, Math.floor(mean * lo + this.chaos.below(Math.floor(mean * (hi - lo)) + 1)));
  }

  private traceEvent(ev: SimEvent): void {
    let h = this.hash;
    const mix = (x: number) => {
      h = Math.imul(h ^ (x & 0xffff), 0x01000193);
      h = Math.imul(h ^ (x >>> 16), 0x01000193);
    };
    mix(this.now);
    mix(KIND_CODE[ev.k]);
    if (ev.k === 'msg') {
      mix(ev.to);
      mix(ev.from);
      mix(MESSAGE_CODE[ev.msg.type]);
      if ('iid' in ev.msg) mix(ev.msg.iid);
      if ('ballot' in ev.msg) mix(ev.msg.ballot);
    } else if (ev.k === 'digest') {
      mix(ev.to);
      mix(ev.from);
      mix(ev.msg.iid);
      mix(ev.msg.valueBallot);
    } else if (ev.k === 'tick' || ev.k === 'sync' || ev.k === 'ckpt' || ev.k === 'fio') {
      mix(ev.node);
    } else if (ev.k === 'snap' || ev.k === 'rejoin') {
      mix(ev.to);
      mix(ev.from);
    } else if (ev.k === 'rejoin-retry') {
      mix(ev.node);
    } else if (ev.k === 'connected') {
      mix(ev.node);
      mix(ev.peer);
    }
    this.hash = h;
  }
}

/**
 * The message as its receiver gets it: with bytes of its own, as over a wire, so that no node holds
 * bytes another one can change, and an application that writes into what it is delivered (see
 * `step`) reaches no other node. A replica's messages to itself are copied as evpaxos copies them
 * (network.ts's withOwnValue: accept, accepted, client_value; a promise reaches its own proposer
 * with the record's bytes, which the proposer only proposes again), so that the checks see the
 * sharing evpaxos has.
 */
function ownCopy(msg: Message, self: boolean): Message {
  switch (msg.type) {
    case 'promise':
      return self ? msg : { ...msg, value: msg.value.slice() };
    case 'accept':
    case 'accepted':
    case 'client_value':
      return { ...msg, value: msg.value.slice() };
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

function sendersOf(kind: Kind, roleId: number, incarnation: number): SimNode['senders'] {
  const name = `${kind} ${roleId}`;
  const aid = kind === 'acceptor' || kind === 'replica' ? { aid: roleId } : {};
  return {
    acceptor: { kind: 'acceptor', name, incarnation, ...aid },
    proposer: { kind: 'proposer', name, incarnation, ...aid },
    learner: { kind: 'learner', name, incarnation, ...aid },
  };
}

function isAcceptorReply(msg: Message): boolean {
  return msg.type === 'promise' || msg.type === 'accepted' || msg.type === 'preempted' || msg.type === 'acceptor_state';
}

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

import { randomInt } from 'node:crypto';
import {
  DEFAULT_MEMORY_BYTES,
  DEFAULT_MEMORY_WINDOW,
  ACCEPTED_DIGESTS_FEATURE,
  Acceptor,
  CheckpointSchedule,
  Learner,
  LearningProposer,
  MAX_UINT32,
  Replica,
  assertNever,
  encodeBatch,
  isUint32,
  newEffects,
  quorumSize,
  type CoreEvent,
  type Delivery,
  type Effects,
  type Envelope,
  type LeaderView,
  type LeadershipOptions,
  type LearnerOptions,
  type MasterState,
  type PeerId,
  type PersistRecord,
  type SnapshotEffect,
  type SnapshotIoResult,
  type SnapshotMessage,
  type AcceptedDigestMsg,
} from '@libpaxos/paxos-core';
import { CheckpointStore } from './checkpoint-store.js';
import { Checkpointing } from './checkpointing.js';
import { ConfigError, formatAddress, resolveConfig, type Address, type PaxosConfig } from './config.js';
import type { ExtensionMessage, HelloMsg } from './extensions.js';
import { RateLimitedLogger, SUMMARY_INTERVAL_MS, createLogger, type Logger } from './log.js';
import { MetricsServer, ProcessMetrics, type MetricSources, type MetricsOptions, type ProcessIdentity } from './metrics.js';
import { Network } from './network.js';
import { PendingProposals, isReservedValue, type Proposed } from './proposals.js';
import { Pump, type PumpedRole } from './pump.js';
import { mustRejoin, rejoin } from './rejoin.js';
import { RoundFile } from './round-file.js';
import type { StateMachine } from './state-machine.js';
import { StorageError, openStorage, type AcceptorStorage, type StoredState } from './storage.js';
import { transportFor, type Transport } from './transport.js';
import { VERSION } from './version.js';

/**
 * Called for every client value delivered, in order (LibPaxos3's deliver callback): its instance
 * and, with batching, its position in that instance's batch (0 otherwise).
 */
export type DeliverCallback = (iid: number, value: Uint8Array, index: number) => void;

export interface CommonOptions {
  /** A config with host names is resolved at start (`resolveConfig`). */
  readonly config: PaxosConfig;
  /**
   * Defaults to lines on stderr at the config's verbosity, in its `log-format` (LibPaxos3's lines,
   * or JSON). Either way repeated lines are limited (`RateLimitedLogger`).
   */
  readonly log?: Logger;
  /**
   * Serve `/metrics` (Prometheus) and `/healthz` on this port (0: any free one; see
   * `PaxosHandle.metricsUrl`). Default: from the config's `metrics-port`, if set (see
   * `PaxosConfig.metricsPort`); false: never.
   */
  readonly metrics?: MetricsOptions | false;
  /**
   * The process cannot go on: the disk failed (nothing of the failed write was sent), or the state
   * machine, a checkpoint's file step, the deliver callback or a step of the role threw; the role
   * has stopped. Given, it is the application's to close the handle; default: log it and set a
   * failing exit code after closing.
   */
  readonly onFatal?: (error: Error) => void;
  /**
   * Leadership (`leader yes`): called whenever the leader as this process sees it changes, with
   * the leader's id (undefined: no lease is known to hold) and the master version.
   */
  readonly onLeaderChange?: (leader: number | undefined, version: number) => void;
}

/**
 * The leader as a process sees it (`leader yes` in paxos.conf; with leadership off there is none
 * and nobody leads). Times are this process's `performance.now()`.
 */
export interface LeadershipApi {
  /** The leader now, with the master version and when its lease ends as this process counts it. */
  leader(): LeaderView | undefined;
  /** Whether this process holds the leader lease now. */
  isLeader(): boolean;
  /**
   * Whether a read of this process's applied state now is linearizable without a round trip
   * through the log: it holds the lease, has recovered what earlier leaders may have started and
   * has applied everything it proposed (handed it to the deliver callback, not only learned it).
   * Ask right before reading; the answer is for this instant.
   */
  canReadLocally(): boolean;
  /**
   * A planned handover (before a restart, say): give the lease up now and tell the others. This
   * replica does not campaign again for three leases unless another takes over first: in a group
   * whose other members cannot lead, that is three leases without a leader (it was one).
   */
  dropLeadership(): void;
}

export interface PaxosHandle {
  /** Flushes what is pending, closes connections and storage. */
  close(): Promise<void>;
  /** Where `/metrics` and `/healthz` are served (`http://127.0.0.1:9100`), or undefined. */
  readonly metricsUrl: string | undefined;
}

export interface LearnerHandle extends PaxosHandle, Pick<LeadershipApi, 'leader'> {
  /** Ask every acceptor to trim instances ≤ iid (1 to 2^32 − 1; anything else throws a RangeError). */
  trim(iid: number): void;
  /** Continue delivering after instance `iid` (e.g. from a checkpoint; 0 to 2^32 − 1, anything else throws a RangeError). */
  setInstanceId(iid: number): void;
  /**
   * The acceptors this process dials (its config's, in order), with whether each connection is up
   * now (a replica's own acceptor always is). A learner hears of an instance only from acceptors
   * it is connected to when they accept it: whoever submits values and waits for them (the
   * sample client) should first wait for these connections.
   */
  acceptors(): { readonly name: string; readonly up: boolean }[];
}

/** A proposer process: it takes part in leader election when `leader yes`. */
export type ProposerHandle = PaxosHandle & LeadershipApi;

export interface ReplicaHandle<R = undefined> extends LearnerHandle, LeadershipApi {
  /**
   * Submits a value as LibPaxos3 does: to the first replica, in config order, whose connection
   * is up, and forgets it. Returns false, and sends nothing, when the value is refused here: after
   * `close()`, for a value reserved for no-ops (empty), for one larger than `max-value-size`, or
   * when no replica is reachable. True says only that the value left: it may still be lost (the
   * replica dies, its queue is full); use `propose` to learn its fate.
   */
  submit(value: Uint8Array): boolean;
  /**
   * Submits a value as `submit` does and resolves when this replica delivers it, with its
   * instance and its position in that instance's batch (0 without batching). Rejects with an
   * Error saying why when the value is refused here (see `submit`; also when the local proposer's
   * queue is full or too many proposals are waiting), when the local proposer gives it up, and
   * on `close()`. Deliveries are matched by bytes: a proposal resolves with the first delivery of
   * its bytes after it was made (equal values resolve in the order they were proposed), so give
   * values a unique id when equal ones matter. A value sent to another replica that dies before
   * proposing it is never delivered: its promise waits until `close()` (add a timeout of your own).
   */
  propose(value: Uint8Array): Promise<Proposed<R>>;
}

/** Core timers (backoff, timeouts, repeat) are checked this often. */
const TICK_MS = 5;
/** A peer that lets this much pile up unread is disconnected. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * Redial delays: 50 ms first, doubling up to LibPaxos3's fixed 2 s, back to 50 ms after a
 * success; replicas started together find each other at once instead of up to 2 s late.
 */
const REDIAL = { firstMs: 50, maxMs: 2000 };
/** Proposals a replica handle waits for at most (as many as its proposer's queue holds). */
const MAX_PENDING_PROPOSALS = 1 << 17;

interface Wiring {
  readonly role: PumpedRole;
  /** Who this process is: for TLS, log lines and metrics. */
  readonly identity: ProcessIdentity;
  /** What the metrics read on scrape, besides the network. */
  readonly sources?: Omit<MetricSources, 'network'>;
  readonly listen?: Address;
  readonly dial?: readonly Address[];
  /** A replica's own index in `dial`: its own acceptor is reached in memory. */
  readonly self?: number;
  /** Split mode with leadership: the proposers a follower forwards client values to. */
  readonly proposers?: readonly Address[];
  readonly commit?: (records: readonly PersistRecord[]) => Promise<void> | undefined;
  readonly onDeliver?: DeliverCallback;
  readonly onEvent?: ((e: CoreEvent) => void) | undefined;
  /** The process stops (orderly close or disk failure), with a sentence saying why. */
  readonly onStop?: (why: string) => void;
  readonly closeStorage?: () => Promise<void>;
  /** Our hello (extensions.ts): sent on every connection dialled, and in answer to a peer's. */
  readonly hello: HelloMsg;
  /** An acceptor's broadcast accepted goes as a digest to peers whose hello takes it (`accepted-digests`). */
  readonly acceptedDigests?: boolean;
  readonly onExtension?: (from: PeerId, msg: ExtensionMessage) => void;
  readonly snapshot?: (e: SnapshotEffect) => void;
  readonly delivered?: () => void;
}

interface Wired {
  readonly pump: Pump;
  readonly network: Network;
  readonly close: () => Promise<void>;
  readonly metricsUrl: string | undefined;
  /** The process's metrics, when it serves them. */
  readonly metrics: ProcessMetrics | undefined;
}

async function wire(o: CommonOptions, config: PaxosConfig, w: Wiring, log: RateLimitedLogger): Promise<Wired> {
  let closed: Promise<void> | undefined;
  // Every connection of this process goes through one transport: plain TCP, or mutual TLS.
  let transport: Transport;
  let metricsAt: MetricsOptions | undefined;
  try {
    transport = transportFor(config, w.identity.name);
    metricsAt = metricsOptionsFor(o, config, w.identity, w.listen);
  } catch (e) {
    await w.closeStorage?.();
    if (log !== o.log) log.close();
    throw e;
  }
  const metrics = metricsAt === undefined ? undefined : new ProcessMetrics(w.identity, config.leader, transport.secure);
  let storageOpen = true;
  const network: Network = new Network({
    ...(w.listen !== undefined ? { listen: w.listen } : {}),
    ...(w.dial !== undefined ? { dial: w.dial } : {}),
    ...(w.self !== undefined ? { self: w.self } : {}),
    ...(w.proposers !== undefined ? { proposers: w.proposers } : {}),
    nodelay: config.tcpNodelay,
    maxValueSize: config.maxValueSize,
    maxQueuedBytes: MAX_QUEUED_BYTES,
    redial: REDIAL,
    log,
    transport,
    onMessage: (from, msg) => pump.receive(from, msg),
    hello: w.hello,
    acceptedDigests: w.acceptedDigests ?? false,
    acceptedDigestsMinValueSize: config.acceptedDigestsMinValueSize,
    ...(w.onExtension !== undefined ? { onExtension: w.onExtension } : {}),
    onAcceptorConnected: (peer) => pump.input((out) => w.role.acceptorConnected?.(peer, out)),
  });
  let server: MetricsServer | undefined;
  const closeStorage = async () => {
    storageOpen = false;
    await w.closeStorage?.();
  };
  const close = (): Promise<void> => {
    closed ??= (async () => {
      metrics?.stopping();
      w.onStop?.('the process was closed before the value was delivered');
      pump.stop();
      await pump.drain();
      await network.close();
      await closeStorage();
      await server?.close();
      if (log !== o.log) log.close();
    })();
    return closed;
  };
  const onDeliver = w.onDeliver;
  const commit = w.commit;
  /** A start that failed: what it opened is closed. */
  const abandon = async (): Promise<void> => {
    await network.close();
    await closeStorage();
    if (log !== o.log) log.close();
  };
  // The role's first tick runs in the constructor and throws to here: the process cannot start.
  let pump: Pump;
  try {
    pump = new Pump({
      role: w.role,
      ...(commit !== undefined ? { commit: metrics === undefined ? commit : timedCommit(commit, metrics) } : {}),
      send: metrics === undefined ? (env: Envelope) => route(network, env) : (env: Envelope) => (metrics.sent(env), route(network, env)),
      flushSends: () => network.writeOut(),
      routeLocal: () => network.routeLocal(),
      ...(onDeliver !== undefined || metrics !== undefined
        ? {
            deliver: (d: Delivery) => {
              metrics?.deliveredValues(1);
              onDeliver?.(d.iid, d.value, d.index);
            },
          }
        : {}),
      ...(w.delivered !== undefined ? { delivered: w.delivered } : {}),
      ...(w.snapshot !== undefined ? { snapshot: w.snapshot } : {}),
      ...(w.onEvent !== undefined ? { events: w.onEvent } : {}),
      ...(metrics !== undefined ? { observe: (events, from) => metrics.events(events, from) } : {}),
      log,
      peerName: (p) => network.peerName(p),
      tickMs: TICK_MS,
      // Every failure the process cannot go on after ends here, the pump stopped first (a node's
      // state machine and checkpoints halt it): metrics and health say so, then the application's
      // onFatal if it gave one, else the default (log, exit code 1, close).
      onFatal: (e) => {
        metrics?.failed(e, e instanceof StorageError);
        w.onStop?.(`the process stopped before the value was delivered: ${e.message}`);
        if (o.onFatal !== undefined) return o.onFatal(e);
        log.error(`${e.message}; stopping${e instanceof StorageError ? ' (nothing was sent for the writes that failed)' : ''}`);
        process.exitCode = 1;
        close().catch((e2: Error) => log.error(e2.message));
      },
    });
  } catch (e) {
    await abandon();
    throw e;
  }
  metrics?.attach({ network, ...w.sources, ...(w.closeStorage !== undefined ? { storageOpen: () => storageOpen } : {}) });
  try {
    await network.start();
    if (metrics !== undefined && metricsAt !== undefined) {
      server = await MetricsServer.start(metrics, metricsAt.host ?? '127.0.0.1', metricsAt.port, log);
      log.info(`Metrics on ${server.url}/metrics, health on ${server.url}/healthz`, { metrics: `${server.url}/metrics`, health: `${server.url}/healthz` });
    }
  } catch (e) {
    pump.stop();
    await abandon();
    throw e;
  }
  return { pump, network, close, metricsUrl: server?.url, metrics };
}

/** A commit that reports its time and size to the metrics. */
function timedCommit(commit: (records: readonly PersistRecord[]) => Promise<void> | undefined, metrics: ProcessMetrics) {
  return (records: readonly PersistRecord[]): Promise<void> | undefined => {
    const t = performance.now();
    const done = commit(records);
    if (done === undefined) {
      metrics.committed(records, (performance.now() - t) / 1000);
      return undefined;
    }
    return done.then(() => metrics.committed(records, (performance.now() - t) / 1000));
  };
}

/**
 * Where this process serves metrics: the caller's choice, or the config's `metrics-port` plus an
 * offset: acceptor or replica k on metrics-port + k, proposer k on metrics-port + 10 + k (so one
 * machine can run a whole test cluster); learners and clients only when asked (`metrics`), as
 * several may run on one machine. The host is the process's own config address, or 127.0.0.1.
 */
function metricsOptionsFor(o: CommonOptions, config: PaxosConfig, identity: ProcessIdentity, listen: Address | undefined): MetricsOptions | undefined {
  if (o.metrics === false) return undefined;
  const host = listen?.host ?? '127.0.0.1';
  if (o.metrics !== undefined) return { host, ...o.metrics };
  const base = config.metricsPort;
  if (base === undefined || identity.id === undefined) return undefined;
  const port = base + (identity.role === 'proposer' ? 10 : 0) + identity.id;
  if (port > 65535) throw new ConfigError(`${config.path}: metrics-port ${base} puts the metrics of ${identity.name} at port ${port}, past 65535; use a lower metrics-port`);
  return { host, port };
}

function route(network: Network, env: Envelope): void {
  switch (env.to) {
    case 'acceptors':
      network.toAcceptors(env.msg);
      return;
    case 'subscribers':
      network.toSubscribers(env.msg);
      return;
    case 'peer':
      network.toPeer(env.peer, env.msg);
      return;
    case 'proposer':
      network.toProposer(env.proposer, env.msg);
      return;
    default:
      assertNever(env, 'envelope');
  }
}

/**
 * The process's logger: the caller's, or lines on stderr in the config's format; either way
 * behind one limiter of repeated lines, which every line of the process goes through.
 */
function logger(o: CommonOptions, config: PaxosConfig, who: ProcessIdentity): RateLimitedLogger {
  const log =
    o.log instanceof RateLimitedLogger
      ? o.log
      : o.log !== undefined
        ? new RateLimitedLogger(o.log)
        : new RateLimitedLogger(createLogger(config.verbosity, undefined, { format: config.logFormat, role: who.role, ...(who.id !== undefined ? { id: who.id } : {}) }), SUMMARY_INTERVAL_MS, config.verbosity);
  for (const w of config.warnings) log.info(w);
  return log;
}

function requireAcceptors(config: PaxosConfig): void {
  if (config.acceptors.length === 0) throw new ConfigError(`${config.path}: no acceptor or replica lines; add one per acceptor, e.g. 'acceptor 0 127.0.0.1 8800'`);
}

function requireId(config: PaxosConfig, what: 'acceptor' | 'proposer' | 'replica', id: number, count: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= count) {
    throw new ConfigError(`${config.path}: there is no ${what} ${id}; the config has ${count} ${what}${count === 1 ? '' : 's'}${count > 0 ? ` (ids 0 to ${count - 1})` : ''}`);
  }
}

function storageFor(config: PaxosConfig, id: number, log: Logger): AcceptorStorage {
  const storage = openStorage(config, id, (line) => log.error(line));
  if (storage.kind === 'memory') {
    log.info('storage-backend memory: acceptor state is not durable; a restarted acceptor forgets its promises and accepted values (use storage-backend lmdb)');
  }
  return storage;
}

/** What an acceptor found on disk, for its start line. */
function recoveredNote(state: StoredState): string {
  if (state.records.length === 0) return state.trimIid > 0 ? `, trim point ${state.trimIid}` : '';
  const highest = state.highestIid ?? Math.max(...state.records.map((r) => r.iid));
  return `, recovered records up to instance ${highest} above trim point ${state.trimIid} (the newest ${state.records.length} in memory; older ones are read from disk when asked for)`;
}

/** LibPaxos3's evacceptor: listens on its config address, answers proposers and learners. */
export async function startAcceptor(o: CommonOptions & { readonly id: number }): Promise<PaxosHandle> {
  const { id } = o;
  requireId(o.config, 'acceptor', id, o.config.acceptors.length);
  const config = await resolveConfig(o.config);
  const me = config.acceptors[id] as Address;
  const identity: ProcessIdentity = { role: 'acceptor', id, name: me.name };
  const log = logger(o, config, identity);
  const storage = storageFor(config, id, log);
  const state = storage.load(DEFAULT_MEMORY_WINDOW, DEFAULT_MEMORY_BYTES);
  const role = new Acceptor({ id }, state);
  const { close, metricsUrl } = await wire(
    o,
    config,
    {
      role,
      identity,
      sources: { acceptor: role },
      listen: me,
      commit: (r) => storage.commit(r),
      closeStorage: () => storage.close(),
      hello: { type: 'hello', version: VERSION, role: 'acceptor', id, features: [] },
      // Replicas that dial this acceptor may take its accepted messages as digests.
      acceptedDigests: config.acceptedDigests,
    },
    log,
  );
  log.info(
    `Acceptor ${id} listening on ${formatAddress(me)}${tlsNote(config)}, ${storage.kind} storage${recoveredNote(state)}`,
    { address: formatAddress(me), name: me.name, storage: storage.kind, tls: config.tls !== undefined },
  );
  return { close, metricsUrl };
}

/**
 * LibPaxos3's evproposer: takes client values on its config address, runs Paxos with the
 * acceptors. Its round floor survives restarts only with `proposer-round-file` (B2).
 */
export async function startProposer(o: CommonOptions & { readonly id: number }): Promise<ProposerHandle> {
  const { id } = o;
  requireAcceptors(o.config);
  requireId(o.config, 'proposer', id, o.config.proposers.length);
  const config = await resolveConfig(o.config);
  const me = config.proposers[id] as Address;
  const identity: ProcessIdentity = { role: 'proposer', id, name: me.name };
  const log = logger(o, config, identity);
  const roundFile = config.proposerRoundFile !== undefined ? new RoundFile(`${config.proposerRoundFile}_${id}`) : undefined;
  if (roundFile === undefined) {
    log.info('proposer-round-file is not set: after a restart this proposer may reuse a ballot and two values could be accepted under it (LibPaxos3 bug B2); set proposer-round-file to a path on persistent storage');
  }
  const role = new LearningProposer(
    { id, acceptors: config.acceptors.length, ...proposerOptions(config), ...leadershipOf(config) },
    { roundFloor: roundFile?.roundFloor ?? 0, learned: roundFile?.learned ?? 0 },
  );
  const leadership = leadershipApi(role, () => pump);
  const { pump, close, metricsUrl } = await wire(
    o,
    config,
    {
      role,
      identity,
      sources: { quorum: quorumSize(config.acceptors.length), proposer: role.proposer, ...(config.leader ? { leadership } : {}) },
      listen: me,
      dial: config.acceptors,
      ...(config.leader ? { proposers: config.proposers } : {}),
      commit: (r) => (roundFile !== undefined ? roundFile.commit(r) : undefined),
      onEvent: leaderEvents(o),
      hello: { type: 'hello', version: VERSION, role: 'proposer', id, features: [] },
    },
    log,
  );
  log.info(`Proposer ${id} listening on ${formatAddress(me)}${tlsNote(config)}, ${config.acceptors.length} acceptors${config.leader ? ', leader election on' : ''}`, {
    address: formatAddress(me),
    name: me.name,
    tls: config.tls !== undefined,
  });
  return { close, metricsUrl, ...leadership };
}

/** LibPaxos3's evlearner: delivers decided values in order. */
export async function startLearner<R = unknown>(
  o: CommonOptions & {
    readonly onDeliver: DeliverCallback;
    readonly catchUp?: boolean;
    /**
     * Who this learner is, for TLS (its certificate names it), logs and metrics: `learner`
     * (default), or `client` for the learner inside a client (the sample client's).
     */
    readonly as?: 'learner' | 'client';
    /**
     * The application's state machine: with `checkpoint-dir` in the config, the learner writes
     * checkpoints of it, restores the newest at start and fetches one from a replica when it is
     * behind the acceptors' trim point. Every delivered value is applied to it before `onDeliver`.
     */
    readonly stateMachine?: StateMachine<R>;
    /** Where its checkpoints go (default `<checkpoint-dir>_learner`). */
    readonly checkpointDir?: string;
  },
): Promise<LearnerHandle> {
  requireAcceptors(o.config);
  const config = await resolveConfig(o.config);
  const name = o.as ?? 'learner';
  const identity: ProcessIdentity = { role: name, id: undefined, name };
  const log = logger(o, config, identity);
  const leadership = leadershipOf(config).leadership;
  const dir = o.checkpointDir ?? (config.checkpointDir !== undefined ? `${config.checkpointDir}_learner` : undefined);
  const ck = await openCheckpoints(config, dir, o.stateMachine, log);
  const role = new Learner({
    acceptors: config.acceptors.length,
    catchUp: o.catchUp ?? config.learnerCatchUp,
    batched: config.proposerBatchMaxValues > 0,
    ...(leadership !== undefined ? { leadership } : {}),
    ...(ck !== undefined ? { snapshots: ck.fetch } : {}),
  });
  // A following learner takes leadership's state from its checkpoint, as a replica does.
  if (ck !== undefined && ck.restored > 0) role.setInstanceId(ck.restored, undefined, ck.master);
  const shell = checkpointShell(ck, config, o.stateMachine, log, undefined, () => [], (iid) => role.masterStateAsOf(iid), () => role.nextIid - 1);
  const leader = () => role.leader(performance.now());
  const { pump, network, close, metricsUrl, metrics } = await wire(
    o,
    config,
    {
      role,
      identity,
      sources: { quorum: quorumSize(config.acceptors.length), learner: role, ...(config.leader ? { leadership: { leader, isLeader: () => false } } : {}) },
      dial: config.acceptors,
      onDeliver: shell.onDeliver(o.onDeliver),
      onEvent: leaderEvents(o),
      hello: { type: 'hello', version: VERSION, role: name === 'client' ? 'client' : 'learner', id: -1, features: [] },
      ...shell.wiring((r, out) => role.snapshotIo(r, out), (from, msg, out) => role.receiveSnapshot(from, msg, out)),
      closeStorage: () => shell.close(),
    },
    log,
  );
  shell.attach(pump, network, (e) => pump.halt(e), metrics);
  return {
    close,
    metricsUrl,
    leader,
    trim: (iid) => {
      requireInstanceId('trim', iid, 1);
      pump.input((out) => role.trim(iid, out));
    },
    setInstanceId: (iid) => {
      requireInstanceId('setInstanceId', iid, 0);
      pump.input(() => role.setInstanceId(iid));
    },
    acceptors: () => network.acceptors(),
  };
}

/** LibPaxos3's evreplica: acceptor, proposer and learner in one process. */
export async function startReplica<R = undefined>(
  o: CommonOptions & {
    readonly id: number;
    readonly onDeliver?: DeliverCallback;
    /** `propose` refuses new proposals while this many wait to be delivered (default 131,072). */
    readonly maxPendingProposals?: number;
    /**
     * The application's state machine (state-machine.ts): every delivered client value is applied
     * to it, in order, before `onDeliver`, and `propose()` resolves with what `apply` returned.
     * With `checkpoint-dir` in the config the replica writes checkpoints of it, restores the
     * newest at start, reports them in the log (for `checkpoint-trim`) and serves them to peers.
     */
    readonly stateMachine?: StateMachine<R>;
    /**
     * This replica lost its storage (a wiped data directory, a new disk): rejoin safely before
     * starting (paxos-core's rejoin.ts). Ignored, with a log line, when its acceptor storage is not
     * empty. A rejoin interrupted by a restart goes on at the next start, asked for or not.
     */
    readonly rejoin?: boolean;
  },
): Promise<ReplicaHandle<R>> {
  const { id } = o;
  requireAcceptors(o.config);
  requireId(o.config, 'replica', id, o.config.acceptors.length);
  const limit = o.maxPendingProposals ?? MAX_PENDING_PROPOSALS;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxPendingProposals must be a whole number ≥ 1, got ${String(limit)}`);
  const config = await resolveConfig(o.config);
  const me = config.acceptors[id] as Address;
  const identity: ProcessIdentity = { role: 'replica', id, name: me.name };
  const log = logger(o, config, identity);
  const storage = storageFor(config, id, log);
  let state = storage.load(DEFAULT_MEMORY_WINDOW, DEFAULT_MEMORY_BYTES);
  const why = mustRejoin(state, o.rejoin ?? false);
  if (why === 'not-lost') log.info(`Replica ${id} was asked to rejoin, but its acceptor storage at ${storage.location} is not empty: it lost nothing; starting normally`);
  if (why === 'pending' || why === 'asked') {
    const limited = new RateLimitedLogger(log);
    try {
      await rejoin(config, id, storage, limited);
    } catch (e) {
      await storage.close();
      throw e;
    } finally {
      limited.close();
    }
    state = storage.load(DEFAULT_MEMORY_WINDOW, DEFAULT_MEMORY_BYTES);
  }
  let ck: NodeCheckpoints | undefined;
  try {
    ck = await openCheckpoints(config, config.checkpointDir !== undefined ? `${config.checkpointDir}_${id}` : undefined, o.stateMachine, log);
  } catch (e) {
    await storage.close();
    throw e;
  }
  const role = new Replica(
    {
      id,
      replicas: config.acceptors.length,
      proposer: proposerOptions(config),
      learner: {
        catchUp: config.learnerCatchUp,
        batched: config.proposerBatchMaxValues > 0,
        ...(ck !== undefined ? { snapshots: ck.fetch } : {}),
        ...(ck !== undefined && config.checkpointTrim ? { checkpointTrim: { hold: config.checkpointTrimHold, reporters: config.checkpointTrimReporters } } : {}),
      },
      ...leadershipOf(config),
      acceptedDigests: config.acceptedDigests,
    },
    { acceptor: state, proposer: { roundFloor: state.roundFloor, fence: state.fence } },
  );
  if (ck !== undefined && ck.restored > 0) {
    // With leadership on, the checkpoint's leadership state as of its instance: this replica
    // judges the master operations after it as the others do, and knows the master version at
    // once instead of waiting out a lease (paxos-core's Leadership.restore).
    role.step({ kind: 'set-instance-id', iid: ck.restored, ...(ck.master !== undefined ? { master: ck.master } : {}) }, newEffects());
    role.restoreReports(ck.reports, ck.restored);
  }
  const pending = new PendingProposals<R>(limit);
  const onDeliver = o.onDeliver;
  const onLeader = leaderEvents(o);
  let closing = false;
  const shell = checkpointShell(
    ck,
    config,
    o.stateMachine,
    log,
    { node: id, propose: (value) => pumpRef?.input((out) => role.propose(value, out)), wants: (iid) => role.wantsReport(id, iid) },
    (iid) => role.reportsAsOf(iid),
    (iid) => role.masterStateAsOf(iid),
    () => role.learner.nextIid - 1,
  );
  let pumpRef: Pump | undefined;
  let networkRef: Network | undefined;
  const leadership = leadershipApi(role, () => pump);
  const { pump, network, close, metricsUrl, metrics } = await wire(
    o,
    config,
    {
      role,
      identity,
      sources: {
        quorum: quorumSize(config.acceptors.length),
        acceptor: role.acceptor,
        proposer: role.proposer,
        learner: role.learner,
        pendingProposals: () => pending.size,
        ...(config.leader ? { leadership } : {}),
      },
      listen: me,
      dial: config.acceptors,
      self: id,
      commit: (r) => storage.commit(r),
      onDeliver: shell.onDeliver((iid, value, index, result) => {
        pending.delivered(iid, index, value, result);
        onDeliver?.(iid, value, index);
      }),
      onEvent: (e) => {
        pending.event(e);
        onLeader?.(e);
      },
      onStop: (why) => {
        closing = true;
        pending.rejectAll(why);
      },
      closeStorage: async () => {
        await shell.close();
        await storage.close();
      },
      hello: {
        type: 'hello',
        version: VERSION,
        role: 'replica',
        id,
        features: [...(ck !== undefined ? ['snapshots'] : []), ...(config.acceptedDigests ? [ACCEPTED_DIGESTS_FEATURE] : [])],
      },
      acceptedDigests: config.acceptedDigests,
      ...withDigestVotes(
        withRejoinAnswers(
          shell.wiring((r, out) => role.snapshotIo(r, out), (from, msg, out) => role.receiveSnapshot(from, msg, out)),
          (from) => {
            // Unknown while storage still reads its older records' ballots: the rejoining replica asks again.
            const info = role.acceptor.rejoinInfo;
            if (info !== undefined) networkRef?.toPeerExtension(from, { type: 'rejoin_info', ...info });
          },
        ),
        (from, msg) => pumpRef?.input((out) => role.receiveDigest(from, msg, out)),
      ),
    },
    log,
  );
  pumpRef = pump;
  networkRef = network;
  shell.attach(pump, network, (e) => pump.halt(e), metrics);
  // With batching a value travels inside a batch, which adds a few bytes to what the wire carries.
  const maxValue = config.maxValueSize - (config.proposerBatchMaxValues > 0 ? encodeBatch([new Uint8Array(0)]).length : 0);
  /** Why `value` cannot be submitted here, or where to send it. */
  const route = (value: Uint8Array): { refused: string } | { to: number } => {
    if (closing) return { refused: 'the replica is closed' };
    if (isReservedValue(value)) return { refused: 'the value is reserved (an empty value, the no-op, a master operation or a checkpoint report); propose another value' };
    if (value.length > maxValue) return { refused: `the value has ${value.length} bytes, more than the ${maxValue} that max-value-size allows${maxValue < config.maxValueSize ? ' with batching' : ''}` };
    // With leadership on, this replica forwards the value to the leader itself (and keeps it until
    // it is decided); without, LibPaxos3's rule: the first replica whose connection is up.
    if (config.leader) return { to: id };
    for (let k = 0; k < config.acceptors.length; k++) if (network.isUp(k)) return { to: k };
    return { refused: `no replica is reachable (none of the ${config.acceptors.length} connections is up)` };
  };
  log.info(`Replica ${id} listening on ${formatAddress(me)}${tlsNote(config)}, ${config.acceptors.length} replicas, ${storage.kind} storage${config.leader ? ', leader election on' : ''}`, {
    address: formatAddress(me),
    name: me.name,
    storage: storage.kind,
    tls: config.tls !== undefined,
  });
  return {
    close,
    metricsUrl,
    ...leadership,
    trim: (iid) => {
      requireInstanceId('trim', iid, 1);
      pump.input((out) => role.step({ kind: 'trim', iid }, out));
    },
    setInstanceId: (iid) => {
      requireInstanceId('setInstanceId', iid, 0);
      pump.input((out) => role.step({ kind: 'set-instance-id', iid }, out));
    },
    acceptors: () => network.acceptors(),
    submit: (value) => {
      const r = route(value);
      if ('refused' in r) return false;
      network.toAcceptor(r.to, { type: 'client_value', value });
      return true;
    },
    propose: (value) => {
      const r = route(value);
      if ('refused' in r) return Promise.reject(new Error(`Cannot propose: ${r.refused}`));
      const delivered = pending.add(value);
      if (delivered === undefined) {
        return Promise.reject(new Error(`Cannot propose: ${pending.size} proposals are already waiting to be delivered (the limit); wait for some of them first`));
      }
      // Sent only once it waits, so that its delivery (or refusal) cannot come first.
      network.toAcceptor(r.to, { type: 'client_value', value });
      return delivered;
    },
  };
}

/** A node's checkpoints (a state machine and `checkpoint-dir`), with the newest good one restored. */
interface NodeCheckpoints {
  readonly store: CheckpointStore;
  /** The instance of the checkpoint restored at start (0: none), and the checkpoint reports and leadership state it carries. */
  readonly restored: number;
  readonly restoredBytes: number;
  readonly reports: readonly (readonly [number, number])[];
  readonly master: MasterState | undefined;
  /** The learner's snapshot-fetch options. */
  readonly fetch: NonNullable<LearnerOptions['snapshots']>;
}

async function openCheckpoints(config: PaxosConfig, dir: string | undefined, sm: StateMachine<unknown> | undefined, log: Logger): Promise<NodeCheckpoints | undefined> {
  if (dir === undefined) return undefined;
  if (sm === undefined) {
    log.info(`checkpoint-dir is set, but this process has no state machine to checkpoint (the replica sample has none): it writes no checkpoints, fetches none and does not trim by them`);
    return undefined;
  }
  const store = await CheckpointStore.open(dir, config.checkpointKeep, log);
  const good = await store.newestGood();
  let restored = 0;
  let reports: readonly (readonly [number, number])[] = [];
  let master: MasterState | undefined;
  if (good !== undefined) {
    reports = good.reports;
    master = good.master;
    const started = performance.now();
    try {
      await sm.restore(store.read(good), good.iid);
    } catch (e) {
      await store.close();
      throw new Error(`restoring the state machine from the checkpoint ${good.path} failed: ${(e as Error).message}`, { cause: e });
    }
    restored = good.iid;
    const ms = Math.round(performance.now() - started);
    log.info(`Restored the checkpoint of instance ${good.iid} (${good.size} bytes) from ${good.path} in ${ms} ms; learning from instance ${good.iid + 1}`, {
      event: 'checkpoint-restored',
      iid: good.iid,
      bytes: good.size,
      path: good.path,
      ms,
      masterVersion: good.master?.version,
    });
  }
  const staged = store.staged;
  return {
    store,
    restored,
    restoredBytes: good?.size ?? 0,
    reports,
    master,
    fetch: { chunkBytes: config.snapshotChunkSize, window: config.snapshotWindow, ...(staged !== undefined ? { staged } : {}) },
  };
}

type Io = (result: SnapshotIoResult, out: Effects) => void;
type Recv = (from: PeerId, msg: SnapshotMessage, out: Effects) => void;

/**
 * What a replica or learner process adds around its role for a state machine and checkpoints:
 * applies deliveries to the state machine, and wires `Checkpointing` (writing, serving, fetching)
 * to the pump and the network once they exist.
 */
function checkpointShell<R>(
  ck: NodeCheckpoints | undefined,
  config: PaxosConfig,
  sm: StateMachine<R> | undefined,
  log: Logger,
  report: { readonly node: number; readonly propose: (value: Uint8Array) => void; readonly wants?: (iid: number) => boolean } | undefined,
  reportsAsOf: (iid: number) => readonly (readonly [number, number])[],
  masterAsOf: (iid: number) => MasterState | undefined,
  decidedThrough: () => number,
) {
  let pump: Pump | undefined;
  let network: Network | undefined;
  let onFatal: (e: Error) => void = () => undefined;
  const limited = new RateLimitedLogger(log);
  const checkpointing =
    ck === undefined || sm === undefined
      ? undefined
      : new Checkpointing({
          store: ck.store,
          stateMachine: sm,
          schedule: new CheckpointSchedule({ instances: config.checkpointInstances, intervalMs: config.checkpointIntervalMs }, ck.restored, performance.now()),
          log: limited,
          network: {
            extensionPeers: (feature) => network?.extensionPeers(feature) ?? [],
            toPeerExtension: (peer, msg) => network?.toPeerExtension(peer, msg) ?? false,
          },
          ...(report !== undefined ? { report } : {}),
          ioResult: (r) => ioInput?.(r),
          reportsAsOf,
          masterAsOf,
          // Only while nothing decided waits in the pump: the state machine is then as of it.
          decided: () => (pump === undefined || pump.undelivered ? undefined : decidedThrough()),
          maxChunkBytes: config.maxValueSize - 4096,
          onFatal: (e) => onFatal(e),
        });
  let ioInput: ((r: SnapshotIoResult) => void) | undefined;
  return {
    /** Applies each delivered value to the state machine (if any), then calls `cb` with the result. */
    onDeliver(cb: (iid: number, value: Uint8Array, index: number, result: R | undefined) => void): DeliverCallback {
      if (sm === undefined) return (iid, value, index) => cb(iid, value, index, undefined);
      // After a failed apply the state machine's state is unknown: the values after it (in the same
      // batch, while the process stops) are not applied either.
      let broken = false;
      return (iid, value, index) => {
        if (broken) return;
        let result: R;
        try {
          result = sm.apply(iid, index, value);
        } catch (e) {
          broken = true;
          checkpointing?.stopWriting();
          onFatal(new Error(`the state machine's apply() threw for instance ${iid} position ${index}: ${(e as Error).message}; a replica whose state machine fails cannot stay consistent with the others`, { cause: e }));
          return;
        }
        checkpointing?.applied(iid);
        cb(iid, value, index, result);
      };
    },
    /** The callbacks `wire` takes for snapshots. */
    wiring(io: Io, recv: Recv): Pick<Wiring, 'onExtension' | 'snapshot' | 'delivered'> {
      ioInput = (r) => pump?.input((out) => io(r, out));
      if (checkpointing === undefined) return {};
      return {
        onExtension: (from, msg) => {
          if (msg.type === 'snapshot_offer' || msg.type === 'snapshot_chunk') pump?.input((out) => recv(from, msg, out));
          else if (msg.type === 'snapshot_query' || msg.type === 'snapshot_get') checkpointing.serve(from, msg);
        },
        snapshot: (e) => checkpointing.effect(e),
        delivered: () => checkpointing.delivered(),
      };
    },
    attach(p: Pump, n: Network, fatal: (e: Error) => void, metrics: ProcessMetrics | undefined): void {
      pump = p;
      network = n;
      onFatal = fatal;
      if (checkpointing !== undefined && metrics !== undefined) {
        checkpointing.observer = metrics;
        if (ck !== undefined && ck.restored > 0) metrics.checkpointHeld(ck.restored, ck.restoredBytes);
      }
    },
    async close(): Promise<void> {
      await checkpointing?.close();
      if (checkpointing === undefined) await ck?.store.close();
      limited.close();
    },
  };
}

/**
 * An instance id an application hands to `trim` or `setInstanceId`: anything else is refused here,
 * with a sentence, before it reaches the core (whose own check would throw inside the pump, which
 * stops on any throw there: it cannot tell an argument from a half-stepped role).
 */
function requireInstanceId(call: string, iid: number, min: number): void {
  if (!isUint32(iid) || iid < min) throw new RangeError(`${call}(${String(iid)}): an instance id is an integer from ${min} to ${MAX_UINT32}`);
}

/** A replica answers a rejoining replica's query with what its acceptor knows (rejoin.ts). */
function withRejoinAnswers(w: Pick<Wiring, 'onExtension' | 'snapshot' | 'delivered'>, answer: (from: PeerId) => void): Pick<Wiring, 'onExtension' | 'snapshot' | 'delivered'> {
  const inner = w.onExtension;
  return {
    ...w,
    onExtension: (from, msg) => {
      if (msg.type === 'rejoin_query') answer(from);
      else inner?.(from, msg);
    },
  };
}

/** A replica takes its peers' digest votes (paxos-core's accepted-digest.ts) into its pump. */
function withDigestVotes(
  w: Pick<Wiring, 'onExtension' | 'snapshot' | 'delivered'>,
  receive: (from: PeerId, msg: AcceptedDigestMsg) => void,
): Pick<Wiring, 'onExtension' | 'snapshot' | 'delivered'> {
  const inner = w.onExtension;
  return {
    ...w,
    onExtension: (from, msg) => {
      if (msg.type === 'accepted_digest') receive(from, msg);
      else inner?.(from, msg);
    },
  };
}

/** The core's leadership options for `leader yes`, or nothing (LibPaxos3's every-proposer-proposes). */
function leadershipOf(config: PaxosConfig): { leadership?: LeadershipOptions } {
  return config.leader ? { leadership: { leaseMs: config.leaderLeaseMs, marginMs: config.leaderDriftMarginMs } } : {};
}

function leaderEvents(o: CommonOptions): ((e: CoreEvent) => void) | undefined {
  const cb = o.onLeaderChange;
  return cb === undefined ? undefined : (e) => e.kind === 'leader' && cb(e.id, e.version);
}

/**
 * The handle side of a role that takes part in leadership (answers from the core, on this
 * process's clock). Made before `wire` returns the pump, for the metrics: `pump` is called later.
 */
function leadershipApi(role: LearningProposer | Replica, pump: () => Pump): LeadershipApi {
  return {
    leader: () => role.leader(performance.now()),
    isLeader: () => role.isLeader(performance.now()),
    // The core's learner is ahead of the application by the deliveries the pump still holds (they
    // wait for the batch's commit): a read of the application's state is linearizable only once
    // they are delivered too.
    canReadLocally: () => role.canReadLocally(performance.now()) && !pump().undelivered,
    dropLeadership: () => pump().input((out) => role.dropLeadership(out)),
  };
}

/** ` (mutual TLS)` in the start line when TLS is on. */
function tlsNote(config: PaxosConfig): string {
  return config.tls !== undefined ? ' (mutual TLS)' : '';
}

function proposerOptions(config: PaxosConfig) {
  return {
    preexecWindow: config.proposerPreexecWindow,
    timeoutMs: config.proposerTimeoutMs,
    batchMaxValues: config.proposerBatchMaxValues,
    batchMaxBytes: config.proposerBatchMaxBytes,
    // The pump says when a turn's inputs are all stepped: the values of one turn share a batch.
    bindAtEndOfBatch: true,
    // Backoff jitter must differ between proposers and restarts; the core takes it as a seed.
    seed: randomInt(2 ** 31),
  };
}

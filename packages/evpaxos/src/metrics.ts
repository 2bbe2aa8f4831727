import { createServer, type Server } from 'node:http';
import { MESSAGE_TYPES, assertNever, type Acceptor, type CoreEvent, type Envelope, type Learner, type LeaderView, type PersistRecord, type Proposer } from '@libpaxos/paxos-core';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { formatHostPort } from './config.js';
import type { Logger } from './log.js';
import type { Network } from './network.js';

/** Where a process serves `/metrics` and `/healthz`. Port 0: any free port (see `MetricsServer.port`). */
export interface MetricsOptions {
  readonly port: number;
  /** Default: the host of the process's config line, or 127.0.0.1 for a learner or client. */
  readonly host?: string;
}

/** What a process is, for `paxos_process_info` and health. */
export interface ProcessIdentity {
  readonly role: 'acceptor' | 'proposer' | 'replica' | 'learner' | 'client';
  readonly id: number | undefined;
  /** Its name: `replica-0`, `learner`… */
  readonly name: string;
}

/**
 * The parts of a running process the metrics read on each scrape. Counting on the hot path is
 * plain additions (here and in `Network`); prom-client only sees the totals when it collects.
 */
export interface MetricSources {
  readonly network: Network;
  /** Acceptors this process needs connected for a quorum; undefined for an acceptor (it dials nobody). */
  readonly quorum?: number;
  readonly acceptor?: Acceptor;
  readonly proposer?: Proposer;
  readonly learner?: Learner;
  /** Leadership is on (`leader yes`): the leader as this process sees it now. */
  readonly leadership?: { leader(): LeaderView | undefined; isLeader(): boolean };
  /** Storage is open and has not failed (acceptors and replicas). */
  readonly storageOpen?: () => boolean;
  /** Proposals of a replica handle still waiting to be delivered. */
  readonly pendingProposals?: () => number;
}

/** Health: ready, or the reasons it is not. */
export interface Health {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  readonly checks: Readonly<Record<string, unknown>>;
}

/** Instances whose phase start is remembered at most (instances abandoned without an end are forgotten). */
const MAX_TIMED = 1 << 16;

/** Latency buckets in seconds: 100 µs to 10 s (loopback phase 2 without fsync is ~0.1–1 ms). */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const COUNT_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
const BYTE_BUCKETS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
/** Checkpoint writes: a few ms for a small state, minutes for gigabytes. */
const CHECKPOINT_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/**
 * A process's Prometheus metrics and health. The pump and the shell report events, envelopes and
 * commits to it as they happen (`event`, `sent`, `committed`); gauges and totals are read from
 * the core roles and the network when Prometheus scrapes.
 */
export class ProcessMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;
  private closing = false;
  private storageFailed = false;
  /** The error a process stopped on, other than its storage's (see `failed`). */
  private failure: string | undefined;

  // Plain counters, read on scrape.
  private opened = 0;
  private chosenInstances = 0;
  private valuesProposed = 0;
  private valuesChosen = 0;
  private requeued = 0;
  private preempted = 0;
  private readonly timeouts = [0, 0];
  private readonly lost = new Map<string, number>();
  private readonly dropped = new Map<string, number>();
  private delivered = 0;
  private behindTrim = 0;
  private conflicts = 0;
  private notBatch = 0;
  private leaderChanges = 0;
  private trimsSent = 0;
  private trimsApplied = 0;
  // Checkpoints and snapshot transfer (issue 12).
  private checkpointsWritten = 0;
  private checkpointFailures = 0;
  private checkpointIid: number | undefined;
  private checkpointBytes: number | undefined;
  private readonly snapshotSteps = new Map<string, number>();
  private snapshotReceived = 0;
  private snapshotServed = 0;
  private checkpointTrims = 0;
  private checkpointTrimIid: number | undefined;
  private readonly checkpointWrite: Histogram;
  // Phase starts by instance (performance.now() ms), for the latency histograms.
  private readonly phase1Start = new Map<number, number>();
  private readonly phase2Start = new Map<number, number>();

  private readonly phase1: Histogram;
  private readonly phase2: Histogram;
  private readonly batchValues: Histogram;
  private readonly batchBytes: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly commitRecords: Histogram;

  constructor(
    readonly identity: ProcessIdentity,
    private readonly leadershipOn: boolean,
    tls: boolean,
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          const v = read();
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    const labelled = (kind: 'counter' | 'gauge', name: string, help: string, label: string, read: () => Iterable<readonly [string, number]>) => {
      const collect = function (this: Counter | Gauge) {
        this.reset();
        for (const [l, v] of read()) (this as Counter).inc({ [label]: l }, v);
      };
      return kind === 'counter' ? new Counter({ name, help, labelNames: [label], registers: [r], collect }) : new Gauge({ name, help, labelNames: [label], registers: [r], collect });
    };
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const src = () => this.sources;

    new Gauge({ name: 'paxos_process_info', help: 'This process: role, id, name, TLS on or off', labelNames: ['role', 'id', 'name', 'tls'], registers: [r] }).set(
      { role: identity.role, id: identity.id === undefined ? '' : String(identity.id), name: identity.name, tls: tls ? 'on' : 'off' },
      1,
    );

    // Network: connections, bytes per peer, messages per type, refusals, backlog.
    labelled('gauge', 'paxos_peer_connected', 'Whether the connection dialled to this peer (acceptor-k, proposer-k, replica-k) is up', 'peer', () =>
      (src()?.network.peers() ?? []).map((p) => [p.name, p.up ? 1 : 0] as const),
    );
    labelled('gauge', 'paxos_connections', 'Connections up: dialled by this process, or accepted from peers', 'direction', () => {
      const net = src()?.network;
      if (net === undefined) return [];
      return [
        ['dialled', net.peers().filter((p) => p.up).length],
        ['accepted', net.incomingCount],
      ];
    });
    labelled('counter', 'paxos_peer_received_bytes_total', 'Bytes received, by peer (dialled peers by config name; incoming ones by certificate name with TLS, else "incoming")', 'peer', () =>
      [...(src()?.network.stats().traffic ?? new Map<string, { received: number }>())].map(([p, t]) => [p, t.received] as const),
    );
    labelled('counter', 'paxos_peer_sent_bytes_total', 'Bytes sent, by peer (as paxos_peer_received_bytes_total)', 'peer', () =>
      [...(src()?.network.stats().traffic ?? new Map<string, { sent: number }>())].map(([p, t]) => [p, t.sent] as const),
    );
    labelled('counter', 'paxos_messages_received_total', 'LibPaxos3 messages received, by type', 'type', () => MESSAGE_TYPES.map((t, i) => [t, src()?.network.stats().received[i] ?? 0] as const));
    labelled('counter', 'paxos_messages_sent_total', 'LibPaxos3 messages sent, by type (a broadcast counts once per connection)', 'type', () =>
      MESSAGE_TYPES.map((t, i) => [t, src()?.network.stats().sent[i] ?? 0] as const),
    );
    labelled('counter', 'paxos_connections_refused_total', 'Connections refused or closed: certificate, identity, handshake (TLS), bad-bytes (not LibPaxos3 messages), not-reading', 'reason', () => [
      ...(src()?.network.stats().refused ?? new Map<string, number>()),
    ]);
    gauge('paxos_send_queue_bytes', 'Bytes queued for peers and not yet handed to the kernel', () => src()?.network.backlog);
    labelled('counter', 'paxos_dropped_messages_total', "Messages dropped: stale or duplicate (normal in Paxos), invalid, impostor (naming an acceptor on another connection), forbidden (a type the TLS peer's role does not send)…", 'reason', () => [
      ...this.dropped,
      ['impostor', src()?.network.stats().impostors ?? 0],
      ['forbidden', src()?.network.stats().forbidden ?? 0],
    ]);

    // Storage: group commits.
    this.commitSeconds = new Histogram({ name: 'paxos_storage_commit_seconds', help: 'Time of one group commit (with lmdb-sync yes, until its fsync)', buckets: LATENCY_BUCKETS, registers: [r] });
    this.commitRecords = new Histogram({ name: 'paxos_storage_commit_records', help: 'Records written by one group commit', buckets: COUNT_BUCKETS, registers: [r] });
    gauge('paxos_storage_open', 'Whether acceptor storage is open and has not failed (1) or not (0)', () => {
      const open = src()?.storageOpen;
      return open === undefined ? undefined : open() && !this.storageFailed ? 1 : 0;
    });

    // Acceptor.
    gauge('paxos_acceptor_records', 'Instances the acceptor holds in memory (above its trim point; with LMDB storage only the newest, the rest are read from disk)', () => src()?.acceptor?.recordCount);
    gauge('paxos_acceptor_trim_instance', 'The acceptor forgot every instance up to this one', () => src()?.acceptor?.trimPoint);
    counter('paxos_acceptor_trims_applied_total', 'Trims the acceptor made durable', () => this.trimsApplied);

    // Proposer.
    counter('paxos_proposer_instances_opened_total', 'Instances opened (phase 1 started)', () => this.opened);
    counter('paxos_proposer_instances_chosen_total', 'Instances this proposer had open that were decided', () => this.chosenInstances);
    counter('paxos_proposer_values_proposed_total', 'Client values sent in an accept for the first time', () => this.valuesProposed);
    counter('paxos_proposer_values_chosen_total', "Client values of this proposer's that were decided", () => this.valuesChosen);
    counter('paxos_proposer_values_requeued_total', 'Client values displaced by another value and queued again', () => this.requeued);
    labelled('counter', 'paxos_proposer_values_lost_total', 'Client values given up, by reason (queue-full, reserved, outcome-unknown…)', 'reason', () => this.lost);
    labelled('counter', 'paxos_proposer_timeouts_total', 'Prepares (phase 1) and accepts (phase 2) resent after proposer-timeout', 'phase', () => [
      ['1', this.timeouts[0] as number],
      ['2', this.timeouts[1] as number],
    ]);
    counter('paxos_proposer_preempted_total', 'Instances preempted by a higher ballot', () => this.preempted);
    this.phase1 = new Histogram({ name: 'paxos_proposer_phase1_seconds', help: 'From a prepare sent to a quorum of promises', buckets: LATENCY_BUCKETS, registers: [r] });
    this.phase2 = new Histogram({ name: 'paxos_proposer_phase2_seconds', help: 'From an accept sent to its instance known decided', buckets: LATENCY_BUCKETS, registers: [r] });
    this.batchValues = new Histogram({ name: 'paxos_proposer_batch_values', help: 'Client values per proposed Paxos value (1 without batching)', buckets: COUNT_BUCKETS, registers: [r] });
    this.batchBytes = new Histogram({ name: 'paxos_proposer_batch_bytes', help: 'Bytes per proposed Paxos value', buckets: BYTE_BUCKETS, registers: [r] });
    gauge('paxos_proposer_queue_values', 'Client values queued at the proposer, waiting for an instance', () => src()?.proposer?.queueLength);
    labelled('gauge', 'paxos_proposer_instances', 'Instances in phase 1 and in phase 2', 'phase', () => {
      const p = src()?.proposer;
      return p === undefined ? [] : [
        ['1', p.phase1Count],
        ['2', p.phase2Count],
      ];
    });
    gauge('paxos_replica_pending_proposals', 'propose() calls waiting for their value to be delivered', () => src()?.pendingProposals?.());

    // Learner.
    counter('paxos_learner_values_delivered_total', 'Client values delivered to the application, in order', () => this.delivered);
    gauge('paxos_learner_next_instance', 'The next instance to deliver', () => src()?.learner?.nextIid);
    gauge('paxos_learner_highest_seen_instance', 'The highest instance any accepted message named', () => src()?.learner?.highestSeen);
    gauge('paxos_learner_buffered_instances', 'Instances held ahead of the next one to deliver', () => src()?.learner?.bufferedCount);
    counter('paxos_learner_behind_trim_total', "Reports that instances this learner needs were trimmed by the acceptors", () => this.behindTrim);
    counter('paxos_learner_not_a_batch_total', 'Decided values that were not batches although batching is on (a proposer without batching is in the cluster)', () => this.notBatch);
    counter('paxos_safety_conflicts_total', 'Two different values reported under one ballot (two proposers sharing a ballot): a safety alarm', () => this.conflicts);

    // Trims, checkpoints and snapshot transfer.
    counter('paxos_trims_sent_total', 'Trim messages sent to acceptors', () => this.trimsSent);
    counter('paxos_checkpoint_trims_total', 'Checkpoint reports in the log that raised the trim point (checkpoint-trim yes): a trim to every acceptor each', () => this.checkpointTrims);
    gauge('paxos_checkpoint_trim_instance', 'The trim point the checkpoint reports in the log gave last (checkpoint-trim yes)', () => this.checkpointTrimIid);
    counter('paxos_checkpoints_written_total', 'Checkpoints of the state machine written durably', () => this.checkpointsWritten);
    counter('paxos_checkpoint_write_failures_total', 'Checkpoint writes that failed (the previous checkpoints stay usable)', () => this.checkpointFailures);
    this.checkpointWrite = new Histogram({ name: 'paxos_checkpoint_write_seconds', help: 'Time to write one checkpoint durably (snapshot, file sync, rename, directory sync)', buckets: CHECKPOINT_BUCKETS, registers: [r] });
    gauge('paxos_checkpoint_instance', 'Instance of the newest checkpoint this process holds (written, restored at start, or installed from a peer)', () => this.checkpointIid);
    gauge('paxos_checkpoint_bytes', 'Size of that checkpoint (the state machine\'s snapshot)', () => this.checkpointBytes);
    labelled('counter', 'paxos_snapshot_transfers_total', 'Steps of snapshot transfers from peers: started, resumed, stalled, gone, received, rejected, restore-failed, caught-up, none-ahead, installed', 'step', () => this.snapshotSteps);
    counter('paxos_snapshot_received_bytes_total', 'Checkpoint bytes received from peers and written to the staged copy', () => this.snapshotReceived);
    counter('paxos_snapshot_served_bytes_total', 'Checkpoint bytes sent to peers that fetch one', () => this.snapshotServed);
    labelled('counter', 'paxos_extension_messages_received_total', 'libpaxos-ts messages beyond LibPaxos3\'s nine received (hello, snapshot transfer, rejoin), by type', 'type', () => [
      ...(src()?.network.stats().extensionsReceived ?? new Map<string, number>()),
    ]);
    labelled('counter', 'paxos_extension_messages_sent_total', 'libpaxos-ts messages beyond LibPaxos3\'s nine sent, by type', 'type', () => [...(src()?.network.stats().extensionsSent ?? new Map<string, number>())]);

    // Leadership, when it is on.
    if (leadershipOn) {
      const view = () => src()?.leadership?.leader();
      gauge('paxos_leader_id', 'The leader as this process sees it (-1: none holds a lease)', () => view()?.id ?? -1);
      gauge('paxos_leader_is_self', 'Whether this process holds the leader lease', () => (src()?.leadership?.isLeader() === true ? 1 : 0));
      gauge('paxos_leader_lease_remaining_seconds', "Until the leader's lease ends, as this process counts it (0: no lease)", () => {
        const v = view();
        return v === undefined ? 0 : Math.max(0, (v.until - performance.now()) / 1000);
      });
      gauge('paxos_leader_master_version', 'Instance of the master operation that made the leader, or last renewed its lease', () => view()?.version ?? 0);
      counter('paxos_leader_changes_total', 'Changes of leader seen (including to none)', () => this.leaderChanges);
    }
  }

  /** The running process's parts, once they exist. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The process is shutting down: health answers 503 from now on. */
  stopping(): void {
    this.closing = true;
  }

  /**
   * The process stopped on `error`: with `storage`, the acceptor's storage failed (the storage gauge
   * reads 0 and health says so); otherwise health names the error (an application callback or a
   * state machine that threw, a role's broken invariant), and the storage gauge stays as it is.
   */
  failed(error: Error, storage: boolean): void {
    if (storage) this.storageFailed = true;
    else this.failure ??= error.message;
  }

  /** Core events, at the time of the input that caused them. */
  events(events: readonly CoreEvent[], from: number): void {
    let now = -1;
    for (let i = from; i < events.length; i++) {
      const e = events[i] as CoreEvent;
      switch (e.kind) {
        case 'opened':
          this.opened++;
          break;
        case 'prepared': {
          const t = this.phase1Start.get(e.iid);
          if (t === undefined) break;
          this.phase1Start.delete(e.iid);
          if (now < 0) now = performance.now();
          this.phase1.observe((now - t) / 1000);
          break;
        }
        case 'proposed':
          this.valuesProposed += e.values;
          this.batchValues.observe(e.values);
          this.batchBytes.observe(e.bytes);
          break;
        case 'chosen': {
          this.chosenInstances++;
          this.valuesChosen += e.values;
          this.phase1Start.delete(e.iid);
          const t = this.phase2Start.get(e.iid);
          if (t === undefined) break;
          this.phase2Start.delete(e.iid);
          if (now < 0) now = performance.now();
          this.phase2.observe((now - t) / 1000);
          break;
        }
        case 'timeout':
          this.timeouts[e.phase - 1] = (this.timeouts[e.phase - 1] as number) + 1;
          break;
        case 'preempted':
          this.preempted++;
          break;
        case 'requeued':
          this.requeued++;
          break;
        case 'value-lost':
          this.lost.set(e.reason, (this.lost.get(e.reason) ?? 0) + 1);
          break;
        case 'dropped':
          this.dropped.set(e.reason, (this.dropped.get(e.reason) ?? 0) + 1);
          break;
        case 'behind-trim':
          this.behindTrim++;
          break;
        case 'conflict':
        case 'digest-mismatch':
          // Both say two values were accepted under one ballot (or a bug): the same alarm.
          this.conflicts++;
          break;
        case 'not-a-batch':
          this.notBatch++;
          break;
        case 'leader':
          this.leaderChanges++;
          break;
        case 'checkpoint-trim':
          this.checkpointTrims++;
          this.checkpointTrimIid = e.trimIid;
          break;
        case 'snapshot':
          this.snapshotSteps.set(e.step, (this.snapshotSteps.get(e.step) ?? 0) + 1);
          break;
        case 'noop':
        case 'iid-space-exhausted':
        case 'checkpoint-trim-waiting':
          break;
        default:
          assertNever(e, 'core event');
      }
    }
  }

  /** A message leaves: phase starts for the latency histograms, trims. */
  sent(env: Envelope): void {
    const msg = env.msg;
    if (msg.type === 'prepare') this.start(this.phase1Start, msg.iid);
    else if (msg.type === 'accept') this.start(this.phase2Start, msg.iid);
    else if (msg.type === 'trim') this.trimsSent++;
  }

  private start(map: Map<number, number>, iid: number): void {
    // Instances dropped without an end (a lost leadership, a trim) are forgotten in bulk.
    if (map.size >= MAX_TIMED) map.clear();
    map.set(iid, performance.now());
  }

  /** A group commit finished after `seconds`. */
  committed(records: readonly PersistRecord[], seconds: number): void {
    this.commitSeconds.observe(seconds);
    this.commitRecords.observe(records.length);
    for (const r of records) if (r.kind === 'trim') this.trimsApplied++;
  }

  /** Client values handed to the application. */
  deliveredValues(n: number): void {
    this.delivered += n;
  }

  // ---- checkpoints (the shell's `Checkpointing` reports them: see CheckpointObserver) ----

  checkpointWritten(iid: number, bytes: number, seconds: number): void {
    this.checkpointsWritten++;
    this.checkpointWrite.observe(seconds);
    this.checkpointHeld(iid, bytes);
  }

  checkpointWriteFailed(): void {
    this.checkpointFailures++;
  }

  /** This process holds a checkpoint of `iid` (written, restored at start, or installed). */
  checkpointHeld(iid: number, bytes: number): void {
    if (this.checkpointIid !== undefined && iid < this.checkpointIid) return;
    this.checkpointIid = iid;
    this.checkpointBytes = bytes;
  }

  snapshotBytesReceived(n: number): void {
    this.snapshotReceived += n;
  }

  snapshotBytesServed(n: number): void {
    this.snapshotServed += n;
  }

  /**
   * Ready: storage open (acceptors, replicas), connected to a quorum of acceptors (everyone that
   * dials them), and a leader known when leadership is on.
   */
  health(): Health {
    const reasons: string[] = [];
    const checks: Record<string, unknown> = {};
    const s = this.sources;
    if (this.closing) reasons.push('the process is shutting down');
    if (this.failure !== undefined) reasons.push(`the process stopped on an error: ${this.failure}`);
    if (s === undefined) {
      reasons.push('the process is starting');
      return { ready: false, reasons, checks };
    }
    if (s.storageOpen !== undefined) {
      const open = s.storageOpen() && !this.storageFailed;
      checks.storageOpen = open;
      if (!open) reasons.push(this.storageFailed ? 'acceptor storage failed (see the log)' : 'acceptor storage is not open');
    }
    if (s.quorum !== undefined) {
      const dialled = s.network.acceptors();
      const up = dialled.filter((p) => p.up).length;
      checks.acceptorsConnected = up;
      checks.quorum = s.quorum;
      if (up < s.quorum) {
        const down = dialled.filter((p) => !p.up).map((p) => p.name);
        reasons.push(`connected to ${up} of ${dialled.length} acceptors, a quorum is ${s.quorum} (not connected: ${down.join(', ')})`);
      }
    }
    if (this.leadershipOn && s.leadership !== undefined) {
      const leader = s.leadership.leader();
      checks.leader = leader?.id ?? null;
      if (leader === undefined) reasons.push('no leader is known to hold a lease (leader yes)');
    }
    return { ready: reasons.length === 0, reasons, checks };
  }
}

/** The HTTP endpoint: `/metrics` (Prometheus text format) and `/healthz` (200 ready, 503 not, JSON either way). */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://${formatHostPort(this.host, this.port)}`;
  }

  static async start(metrics: ProcessMetrics, host: string, port: number, log: Logger): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
          (e: Error) => {
            log.error(`Metrics could not be collected: ${e.message}`);
            res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics could not be collected: ${e.message}\n`);
          },
        );
        return;
      }
      if (path === '/healthz') {
        const h = metrics.health();
        const body = JSON.stringify({ status: h.ready ? 'ready' : 'not ready', reasons: h.reasons, checks: h.checks, name: metrics.identity.name });
        res.writeHead(h.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : `${body}\n`);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    });
    // Scrapes keep their connection open; they must not hold the process up when it closes.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const hint = e.code === 'EADDRINUSE' ? 'another process is using that port (give each process its own metrics port)' : e.code === 'EADDRNOTAVAIL' ? 'that address is not on this machine' : e.message;
        reject(new Error(`cannot listen for metrics on ${formatHostPort(host, port)}: ${hint}`, { cause: e }));
      });
      server.listen(port, host, () => resolve());
    });
    server.on('error', (e) => log.error(`metrics endpoint: ${e.message}`));
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    return new MetricsServer(server, host, bound);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

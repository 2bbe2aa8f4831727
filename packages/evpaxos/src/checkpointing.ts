import {
  assertNever,
  encodeCheckpointReport,
  type CheckpointSchedule,
  type MasterState,
  type PeerId,
  type SnapshotEffect,
  type SnapshotIoResult,
  type SnapshotMessage,
} from '@libpaxos/paxos-core';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ExtensionMessage } from './extensions.js';
import type { RateLimitedLogger } from './log.js';
import type { StateMachine } from './state-machine.js';

/** What checkpointing needs from the network: extension messages to libpaxos-ts peers only. */
export interface ExtensionNetwork {
  extensionPeers(feature?: string): PeerId[];
  toPeerExtension(peer: PeerId, msg: ExtensionMessage): boolean;
}

export interface CheckpointingOptions {
  readonly store: CheckpointStore;
  readonly stateMachine: StateMachine<unknown>;
  /** When to checkpoint (paxos-core's policy). */
  readonly schedule: CheckpointSchedule;
  readonly log: RateLimitedLogger;
  readonly network: ExtensionNetwork;
  /**
   * Puts a checkpoint report into the log (a replica proposes it). Absent: checkpoints are not
   * reported (a learner cannot propose), so trimming does not wait for this node.
   */
  readonly report?: {
    readonly node: number;
    readonly propose: (value: Uint8Array) => void;
    /** Whether a checkpoint of `iid` is worth a report (paxos-core's `CheckpointTrim.wantsReport`): default yes. */
    readonly wants?: (iid: number) => boolean;
  };
  /** Hands a finished snapshot file step back to the core role. */
  readonly ioResult: (result: SnapshotIoResult) => void;
  /** The checkpoint reports known as of an instance, to store with a checkpoint of it (`CheckpointTrim.reportsAsOf`). */
  readonly reportsAsOf: (iid: number) => readonly (readonly [number, number])[];
  /** Leadership's state as of an instance, to store with a checkpoint of it (`Leadership.stateAsOf`; leadership on). */
  readonly masterAsOf: (iid: number) => MasterState | undefined;
  /**
   * The last instance the learner decided, when the state machine has applied every client
   * value up to it (nothing decided waits in the pump); undefined otherwise. A checkpoint a peer
   * asked for is taken there (CheckpointSchedule.want).
   */
  readonly decided?: () => number | undefined;
  /** Largest chunk this node sends to a peer (below max-value-size). */
  readonly maxChunkBytes: number;
  /** A file step failed for a reason a retry will not fix (the disk): stop the process. */
  readonly onFatal: (e: Error) => void;
}

/** What checkpointing reports to the process's metrics (ProcessMetrics implements it). */
export interface CheckpointObserver {
  checkpointWritten(iid: number, bytes: number, seconds: number): void;
  checkpointWriteFailed(): void;
  /** A checkpoint fetched from a peer was installed (or one was restored at start). */
  checkpointHeld(iid: number, bytes: number): void;
  snapshotBytesReceived(n: number): void;
  snapshotBytesServed(n: number): void;
}

/** Reads of checkpoint chunks for peers in flight at once, all peers together. */
const MAX_READS = 4;

/**
 * The shell side of checkpoints for one replica or learner (the decisions are paxos-core's:
 * `CheckpointSchedule`, `SnapshotFetch`, `CheckpointTrim`): writes checkpoints of the application's
 * state when the schedule says so and reports them, serves checkpoint chunks to peers, and carries
 * out the fetch state machine's file steps.
 *
 * Nothing here blocks the event loop for long: snapshots are streamed to and from files with
 * asynchronous I/O, one chunk at a time; chunks for peers are read asynchronously, at most
 * `MAX_READS` at a time, and go out interleaved with the Paxos traffic on the same connection.
 */
export class Checkpointing {
  private readonly o: CheckpointingOptions;
  private lastApplied = 0;
  /** The fetch state machine's file steps, one after another. */
  private steps: Promise<void> = Promise.resolve();
  /** A checkpoint write in flight. */
  private writing: Promise<void> | undefined;
  /**
   * A checkpoint from a peer is being installed: no checkpoint is started meanwhile. The state
   * machine's restore may take many event-loop turns (a kv-server's does), and a write started in
   * between would snapshot a state that is being replaced; the install's `written` would also
   * end the schedule's write in progress while that write still ran.
   */
  private installing = false;
  /** Chunks for each peer, in the order it asked for them. */
  private readonly perPeer = new Map<PeerId, Promise<void>>();
  private reads = 0;
  private readonly waiting: (() => void)[] = [];
  private saidNoPeers = false;
  private closed = false;
  /** The process's metrics, once they exist (the shell is built before them). */
  observer: CheckpointObserver | undefined;

  /** Checks the schedule now and then without deliveries (a checkpoint due by time, or one due while another was written). */
  private readonly timer: NodeJS.Timeout;

  constructor(o: CheckpointingOptions) {
    this.o = o;
    this.lastApplied = o.schedule.lastIid;
    this.timer = setInterval(() => this.delivered(), 1000);
    this.timer.unref();
  }

  /** The application applied instance `iid` (every value of it). */
  applied(iid: number): void {
    this.lastApplied = iid;
  }

  /** After a batch of deliveries: a checkpoint, if the schedule says one is due. */
  delivered(): void {
    if (this.closed || this.installing) return;
    const decided = this.o.decided?.();
    const iid = this.o.schedule.next(this.lastApplied, performance.now(), decided !== undefined && decided > this.lastApplied ? decided : this.lastApplied);
    if (iid === undefined) return;
    let data: ReturnType<StateMachine['snapshot']>;
    const reports = this.o.reportsAsOf(iid);
    const master = this.o.masterAsOf(iid);
    try {
      // Now, between two deliveries: the state as of `iid`.
      data = this.o.stateMachine.snapshot();
    } catch (e) {
      this.o.schedule.failed();
      this.o.log.error(`The state machine's snapshot() failed for instance ${iid}: ${(e as Error).message}; no checkpoint this time`);
      return;
    }
    const started = performance.now();
    this.writing = (async () => {
      try {
        const info = await this.o.store.write(iid, await data, reports, master);
        const ms = performance.now() - started;
        this.o.schedule.written(iid, performance.now());
        this.observer?.checkpointWritten(iid, info.size, ms / 1000);
        this.o.log.info(`Checkpoint of instance ${iid} written (${info.size} bytes, ${info.path}) in ${Math.round(ms)} ms`, {
          event: 'checkpoint-written',
          iid,
          bytes: info.size,
          path: info.path,
          ms: Math.round(ms),
          masterVersion: master?.version,
        });
        this.reportCheckpoint(iid);
      } catch (e) {
        this.observer?.checkpointWriteFailed();
        this.o.schedule.failed();
        this.o.log.repeated(
          'checkpoint write',
          'error',
          `${(e as Error).message}; the previous checkpoints stay usable, trying again at the next one`,
          (n, s) => `${n} more checkpoint writes failed in the last ${s} s; the previous checkpoints stay usable`,
        );
      } finally {
        this.writing = undefined;
      }
      // Values applied while this one was written may have made the next one due already.
      this.delivered();
    })();
  }

  /** A snapshot message from a peer that the core does not take: a query or a chunk request. */
  serve(from: PeerId, msg: SnapshotMessage): void {
    if (this.closed) return;
    const { store, network } = this.o;
    switch (msg.type) {
      case 'snapshot_query': {
        // The checkpoint the fetcher has part of, if it still helps and is still here; else the newest.
        const c = (msg.resume !== undefined && msg.resume.iid >= msg.need ? store.find(msg.resume) : undefined) ?? store.newest;
        // The peer needs a newer checkpoint than this node has: make one as soon as the state
        // is that far (an idle cluster makes none otherwise), and offer it at its next query.
        if ((c?.iid ?? 0) < msg.need) {
          this.o.schedule.want(msg.need);
          this.delivered();
        }
        network.toPeerExtension(from, {
          type: 'snapshot_offer',
          iid: c?.iid ?? 0,
          size: c?.size ?? 0,
          sum: c?.sum ?? new Uint8Array(0),
          reports: c?.reports ?? [],
          ...(c?.master !== undefined ? { master: c.master } : {}),
        });
        return;
      }
      case 'snapshot_get': {
        const previous = this.perPeer.get(from) ?? Promise.resolve();
        const next = previous.then(() => this.sendChunk(from, msg));
        this.perPeer.set(from, next);
        void next.finally(() => {
          if (this.perPeer.get(from) === next) this.perPeer.delete(from);
        });
        return;
      }
      case 'snapshot_offer':
      case 'snapshot_chunk':
        return;
      default:
        assertNever(msg, 'snapshot message');
    }
  }

  /** A snapshot effect of the core: a message to send, or a file step to carry out in order. */
  effect(e: SnapshotEffect): void {
    if (this.closed) return;
    switch (e.kind) {
      case 'query': {
        const peers = this.o.network.extensionPeers('snapshots');
        if (peers.length === 0 && !this.saidNoPeers) {
          this.saidNoPeers = true;
          this.o.log.error('This node needs a checkpoint from a peer (the acceptors trimmed instances it still needs), but no libpaxos-ts peer that serves checkpoints is connected; asking again every second');
        }
        if (peers.length > 0) this.saidNoPeers = false;
        for (const p of peers) this.o.network.toPeerExtension(p, e.msg);
        return;
      }
      case 'send':
        this.o.network.toPeerExtension(e.peer, e.msg);
        return;
      case 'open':
      case 'write':
      case 'verify':
      case 'install':
      case 'discard':
        this.steps = this.steps.then(() => this.step(e)).catch((err: Error) => this.o.onFatal(err));
        return;
      default:
        assertNever(e, 'snapshot effect');
    }
  }

  /**
   * The state machine failed (an apply threw): its state is unknown from now on, so no checkpoint
   * of it may be written, nor served to a peer, while the process stops (a restart from one would
   * carry the broken state, and a peer installing it would diverge). `close` still waits for a
   * write already under way, which holds a snapshot taken before the failure.
   */
  stopWriting(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** Waits for a checkpoint write and the file steps in flight, then closes the files. */
  async close(): Promise<void> {
    this.stopWriting();
    await this.writing;
    await this.steps;
    await Promise.allSettled([...this.perPeer.values()]);
    await this.o.store.close();
  }

  private async step(e: Extract<SnapshotEffect, { kind: 'open' | 'write' | 'verify' | 'install' | 'discard' }>): Promise<void> {
    if (this.closed) return;
    const { store } = this.o;
    switch (e.kind) {
      case 'open':
        this.o.ioResult({ kind: 'opened', ref: e.ref, have: await store.openStaging(e.ref) });
        return;
      case 'write':
        await store.writeStaging(e.offset, e.data);
        this.observer?.snapshotBytesReceived(e.data.length);
        this.o.ioResult({ kind: 'written', ref: e.ref, offset: e.offset, length: e.data.length });
        return;
      case 'verify':
        this.o.ioResult({ kind: 'verified', ref: e.ref, ok: await store.verifyStaging(e.ref) });
        return;
      case 'install': {
        this.installing = true;
        try {
          // A write of the state as it was finishes first: its snapshot and its schedule bookkeeping are of that state.
          await this.writing;
          const info = await store.installStaging(e.ref);
          try {
            await this.o.stateMachine.restore(store.read(info), e.ref.iid);
          } catch (err) {
            this.o.log.error(`The state machine's restore() failed for the checkpoint of instance ${e.ref.iid}: ${(err as Error).message}`);
            this.o.ioResult({ kind: 'installed', ref: e.ref, ok: false });
            return;
          }
          this.lastApplied = e.ref.iid;
          this.observer?.checkpointHeld(e.ref.iid, e.ref.size);
          this.o.schedule.written(e.ref.iid, performance.now());
          this.reportCheckpoint(e.ref.iid);
          this.o.ioResult({ kind: 'installed', ref: e.ref, ok: true });
          return;
        } finally {
          this.installing = false;
        }
      }
      case 'discard':
        await store.discardStaging();
        return;
    }
  }

  /** Puts a report of this node's checkpoint of `iid` into the log, when it can move the trim point. */
  private reportCheckpoint(iid: number): void {
    const r = this.o.report;
    if (r === undefined || r.wants?.(iid) === false) return;
    r.propose(encodeCheckpointReport({ node: r.node, iid }));
  }

  private async sendChunk(peer: PeerId, get: Extract<SnapshotMessage, { type: 'snapshot_get' }>): Promise<void> {
    if (this.closed) return;
    await this.acquire();
    try {
      const { iid, sum, offset, length } = get;
      // A chunk larger than this node sends is refused like a checkpoint it does not have: the
      // fetcher asks around again (both read one config, so this means a misconfigured peer).
      const data = length <= this.o.maxChunkBytes ? await this.o.store.readChunk(iid, sum, offset, length).catch(() => undefined) : undefined;
      const sent = this.o.network.toPeerExtension(peer, {
        type: 'snapshot_chunk',
        iid,
        sum,
        offset,
        data: data ?? new Uint8Array(0),
        gone: data === undefined,
      });
      if (sent && data !== undefined) this.observer?.snapshotBytesServed(data.length);
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.reads < MAX_READS) {
      this.reads++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.reads++;
  }

  private release(): void {
    this.reads--;
    this.waiting.shift()?.();
  }
}

import {
  assertNever,
  clearEffects,
  newEffects,
  type CoreEvent,
  type Delivery,
  type Effects,
  type Envelope,
  type Message,
  type PeerId,
  type PersistRecord,
  type SnapshotEffect,
} from '@libpaxos/paxos-core';
import { limitRepeats, type Logger, type RateLimitedLogger } from './log.js';

/** A core state machine as the pump drives it (Acceptor, Replica, LearningProposer, Learner…). */
export interface PumpedRole {
  receive(from: PeerId, msg: Message, out: Effects): void;
  tick(now: number, out: Effects): void;
  /** Every input at hand was stepped (see paxos-core's `end-of-batch` input). */
  endOfBatch?(out: Effects): void;
  /** A connection to an acceptor came up (paxos-core's `acceptor-connected`): roles with a learner or a proposer take it. */
  acceptorConnected?(peer: PeerId, out: Effects): void;
}

export interface PumpOptions {
  readonly role: PumpedRole;
  /**
   * Makes persist records durable; resolves when they are. Absent: the role never persists. A
   * storage with nothing to wait for (memory) returns undefined, and the batch goes on at once.
   * `records` is the pump's own array, reused for a later batch once this one is sent: a storage
   * reads it before it returns or, for a promise, before the promise settles; it never keeps it.
   */
  readonly commit?: (records: readonly PersistRecord[]) => Promise<void> | undefined;
  readonly send: (env: Envelope) => void;
  /** Called after the sends of each batch, once its commit is durable, and before waiting on a commit: write them out (one write per peer). */
  readonly flushSends?: () => void;
  /**
   * Hands the messages this process sent to itself (a replica's own acceptor) back to the role as
   * inputs, after the batch that sent them was committed. They join the next batch of the same
   * turn: a replica's accept, its own acceptor's accepted and its learner's delivery take one
   * event-loop turn, not three.
   */
  readonly routeLocal?: () => void;
  readonly deliver?: (d: Delivery) => void;
  /** After the deliveries of a batch (an instance is never split between two batches). */
  readonly delivered?: () => void;
  /** Snapshot transfer effects of a batch, in order, after its sends (persist before send holds for them too). */
  readonly snapshot?: (e: SnapshotEffect) => void;
  /** Every core event of a batch, after its sends and deliveries (they are logged as well). */
  readonly events?: (e: CoreEvent) => void;
  /**
   * The events an input caused, as soon as it is stepped (before the commit that precedes its
   * sends): `events` from index `from` on. Metrics time phases with it. `events` is the pump's
   * array, reused for later batches: read it during the call, never keep it.
   */
  readonly observe?: (events: readonly CoreEvent[], from: number) => void;
  /** Where events are logged; repeated lines are summarised (see `RateLimitedLogger`). */
  readonly log: Logger;
  /** How log lines name a peer the core names by its PeerId (see `Network.peerName`). */
  readonly peerName?: (peer: PeerId) => string;
  /** How often the core gets a tick. */
  readonly tickMs: number;
  /**
   * The disk failed (nothing of the failed batch, nor of any input taken since, was sent or
   * delivered), stepping an input threw (a storage read, a broken invariant: nothing of its batch
   * was sent), or the deliver callback threw (nothing after that value was delivered): the pump
   * takes no more inputs; the process should stop (`drain` still resolves).
   */
  readonly onFatal: (error: Error) => void;
}

/**
 * The shell around a core role, a thin pump: read → step → persist → send → deliver. Inputs of
 * one event-loop turn share one `Effects`; at the end of the turn their records go to storage in
 * one commit (group commit), and only when that is durable do their messages leave (persist
 * before send). Inputs that arrive meanwhile form the next batch, and so do the messages the
 * role sent itself (a replica's own acceptor): up to MAX_ROUNDS_PER_TURN batches run back to back
 * in one turn, each batch's writes leaving as soon as it is committed. No policy lives here.
 */
export class Pump {
  private pending: Effects = newEffects();
  /** A finished batch's Effects, emptied, for the next batch (two alternate: no new arrays per batch). */
  private spare: Effects | undefined;
  private scheduled = false;
  /** No new inputs are taken (an orderly stop: what was taken is still committed and sent). */
  private stopped = false;
  /**
   * A commit failed. The core's in-memory state is now ahead of the disk, so nothing computed
   * since (the failed batch, inputs that arrived during its commit, flushes they scheduled) may
   * be committed, sent or delivered: a reply built on a write that was lost breaks persist
   * before send (e.g. a duplicate prepare answered with a promise that is not on disk).
   */
  private failed = false;
  /**
   * Inside `flush`: inputs join `pending`, and a later round of the running flush takes them; an
   * input that came too late for the last round is flushed again at its end (`wanted`).
   */
  private flushing = false;
  /** An input asked for a flush while one was running (it may have left no effect, e.g. a value waiting for its end of batch). */
  private wanted = false;
  /** The flush in progress, for `drain`. */
  private running: Promise<void> | undefined;
  /** Deliveries of the batch being committed not yet handed to `deliver` (it waits for its commit first). */
  private delivering = 0;
  private readonly ticker: NodeJS.Timeout;
  private readonly log: RateLimitedLogger;

  constructor(private readonly o: PumpOptions) {
    this.log = limitRepeats(o.log);
    // The first tick throws to whoever makes the pump (a process that cannot start), before the
    // ticker exists; later ones stop it as any other input does.
    this.apply((out) => o.role.tick(performance.now(), out));
    this.schedule();
    this.ticker = setInterval(() => this.input((out) => o.role.tick(performance.now(), out)), o.tickMs);
  }

  receive(from: PeerId, msg: Message): void {
    if (this.stopped) return;
    // `input` written out, without its closure: this runs for every message a process reads.
    const out = this.pending;
    const from0 = out.events.length;
    try {
      this.o.role.receive(from, msg, out);
    } catch (e) {
      // A storage read that failed (an LMDB acceptor reads older records back), or a broken
      // invariant: stop as after a failed commit, so that no half-stepped batch leaves.
      this.fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.observed(out, from0);
    this.schedule();
  }

  /**
   * Runs any other input (a tick, propose, trim, set-instance-id, a digest vote…) against the
   * current batch. One that throws stops the pump as a failed `receive` does: it may have stepped
   * the role half-way, so nothing of the batch may leave (callers check an application's arguments
   * before they get here: processes.ts).
   */
  input(step: (out: Effects) => void): void {
    if (this.stopped) return;
    try {
      this.apply(step);
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.schedule();
  }

  private apply(step: (out: Effects) => void): void {
    const out = this.pending;
    const from = out.events.length;
    step(out);
    this.observed(out, from);
  }

  /** Hands `observe` the events an input just added to `out` (from index `from` on), if any. */
  private observed(out: Effects, from: number): void {
    if (this.o.observe !== undefined && out.events.length > from) this.o.observe(out.events, from);
  }

  /**
   * Whether the core has decided values this pump has not yet handed to `deliver`: they wait in
   * the batch being built, or in the one being committed. The core's state runs ahead of the
   * application's by those: a leader's `canReadLocally` must wait for them too.
   */
  get undelivered(): boolean {
    return this.delivering > 0 || this.pending.deliver.length > 0;
  }

  /** Takes no more inputs; what was taken is still committed and sent (see `drain`). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
  }

  /** Resolves when every batch taken so far is committed and sent, or discarded after a failure. */
  async drain(): Promise<void> {
    // Each round waits for one flush (up to MAX_ROUNDS_PER_TURN commits) or one loop turn; bounded in count.
    for (let i = 0; i < 10_000 && (this.scheduled || this.flushing); i++) {
      await (this.running ?? new Promise((r) => setImmediate(r)));
    }
    if (this.stopped && this.log !== this.o.log) this.log.close();
  }

  private schedule(): void {
    if (this.failed) return;
    if (this.flushing) {
      this.wanted = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runFlush);
  }

  /** The end-of-turn callback, made once: a flush that commits synchronously allocates no promise. */
  private readonly runFlush = (): void => {
    let run: Promise<void> | undefined;
    try {
      run = this.flush();
    } catch (e) {
      // As when the flush was an async function: an exception (a role's invariant, a send that
      // throws) rejects the flush's promise, which `drain` sees, rather than escaping the turn.
      run = Promise.reject(e as Error);
    }
    if (run !== undefined) this.track(run);
  };

  /**
   * Keeps the promise of a flush that waits, for `drain`: a flush that failed rejects the drain;
   * if nobody drains, the rejection is unhandled, as an exception in a flush (a bug) should be.
   * (Apart from `runFlush`, whose every call would otherwise allocate the closure's context.)
   */
  private track(run: Promise<void>): void {
    const running: Promise<void> = run.finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
  }

  /**
   * Runs the batches at hand. Synchronous while commits are (memory storage, LMDB with
   * `lmdb-sync no`); a commit that returns a promise makes the rest of the flush wait for it, and
   * then the promise is returned (`drain` waits for it).
   */
  private flush(): Promise<void> | undefined {
    this.scheduled = false;
    if (this.failed || this.flushing) return undefined;
    this.flushing = true;
    return this.roundsFrom(0);
  }

  /** Rounds `first`… of the running flush; ends the flush unless a commit left it waiting. */
  private roundsFrom(first: number): Promise<void> | undefined {
    let waiting: Promise<void> | undefined;
    try {
      waiting = this.rounds(first);
    } finally {
      if (waiting === undefined) this.flushing = false;
    }
    if (waiting === undefined && (!isEmpty(this.pending) || this.wanted)) this.schedule();
    return waiting;
  }

  private rounds(first: number): Promise<void> | undefined {
    // Batches follow one another in this turn while the role sends itself messages (bounded, so
    // sockets are read between rounds). Persist before send holds per batch: a batch's sends are
    // queued only after its records are durable. They are written out at once, not after the
    // later rounds: a replica's accepts to the other acceptors are what the next hop waits for,
    // and its own acceptor's and learner's rounds (accepted to the subscribers, deliveries) mostly
    // write to other connections, so waiting saved few writes and delayed every hop (A/B, replica
    // 64 B, batching: -o 100 +8–22 %, -o 10 −2–+21 % values/s over five interleaved pairs).
    const endOfBatch = this.o.role.endOfBatch;
    // A halt during a round's deliveries (a state machine that threw) ends the flush.
    for (let round = first; round < MAX_ROUNDS_PER_TURN && !this.failed; round++) {
      // Inputs taken so far are this round's; `wanted` says whether any came after it.
      this.wanted = false;
      if (endOfBatch !== undefined && !this.stopped) this.endBatch(endOfBatch);
      const batch = this.pending;
      if (isEmpty(batch)) break;
      this.pending = this.spare ?? newEffects();
      this.spare = undefined;
      this.delivering = batch.deliver.length;
      if (batch.persist.length > 0) {
        if (this.o.commit === undefined) throw new Error('this role persisted records but has no storage');
        let done: Promise<void> | undefined;
        try {
          done = this.o.commit(batch.persist);
          // What earlier rounds queued leaves while this commit is under way.
          if (done !== undefined) this.o.flushSends?.();
        } catch (e) {
          // Never delivered: the process stops (and its reads with it).
          this.fail(e as Error);
          return undefined;
        }
        if (done !== undefined) return this.afterDurable(done, batch, round);
      }
      if (!this.finish(batch)) return undefined;
    }
    this.o.flushSends?.();
    return undefined;
  }

  /** The role's end of batch, as an input (paxos-core's `end-of-batch`). */
  private endBatch(endOfBatch: (out: Effects) => void): void {
    const out = this.pending;
    const from = out.events.length;
    endOfBatch.call(this.o.role, out);
    this.observed(out, from);
  }

  /**
   * The rest of the flush once `done` settles. A method of its own: as a closure in `rounds`, whose
   * loop variables it captures, it would cost a context on every round, committed synchronously
   * or not.
   */
  private afterDurable(done: Promise<void>, batch: Effects, round: number): Promise<void> {
    return done.then(
      () => this.afterCommit(batch, round),
      (e: unknown) => this.commitFailed(e),
    );
  }

  /**
   * Batch `batch` of round `round` is durable: it goes out, and the flush goes on with the next
   * round. Whatever throws, the flush is over (else the pump would wait for it for ever).
   */
  private afterCommit(batch: Effects, round: number): Promise<void> | undefined {
    let finished = false;
    try {
      finished = this.finish(batch);
    } finally {
      if (!finished) this.flushing = false;
    }
    return finished ? this.roundsFrom(round + 1) : undefined;
  }

  /** A commit rejected: nothing of its batch is sent or delivered; the pump stops. */
  private commitFailed(e: unknown): void {
    try {
      this.fail(e as Error);
    } finally {
      this.flushing = false;
    }
  }

  /**
   * A committed batch: its sends, snapshot effects, deliveries, events and the messages the role
   * sent itself. False when the application's deliver callback threw (the pump failed).
   */
  private finish(batch: Effects): boolean {
    for (const env of batch.send) this.o.send(env);
    this.o.flushSends?.();
    if (this.o.snapshot !== undefined) for (const e of batch.snapshot) this.o.snapshot(e);
    if (this.o.deliver !== undefined) {
      for (const d of batch.deliver) {
        try {
          this.o.deliver(d);
        } catch (e) {
          // The application's deliver callback threw. Going on would skip a decided value (a
          // replica whose application skipped one diverges from the others), and letting the
          // exception out of the flush would end the process with an uncaught exception and no
          // word of where: stop instead, as after a failed commit. The batch's records are
          // durable and its sends left; the value is learned again at the next start.
          this.fail(new Error(`the application's deliver callback threw at instance ${d.iid}${d.index > 0 ? ` position ${d.index}` : ''}: ${(e as Error).message}; nothing after it is delivered`, { cause: e }));
          return false;
        }
      }
    }
    this.delivering = 0;
    if (batch.deliver.length > 0) this.o.delivered?.();
    if (this.o.events !== undefined) for (const e of batch.events) this.o.events(e);
    for (const e of batch.events) logEvent(this.log, e, this.o.peerName);
    this.o.routeLocal?.();
    // Everything in the batch was handed on: its arrays serve the batch after next.
    clearEffects(batch);
    this.spare = batch;
    return true;
  }

  /**
   * Something outside the pump that the process cannot go on after (the state machine's `apply`, a
   * checkpoint's file step): the pump stops as after a failed commit (nothing of the batch being
   * built leaves) and hands `error` to `onFatal`, once.
   */
  halt(error: Error): void {
    if (!this.failed) this.fail(error);
  }

  private fail(error: Error): void {
    this.failed = true;
    this.stop();
    this.pending = newEffects();
    this.o.onFatal(error);
  }
}

/** Batches one flush runs back to back before it lets the event loop read sockets again. */
export const MAX_ROUNDS_PER_TURN = 8;

function isEmpty(e: Effects): boolean {
  return e.persist.length === 0 && e.send.length === 0 && e.deliver.length === 0 && e.events.length === 0 && e.snapshot.length === 0;
}

/** How a log line names a peer when the caller has no better name (a module function: a default
 * parameter's arrow would be a new closure for every event). */
function peerNumber(p: PeerId): string {
  return `peer ${p}`;
}

/**
 * Core events as log lines; LibPaxos3's own wording where it had one. Events that can come by the
 * hundred (a timeout per instance while a peer is down, a refused value per submit) go through
 * `log.repeated`: the first is written, the rest summarised with a count per interval.
 */
export function logEvent(log: RateLimitedLogger, e: CoreEvent, peerName: (peer: PeerId) => string = peerNumber): void {
  // The events that come with every instance leave here. They must not enter `eventLine`: its
  // summary callbacks capture `e`, so each call of it allocates a context, whichever case runs.
  switch (e.kind) {
    case 'opened':
    case 'prepared':
    case 'proposed':
    case 'chosen':
      // For metrics only: one of each per instance, nothing a log reader needs.
      return;
    case 'dropped':
    case 'preempted':
    case 'noop':
    case 'requeued':
      if (log.debugEnabled === false) return;
      break;
    default:
      break;
  }
  eventLine(log, e, peerName);
}

/** An event's log line; `logEvent` has already left out what is not logged (debug lines with debug off, per-instance events). */
function eventLine(log: RateLimitedLogger, e: CoreEvent, peerName: (peer: PeerId) => string): void {
  switch (e.kind) {
    case 'timeout':
      log.repeated(
        `timeout ${e.phase}`,
        'info',
        `Instance ${e.iid} timed out in phase ${e.phase}.`,
        (n, s) => `${n} more instance${n === 1 ? '' : 's'} timed out in phase ${e.phase} in the last ${s} s`,
        undefined,
        { event: 'timeout', phase: e.phase, iid: e.iid, ballot: e.ballot },
      );
      return;
    case 'dropped':
      log.debug(`Dropped ${e.msg} for instance ${e.iid}: ${e.reason}`, { event: 'dropped', message: e.msg, iid: e.iid, reason: e.reason });
      return;
    case 'preempted':
      log.debug(`Instance ${e.iid} preempted by ballot ${e.by}; retrying with ballot ${e.ballot} in ${e.delayMs} ms`, { event: 'preempted', iid: e.iid, by: e.by, ballot: e.ballot, delayMs: e.delayMs });
      return;
    case 'noop':
      log.debug(`Instance ${e.iid} closed with a no-op`);
      return;
    case 'requeued':
      log.debug(`Instance ${e.iid} chose another value; the client value goes back to the queue`);
      return;
    case 'value-lost':
      log.repeated(
        `value-lost ${e.reason}`,
        'error',
        `Dropped ${e.iid > 0 ? `the client value(s) of instance ${e.iid}` : 'a client value'} (${e.value.length} bytes): ${VALUE_LOSS[e.reason]}`,
        (n, s) => `Dropped ${n} more client value${n === 1 ? '' : 's'} (or batches) in the last ${s} s: ${VALUE_LOSS[e.reason]}`,
        undefined,
        { event: 'value-lost', reason: e.reason, iid: e.iid, bytes: e.value.length },
      );
      return;
    case 'not-a-batch':
      log.error(
        `Instance ${e.iid} decided a value of ${e.bytes} bytes that is not a batch, although this cluster batches (proposer-batch-max-values); it was delivered as one value. A proposer without batching (C LibPaxos3's, or one reading another paxos.conf) is proposing here: give every process the same batching settings`,
        { event: 'not-a-batch', iid: e.iid, bytes: e.bytes },
      );
      return;
    case 'conflict':
      log.error(
        `Instance ${e.iid}: acceptors report two different values accepted under ballot ${e.ballot}. Two proposers used one ballot (a C LibPaxos3 proposer restarted and reused its ballots, bug B2, or two proposers share an id); Paxos safety no longer holds for this cluster: stop the proposers and check their ids`,
        { event: 'conflict', iid: e.iid, ballot: e.ballot },
      );
      return;
    case 'digest-mismatch':
      log.repeated(
        `digest-mismatch ${e.aid}`,
        'error',
        `Instance ${e.iid}: acceptor ${e.aid}'s digest of the value it accepted under ballot ${e.ballot} does not match the value this replica received in that ballot's accept. Two values under one ballot (a C LibPaxos3 proposer restarted and reused its ballots, bug B2, or two proposers share an id) or a bug; the vote is not counted for that value`,
        (n, s) => `${n} more digest votes from acceptor ${e.aid} did not match the values held (last ${s} s); not counted`,
        undefined,
        { event: 'digest-mismatch', iid: e.iid, ballot: e.ballot, aid: e.aid },
      );
      return;
    case 'iid-space-exhausted':
      log.error(
        e.role === 'learner'
          ? `Delivered instance 4294967295, the last instance id LibPaxos3's 32-bit ids can name; nothing more can be delivered. Start a new cluster (fresh acceptor storage) to go on`
          : `Every instance id up to 4294967295 (LibPaxos3's 32-bit limit) is in use; this proposer cannot open more and refuses new values. Start a new cluster (fresh acceptor storage) to go on`,
      );
      return;
    case 'behind-trim':
      log.repeated(
        'behind-trim',
        'error',
        `Acceptors trimmed up to instance ${e.trimIid}, but this learner still needs instance ${e.iid}; it cannot catch up past the trim point`,
        (n, s) => `Still behind the acceptors' trim point (${n} more reports in the last ${s} s); this learner cannot catch up past it`,
        undefined,
        { event: 'behind-trim', iid: e.iid, trimIid: e.trimIid },
      );
      return;
    case 'leader':
      log.info(e.id === undefined ? `No leader holds a lease now (master version ${e.version})` : `Leader is now ${e.id} (master version ${e.version})`, {
        event: 'leader',
        leader: e.id ?? null,
        version: e.version,
      });
      return;
    case 'opened':
    case 'prepared':
    case 'proposed':
    case 'chosen':
      // Never here (see logEvent); listed for the exhaustiveness check.
      return;
    case 'checkpoint-trim':
      // No "still waiting" summary after trimming began.
      log.end('checkpoint-trim-waiting');
      log.debug(`Checkpoint report in instance ${e.iid}: the lowest reported checkpoint is ${e.lowest}; trimming the acceptors up to ${e.trimIid}`, {
        event: 'checkpoint-trim',
        iid: e.iid,
        lowest: e.lowest,
        trimIid: e.trimIid,
      });
      return;
    case 'checkpoint-trim-waiting':
      log.repeated(
        'checkpoint-trim-waiting',
        'info',
        `Checkpoint report in instance ${e.iid}: ${e.reporters} of the ${e.needed} replicas the first trim waits for (checkpoint-trim-reporters) reported a checkpoint; the acceptors are not trimmed until ${e.needed - e.reporters === 1 ? 'another one does' : `${e.needed - e.reporters} more do`}`,
        (n, s) => `${n} more checkpoint reports in the last ${s} s, still from fewer replicas than the ${e.needed} the first trim waits for; the acceptors are not trimmed`,
        undefined,
        { event: 'checkpoint-trim-waiting', iid: e.iid, reporters: e.reporters, needed: e.needed },
      );
      return;
    case 'snapshot':
      logSnapshot(log, e, peerName(e.peer));
      return;
    default:
      assertNever(e, 'core event');
  }
}

function logSnapshot(log: RateLimitedLogger, e: Extract<CoreEvent, { kind: 'snapshot' }>, peer: string): void {
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  // JSON lines carry the step, the checkpoint, the bytes so far and the peer, for every step.
  const fields = { event: 'snapshot', step: e.step, iid: e.iid, bytes: e.bytes, size: e.size, peer, lagging: e.lagging };
  switch (e.step) {
    case 'started':
      // Why it fetches: the log it needs is gone (trimmed, or an instance no quorum can decide
      // any more), or it lags so far that a peer's checkpoint is the quicker way (the lag watch).
      log.info(`${e.lagging === true ? 'Far behind the other replicas' : "Behind the acceptors' trim point"}: fetching the checkpoint of instance ${e.iid} (${mb(e.size ?? 0)}) from ${peer}`, fields);
      return;
    case 'resumed':
      log.info(`Resuming the transfer of the checkpoint of instance ${e.iid} at ${mb(e.bytes)} of ${mb(e.size ?? 0)}, from ${peer}`, fields);
      return;
    case 'stalled':
      log.info(`The transfer of the checkpoint of instance ${e.iid} from ${peer} stalled at ${mb(e.bytes)}; asking the peers again`, fields);
      return;
    case 'gone':
      log.info(`${peer} no longer has the checkpoint of instance ${e.iid}; asking the peers again`, fields);
      return;
    case 'rejected':
      log.error(`The checkpoint of instance ${e.iid} from ${peer} does not match its checksum; discarded, fetching again`, fields);
      return;
    case 'restore-failed':
      log.error(`Restoring the application's state from the checkpoint of instance ${e.iid} failed; fetching again`, fields);
      return;
    case 'received':
      log.debug(`Received the checkpoint of instance ${e.iid} (${mb(e.bytes)}) from ${peer}; verifying it`, fields);
      return;
    case 'none-ahead':
      log.info(`Lagging behind the log, but no peer has a checkpoint of instance ${e.iid} or later; learning on from the log`, fields);
      return;
    case 'caught-up':
      log.info(`Caught up from the log after all; the transfer of the checkpoint of instance ${e.iid} is given up (what was received is kept)`, fields);
      return;
    case 'installed':
      log.info(`Installed the checkpoint of instance ${e.iid} (${mb(e.bytes)}) from ${peer}; learning from instance ${e.iid + 1}`, fields);
      return;
    default:
      assertNever(e.step, 'snapshot step');
  }
}

const VALUE_LOSS: Record<Extract<CoreEvent, { kind: 'value-lost' }>['reason'], string> = {
  'queue-full': 'the proposer queue is full',
  reserved: 'empty values and the no-op bytes are reserved for closing holes',
  'iid-space-exhausted': 'every instance id up to 4294967295 (LibPaxos3 uses 32 bits) is in use',
  'outcome-unknown': 'its instance was trimmed before this proposer learned whether it was chosen',
  'ballot-exhausted': 'a peer claimed a ballot so high that no higher one fits in 32 bits',
};

import { newEffects, type CoreEvent, type Delivery, type Effects, type Envelope, type Message, type PeerId, type PersistRecord } from '@libpaxos/paxos-core';
import type { Logger } from './log.js';

/** A core state machine as the pump drives it (Acceptor, Replica, LearningProposer, Learner…). */
export interface PumpedRole {
  receive(from: PeerId, msg: Message, out: Effects): void;
  tick(now: number, out: Effects): void;
}

export interface PumpOptions {
  readonly role: PumpedRole;
  /** Makes persist records durable; resolves when they are. Absent: the role never persists. */
  readonly commit?: (records: readonly PersistRecord[]) => Promise<void>;
  readonly send: (env: Envelope) => void;
  /** Called after the sends of a batch: write them out (one write per peer). */
  readonly flushSends?: () => void;
  readonly deliver?: (d: Delivery) => void;
  readonly log: Logger;
  /** How often the core gets a tick. */
  readonly tickMs: number;
  /** The disk failed: nothing of the failed batch was sent; the process should stop. */
  readonly onFatal: (error: Error) => void;
}

/**
 * The shell around a core role, a thin pump: read → step → persist → send → deliver. Inputs of
 * one event-loop turn share one `Effects`; at the end of the turn their records go to storage in
 * one commit (group commit), and only when that is durable do their messages leave (persist
 * before send). Inputs that arrive meanwhile form the next batch. No policy lives here.
 */
export class Pump {
  private pending: Effects = newEffects();
  private scheduled = false;
  private committing = false;
  private stopped = false;
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly o: PumpOptions) {
    this.ticker = setInterval(() => this.input((out) => o.role.tick(performance.now(), out)), o.tickMs);
    this.input((out) => o.role.tick(performance.now(), out));
  }

  receive(from: PeerId, msg: Message): void {
    this.input((out) => this.o.role.receive(from, msg, out));
  }

  /** Runs any other input (propose, trim, set-instance-id…) against the current batch. */
  input(step: (out: Effects) => void): void {
    if (this.stopped) return;
    step(this.pending);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
  }

  /** Resolves when every batch taken so far is committed and sent. */
  async drain(): Promise<void> {
    for (let i = 0; i < 1000 && (this.committing || this.scheduled); i++) await new Promise((r) => setImmediate(r));
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.committing) return; // the commit in flight flushes again when it is done
    const batch = this.pending;
    if (batch.persist.length === 0 && batch.send.length === 0 && batch.deliver.length === 0 && batch.events.length === 0) return;
    this.pending = newEffects();
    if (batch.persist.length > 0) {
      if (this.o.commit === undefined) throw new Error('this role persisted records but has no storage');
      this.committing = true;
      try {
        await this.o.commit(batch.persist);
      } catch (e) {
        this.committing = false;
        this.stop();
        this.o.onFatal(e as Error);
        return;
      }
      this.committing = false;
    }
    for (const env of batch.send) this.o.send(env);
    this.o.flushSends?.();
    if (this.o.deliver !== undefined) for (const d of batch.deliver) this.o.deliver(d);
    for (const e of batch.events) logEvent(this.o.log, e);
    if (!this.scheduled && (this.pending.persist.length > 0 || this.pending.send.length > 0 || this.pending.deliver.length > 0)) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }
}

/** Core events as log lines; LibPaxos3's own wording where it had one. */
export function logEvent(log: Logger, e: CoreEvent): void {
  switch (e.kind) {
    case 'timeout':
      log.info(`Instance ${e.iid} timed out in phase ${e.phase}.`);
      return;
    case 'dropped':
      log.debug(`Dropped ${e.msg} for instance ${e.iid}: ${e.reason}`);
      return;
    case 'preempted':
      log.debug(`Instance ${e.iid} preempted by ballot ${e.by}; retrying with ballot ${e.ballot} in ${e.delayMs} ms`);
      return;
    case 'noop':
      log.debug(`Instance ${e.iid} closed with a no-op`);
      return;
    case 'requeued':
      log.debug(`Instance ${e.iid} chose another value; the client value goes back to the queue`);
      return;
    case 'value-lost':
      log.error(`Dropped ${e.iid > 0 ? `the client value(s) of instance ${e.iid}` : 'a client value'} (${e.value.length} bytes): ${VALUE_LOSS[e.reason]}`);
      return;
    case 'not-a-batch':
      log.error(
        `Instance ${e.iid} decided a value of ${e.bytes} bytes that is not a batch, although this cluster batches (proposer-batch-max-values); it was delivered as one value. A proposer without batching (C LibPaxos3's, or one reading another paxos.conf) is proposing here: give every process the same batching settings`,
      );
      return;
    case 'conflict':
      log.error(
        `Instance ${e.iid}: acceptors report two different values accepted under ballot ${e.ballot}. Two proposers used one ballot (a C LibPaxos3 proposer restarted and reused its ballots, bug B2, or two proposers share an id); Paxos safety no longer holds for this cluster: stop the proposers and check their ids`,
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
      log.error(`Acceptors trimmed up to instance ${e.trimIid}, but this learner still needs instance ${e.iid}; it cannot catch up past the trim point`);
      return;
  }
}

const VALUE_LOSS: Record<Extract<CoreEvent, { kind: 'value-lost' }>['reason'], string> = {
  'queue-full': 'the proposer queue is full',
  reserved: 'empty values and the no-op bytes are reserved for closing holes',
  'iid-space-exhausted': 'every instance id up to 4294967295 (LibPaxos3 uses 32 bits) is in use',
  'outcome-unknown': 'its instance was trimmed before this proposer learned whether it was chosen',
  'ballot-exhausted': 'a peer claimed a ballot so high that no higher one fits in 32 bits',
};

/**
 * A backend with the state machine in this process and no log: each write is applied when it
 * completes, each read served from the state. It is what a single unreplicated memcached would do,
 * and lets the connection front end be tested alone; `latency` makes requests complete out of
 * order, as they do through a log, to check that the connection keeps memcached's order anyway.
 */
import { KvStateMachine, type GetCommand, type KvResult } from '@libpaxos/paxos-kv';
import type { BackendStatus, KvBackend, KvChannel, ReadMode, ReadOutcome, WriteCommand } from './backend.js';

export interface LocalBackendOptions {
  readonly machine?: KvStateMachine;
  /** The clock stamped on each request (ms since the epoch). */
  readonly now?: () => number;
  /** Milliseconds before a request takes effect (0 or absent: at once, synchronously for reads). */
  readonly latency?: (op: string) => number;
}

export class LocalBackend implements KvBackend {
  readonly machine: KvStateMachine;
  private readonly now: () => number;
  private readonly latency: ((op: string) => number) | undefined;
  private iid = 0;
  /** Writes applied, in order (for tests). */
  applied = 0;

  constructor(o: LocalBackendOptions = {}) {
    this.machine = o.machine ?? new KvStateMachine();
    this.now = o.now ?? Date.now;
    this.latency = o.latency;
  }

  open(): KvChannel {
    return {
      write: (command: WriteCommand) => this.later(command.op, () => this.apply(command)),
      read: (command: GetCommand, _mode: ReadMode) => {
        // Served from the state, as a lease read is: the store's counters count only the log's reads.
        const run = (): ReadOutcome => ({ result: { status: 'values', hits: this.machine.store.read(command.keys, this.now()) }, local: true });
        const ms = this.latency?.(command.op) ?? 0;
        return ms > 0 ? this.later(command.op, run) : run();
      },
      close: () => undefined,
    };
  }

  status(): BackendStatus {
    const sm = this.machine;
    return { store: sm.store.stats(), leader: true, leaderId: 0, lastApplied: sm.lastApplied.iid, clock: sm.store.clock, digest: () => sm.digest() };
  }

  private apply(command: WriteCommand): KvResult {
    this.applied++;
    return this.machine.applyRequest(++this.iid, 0, { now: this.now(), command });
  }

  private later<T>(op: string, run: () => T): Promise<T> {
    const ms = this.latency?.(op) ?? 0;
    return new Promise((resolve) => (ms > 0 ? setTimeout(() => resolve(run()), ms) : resolve(run())));
  }
}

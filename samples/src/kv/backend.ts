/**
 * What a memcached connection needs from the service behind it, and nothing else: the connection
 * (connection.ts) turns bytes into commands and results into bytes; a backend decides how each
 * command is carried out. Two backends: `LocalBackend` (a state machine in this process, for the
 * front end's tests) and `Gateway` (this replica's gateway into the replicated log).
 */
import type { GetCommand, KvCommand, KvResult, StoreStats } from '@libpaxos/paxos-kv';

/**
 * How a connection's get/gets are served: `linearizable` (the default port) sees every write
 * acknowledged anywhere before the get was sent; `stale` (the `--stale-port`) reads this
 * replica's applied state as it is, which may lag the log.
 */
export type ReadMode = 'linearizable' | 'stale';

/** The commands that go through the log as writes: everything but a get and a session registration. */
export type WriteCommand = Exclude<KvCommand, GetCommand | { readonly op: 'register' }>;

/** A get's result and whether this replica answered it from its own state (for `stats`). */
export interface ReadOutcome {
  readonly result: KvResult;
  readonly local: boolean;
}

/**
 * The server could not carry a request out (no quorum in time, shutting down). The connection
 * answers SERVER_ERROR with the message, which says whether the request may still take effect.
 */
export class KvUnavailable extends Error {
  override readonly name = 'KvUnavailable';
  constructor(
    message: string,
    /** A retry may succeed (binary ETMPFAIL rather than EINTERNAL). */
    readonly temporary: boolean,
  ) {
    super(message);
  }
}

/** One client connection's way into the service. */
export interface KvChannel {
  /**
   * Carries out a command that changes state (or may: add, cas, incr…) through the log, at most
   * once however often it is retried inside the cluster; resolves with its result once this
   * replica has applied it. Rejects with `KvUnavailable`.
   */
  write(command: WriteCommand): Promise<KvResult>;
  /** A get/gets, served as `mode` says. Rejects (or throws) with `KvUnavailable`. */
  read(command: GetCommand, mode: ReadMode): ReadOutcome | Promise<ReadOutcome>;
  /**
   * The client went away. Requests already sent on are still carried out (their results are
   * dropped): a client that reconnects and finds its write applied must not find it applied twice.
   */
  close(): void;
}

/** What `stats` shows about the service behind a server. */
export interface BackendStatus {
  readonly store: StoreStats;
  /** This replica holds the leader lease. */
  readonly leader: boolean;
  /** The leader as this replica sees it (undefined: none known, or leadership off). */
  readonly leaderId: number | undefined;
  /** The last Paxos instance applied to the store. */
  readonly lastApplied: number;
  /** The store's clock: the latest time stamped on an applied request (ms since the epoch). */
  readonly clock: number;
  /**
   * A digest of the whole replicated state as of this call (equal on replicas at the same
   * position); a large store's may take several event-loop turns.
   */
  digest(): string | Promise<string>;
}

export interface KvBackend {
  open(): KvChannel;
  status(): BackendStatus;
}

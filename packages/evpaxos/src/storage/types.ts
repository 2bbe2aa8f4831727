import type { AcceptorRecord, PersistRecord } from '@libpaxos/paxos-core';

/** What an acceptor (and a replica's proposer) finds on disk at start. */
export interface StoredState {
  readonly trimIid: number;
  readonly records: readonly AcceptorRecord[];
  /** The proposer's round floor (replica mode keeps it with the acceptor's state). */
  readonly roundFloor: number;
  /** A replica that lost its storage and rejoined: instances its acceptor takes no part in (0: none). */
  readonly fence: number;
}

/**
 * Acceptor storage. The core keeps its state in memory and writes through: `commit` makes one
 * group of persist records as durable as the storage makes anything (one transaction; with
 * `lmdb-sync yes` one fsync) and resolves only then, so the replies waiting on it may go out
 * (persist before send). A commit that is done when it returns (memory; LMDB without sync, a
 * synchronous transaction) returns undefined: the replies go out in the same turn. It may then
 * throw a `StorageError` instead of rejecting. Callers commit one group at a time (the pump waits
 * for each commit; rejoin awaits its own before the pump starts): LMDB keeps its meta record as of
 * the last commit that succeeded. The `records` array is the caller's (the pump reuses it for a
 * later group): read it before returning, or before the promise settles, and never keep it.
 */
export interface AcceptorStorage {
  readonly kind: 'memory' | 'lmdb';
  /** Where the data lives, for messages. */
  readonly location: string;
  load(): StoredState;
  commit(records: readonly PersistRecord[]): Promise<void> | undefined;
  close(): Promise<void>;
}

/** The disk failed or holds something we cannot read. The message names the place. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
}

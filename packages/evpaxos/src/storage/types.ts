import type { AcceptorRecord, AcceptorRecovered, PersistRecord } from '@libpaxos/paxos-core';

/**
 * What an acceptor (and a replica's proposer) finds on disk at start. With LMDB, also an archive
 * and what paxos-core's AcceptorRecovered says of it (the highest instance of every record, the
 * highest ballot of `records`, whose archive reads the older ones' when asked, and the cut below
 * which `records` gives none).
 */
export interface StoredState extends Pick<AcceptorRecovered, 'archive' | 'highestIid' | 'maxBallot' | 'recordsAbove'> {
  readonly trimIid: number;
  /**
   * The records above the trim point: all of them, or with an `archive`, only those within the
   * memory window of the highest and within its bytes (the acceptor reads the rest from the archive
   * when it needs them; `recordsAbove` says where the cut is).
   */
  readonly records: readonly AcceptorRecord[];
  /** The proposer's round floor (replica mode keeps it with the acceptor's state). */
  readonly roundFloor: number;
  /** A replica that lost its storage and rejoined: instances its acceptor takes no part in (0: none). */
  readonly fence: number;
}

/**
 * Acceptor storage. The core keeps its state in memory (with LMDB, only its newest records: the
 * storage is its archive, paxos-core's AcceptorArchive) and writes through: `commit` makes one
 * group of persist records as durable as the storage makes anything (with LMDB, a transaction per
 * segment it writes to and one for the meta record when that changed; with `lmdb-sync yes` each
 * synced) and resolves only then, so the replies waiting on it may go out
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
  /**
   * What is on disk; `memoryWindow` and `memoryBytes` are the acceptor's (records that far below
   * the highest, or past those bytes of values, stay on disk).
   */
  load(memoryWindow: number, memoryBytes: number): StoredState;
  commit(records: readonly PersistRecord[]): Promise<void> | undefined;
  close(): Promise<void>;
}

/** The disk failed or holds something we cannot read. The message names the place. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
}

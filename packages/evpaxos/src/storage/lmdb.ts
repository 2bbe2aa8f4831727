import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { StartWindow, type AcceptorArchive, type AcceptorRecord, type PersistRecord } from '@libpaxos/paxos-core';
import { LMDB_PAGE_SIZE, MAX_SAFE_PAGE_SIZE, META_KEY, decodeMeta, decodeRecord, encodeMeta, encodeRecord, minStoredBytes, padsMeta, recordHeader, type Meta } from './record-format.js';
import { commitCause } from './commit-cause.js';
import { SEGMENT_FOLDER, SEGMENT_INSTANCES, Segments } from './segments.js';
import { syncDirectory } from '../sync-dir.js';
import { StorageError, type AcceptorStorage, type StoredState } from './types.js';

export interface LmdbOptions {
  /** `lmdb-env-path`; the acceptor's directory is `<envPath>_<aid>` (LibPaxos3). */
  readonly envPath: string;
  readonly aid: number;
  /** `lmdb-sync`: fsync every commit before its replies go out. */
  readonly sync: boolean;
  /** `lmdb-mapsize`: the initial map size; lmdb-js grows a full map instead of failing (B6). */
  readonly mapSize: number;
  /** `lmdb-page-size`: the page size of a store created here (one that exists keeps its own); default 4 KiB. */
  readonly pageSize?: number;
  /** `lmdb-segment-instances`: instances per segment of a store created here (one that exists keeps its own). */
  readonly segmentInstances?: number;
  /** `acceptor-trash-files`: delete the directory first. */
  readonly trash: boolean;
  /** Hears of trouble that does not stop the store (pages above 8 KiB at open; a trimmed segment it cannot delete; an older record that `load` left on disk and the read of their ballots for a rejoining peer found corrupt or could not read), once per cause. */
  readonly warn?: (line: string) => void;
}

/** Records below the trim point deleted in one transaction (a few ms), a loop turn apart (a store of one environment). */
export const TRIM_CHUNK = 2048;

/** The most records below the start window read in one loop turn for their ballots (`readOlder`), and the most time. */
export const OLDER_READ_RECORDS = 1024;
export const OLDER_READ_MS = 2;

/** The read of the records `load` left on disk for their highest ballot: from `next` to `upTo`. */
interface OlderRead {
  next: number;
  readonly upTo: number;
  max: number;
  /** Records found that are not records of this program. */
  corrupt: number;
  done: boolean;
  /** Its next loop turn, while it reads. */
  timer: NodeJS.Immediate | undefined;
}

/**
 * LMDB acceptor storage (lmdb-js): a folder per acceptor, uint32 keys. The folder's own
 * environment holds the meta record (trim point, round floor, fence); the records are in
 * environments of `lmdb-segment-instances` instances each inside it (segments.ts says why), which
 * a trim deletes whole, one at a time. A commit is a transaction per segment it writes to, and
 * one for the meta record, last, when that changed. A store made by an earlier build keeps its
 * records in the folder's own environment and is used as it is (`segmentInstances` 0): a
 * transaction per commit, and a trim deletes the records below it afterwards, `TRIM_CHUNK` a
 * transaction with a loop turn between (a trim of a million records took 0.8 s in one commit, a
 * stop of the whole replica, its leader's lease included). With `lmdb-sync yes` a transaction is
 * lmdb-js's asynchronous one and resolves after fsync (overlapping sync off, since lmdb-js would otherwise resolve before the flush), so the
 * event loop goes on while the disk syncs. With `no` (LibPaxos3's default) nothing is synced, and a
 * commit is a synchronous transaction on this thread: it writes the records to the file and
 * returns, typically in tens of microseconds, where an asynchronous one waited for lmdb-js's writer
 * thread and a loop turn (hundreds: replica 64 B `-o 1` ran at a third of memory storage's
 * values/s). What is durable is the same either way: a commit has reached the OS before its
 * replies leave. Either way the store's own environment (its trim point) is synced before a
 * trimmed segment is deleted.
 */
export class LmdbStorage implements AcceptorStorage, AcceptorArchive {
  readonly kind = 'lmdb';
  readonly location: string;
  /** The store's own page size (an existing store keeps its own, whatever was asked). */
  readonly pageSize: number;
  private readonly db: RootDatabase<Uint8Array, number>;
  private readonly sync: boolean;
  /** Records and the meta record are padded to this many bytes (`minStoredBytes` of the store's page size). */
  private readonly minBytes: number;
  private meta: Meta = { trimIid: 0, roundFloor: 0, fence: 0, segmentInstances: 0 };
  /** A segmented store's records (undefined: in `db`, a store of one environment); see `layout`. */
  private segments: Segments | undefined;
  private laidOut = false;
  /** How `open` was asked, for the segments' environments. */
  private readonly mapSize: number;
  private readonly newSegmentInstances: number;
  private readonly warn: ((line: string) => void) | undefined;
  /** The last deletion failure reported, so that a retry failing the same way says nothing more. */
  private lastDropFailure = '';
  /**
   * Records handed to a commit (or read at start): the acceptor may forget exactly these, and read
   * them back (paxos-core's AcceptorArchive). Weak: a record the acceptor dropped leaves it.
   */
  private readonly handed = new WeakSet<AcceptorRecord>();
  /**
   * With `lmdb-sync yes`, the records of the commit under way, by instance: a read sees them
   * before the transaction does, as the acceptor, which runs ahead of the commit, expects.
   */
  private readonly pending = new Map<number, AcceptorRecord>();
  /**
   * A store of one environment: every record at or below this is deleted; those between it and
   * the trim point may still be on disk, where nothing reads them (`load` starts above the trim
   * point, `read` answers nothing at or below it), and are deleted a chunk at a time
   * (`clearSoon`). 0 at start: a process that stopped half-way leaves some, which are found then.
   */
  private clearedUpTo = 0;
  private clearTimer: NodeJS.Immediate | undefined;
  /** A segment's deletion under way, or the asynchronous transaction of a chunk (a store of one environment, `lmdb-sync yes`). */
  private clearing: Promise<void> | undefined;
  private closed = false;
  /** The read of the records `load` left on disk for their highest ballot (`olderMaxBallot`). */
  private older: OlderRead = { next: 1, upTo: 0, max: 0, corrupt: 0, done: true, timer: undefined };
  /** The last failure of that read reported, so that a retry failing the same way says nothing more. */
  private lastOlderFailure = '';

  constructor(options: LmdbOptions) {
    this.location = `${options.envPath}_${options.aid}`;
    this.sync = options.sync;
    this.mapSize = options.mapSize;
    this.newSegmentInstances = options.segmentInstances ?? SEGMENT_INSTANCES;
    this.warn = options.warn;
    try {
      if (options.trash) rmSync(this.location, { recursive: true, force: true });
      mkdirSync(this.location, { recursive: true, mode: 0o700 });
      // A new store's folder is synced into its parent: a power cut must not take the folder
      // with the first records acknowledged from it.
      if (options.sync) syncDirectory(dirname(this.location));
      this.db = openEnvironment(this.location, options.mapSize, options.pageSize ?? LMDB_PAGE_SIZE, options.sync);
      this.pageSize = (this.db.getStats() as { pageSize: number }).pageSize;
      this.minBytes = minStoredBytes(this.pageSize);
    } catch (e) {
      throw new StorageError(`cannot open LMDB storage at ${this.location}: ${describeOpenFailure(this.location, e as NodeJS.ErrnoException)}`);
    }
    if (this.pageSize > MAX_SAFE_PAGE_SIZE) {
      // Stores of earlier builds on hosts with larger OS pages: LMDB ITS#9806 (record-format.ts).
      this.warn?.(
        `the LMDB store at ${this.location} has ${this.pageSize / 1024} KiB pages, where the LMDB inside lmdb-js can fail a write with MDB_PAGE_FULL/MDB_BAD_TXN (LMDB ITS#9806; the acceptor then stops, losing nothing it committed). Move it to a store of 4 or 8 KiB pages: wipe it and restart this replica with --rejoin, or let a new acceptor take its place`,
      );
    }
  }

  /**
   * Reads the records newest first, and only as far as the acceptor keeps them: the newest
   * `memoryWindow` instances' records, and of those no more than `memoryBytes` of values (the
   * highest always). The acceptor reads older ones from here when a prepare, accept or repeat names
   * them, as LibPaxos3's LMDB acceptor reads every record, so neither memory nor the time a start
   * takes grows with the log (`pnpm bench:lmdb-start`). Each record read is checked. The older
   * records' highest ballot, which only a rejoining peer asks for, is read when it first asks
   * (`olderMaxBallot`). A replica that rejoined loads again once its fence is written.
   */
  load(memoryWindow: number, memoryBytes: number): StoredState {
    this.layout();
    const trimIid = this.meta.trimIid;
    const window = new StartWindow(memoryWindow, memoryBytes, trimIid);
    try {
      // A uint32 key: nothing lies above a trim point of 2^32 − 1 (any peer may send that trim).
      const stored = trimIid >= 0xffff_ffff ? [] : this.segments !== undefined ? this.segments.rangeDown() : this.db.getRange({ reverse: true });
      for (const { key, value } of stored) {
        // At or below the trim point (in a store of one environment, the meta record too): done.
        if (key <= trimIid) break;
        const r = decodeRecord(key, value);
        if (typeof r === 'string') throw new StorageError(`${this.location}: ${r}; the storage is corrupt or from another program`);
        if (!window.push(r)) break;
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot read LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
    const { records, recordsAbove, highestIid, maxBallot } = window.result();
    for (const r of records) this.handed.add(r);
    // The records at or below the cut, if any, for `olderMaxBallot` (a read an earlier load began stops).
    if (this.older.timer !== undefined) clearImmediate(this.older.timer);
    this.older = { next: trimIid + 1, upTo: recordsAbove, max: 0, corrupt: 0, done: recordsAbove <= trimIid, timer: undefined };
    this.clearSoon();
    return { trimIid, records, roundFloor: this.meta.roundFloor, fence: this.meta.fence, archive: this, highestIid, maxBallot, recordsAbove };
  }

  /**
   * The highest ballot of the records `load` left on disk, once read; the first call starts that
   * read (`readOlder`) and, like every call until it is done, returns undefined. Only a rejoining
   * peer asks (it asks again every 200 ms), so a start that nobody asks reads nothing more.
   */
  olderMaxBallot(): number | undefined {
    const older = this.older;
    if (older.done) return older.max;
    if (older.timer === undefined && !this.closed) older.timer = setImmediate(() => this.readOlder(older));
    return undefined;
  }

  /**
   * One loop turn of the read of the older records' ballots: at most `OLDER_READ_RECORDS` records
   * or `OLDER_READ_MS`, then the next turn. Each record is checked as `load` checks the window's;
   * one that is not a record is reported (the acceptor stops if it ever reads it) and counts for no
   * ballot. A trim meanwhile moves the read above the trim point, whose segments are being
   * deleted. A read that fails is reported (once per cause) and resumes where it stopped at the
   * next `olderMaxBallot` call: a partial answer would understate the round floor a rejoining
   * replica takes (paxos-core's rejoin.ts).
   */
  private readOlder(older: OlderRead): void {
    older.timer = undefined;
    if (this.closed || this.older !== older) return;
    older.next = Math.max(older.next, this.meta.trimIid + 1);
    const started = performance.now();
    let n = 0;
    try {
      const { next, upTo } = older;
      const stored = next > upTo ? [] : this.segments !== undefined ? this.segments.range(next, upTo) : this.db.getRange({ start: next, end: upTo + 1 });
      for (const { key, value } of stored) {
        older.next = key + 1;
        const r = recordHeader(key, value);
        if (typeof r !== 'string') older.max = Math.max(older.max, r.ballot);
        else if (++older.corrupt === 1) this.warn?.(`${this.location}: ${r}; the storage is corrupt or from another program, and the acceptor stops if it reads this record. Restore the store, or wipe it and restart this replica with --rejoin`);
        if (++n >= OLDER_READ_RECORDS || (n % 64 === 0 && performance.now() - started >= OLDER_READ_MS)) break;
      }
    } catch (e) {
      const failure = `cannot read the older records of LMDB storage at ${this.location} for their highest ballot: ${(e as Error).message}; a replica rejoining now waits until they can be read`;
      if (failure !== this.lastOlderFailure) this.warn?.(failure);
      this.lastOlderFailure = failure;
      return;
    }
    if (older.next <= older.upTo && n > 0) {
      older.timer = setImmediate(() => this.readOlder(older));
      return;
    }
    older.done = true;
    this.lastOlderFailure = '';
    if (older.corrupt > 1) this.warn?.(`${this.location}: ${older.corrupt} records at or below instance ${older.upTo} are not records of this program (the first was reported); the acceptor stops if it reads one`);
  }

  /**
   * Reads the meta record and so learns where the records are, once, at the first load, read or
   * commit. A store with neither a meta record nor records is new: it is made segmented, and its
   * meta record (format 4, padded with pages above 4 KiB) is written now, so that earlier builds,
   * which would find no records, refuse it. A padded store of one environment (pages above 4 KiB)
   * without a meta record gets one now too, padded, so that earlier builds, which do not pad,
   * refuse it even if all its records were long enough to read. Nothing else writes yet, so a
   * synchronous transaction is safe here with either `lmdb-sync`.
   */
  private layout(): void {
    if (this.laidOut) return;
    let fresh = false;
    let metaMissing = false;
    try {
      const metaBytes = this.db.get(META_KEY);
      if (metaBytes !== undefined) {
        const meta = decodeMeta(metaBytes);
        if (typeof meta === 'string') throw new StorageError(`${this.location}: ${meta}`);
        this.meta = meta;
      } else {
        metaMissing = true;
        fresh = this.db.getKeysCount({ start: META_KEY + 1, limit: 1 }) === 0;
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot read LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
    if (fresh && readdirSync(this.location).some((f) => SEGMENT_FOLDER.test(f))) {
      // Taking these records with trim point, round floor and fence 0 could undo a rejoined
      // replica's fence: refuse.
      throw new StorageError(
        `${this.location} holds segment folders (records-<instance>) but no meta record: the store is damaged (its data.mdb was lost or replaced). Restore it, or wipe the folder and restart this replica with --rejoin`,
      );
    }
    if (fresh) this.meta = { ...this.meta, segmentInstances: this.newSegmentInstances };
    if (fresh || (metaMissing && padsMeta(this.minBytes))) {
      try {
        this.db.transactionSync(() => this.db.putSync(META_KEY, encodeMeta(this.meta, this.minBytes)));
      } catch (e) {
        throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${this.describeCause((e as Error).message)}`);
      }
    }
    if (this.meta.segmentInstances !== 0) {
      try {
        this.segments = new Segments(
          this.location,
          this.meta.segmentInstances,
          (path) => openEnvironment(path, this.mapSize, this.pageSize, this.sync),
          this.sync,
        );
      } catch (e) {
        throw new StorageError(`cannot open LMDB storage at ${this.location}: ${(e as Error).message}`);
      }
    }
    this.laidOut = true;
  }

  /** The acceptor's read of a record it forgot: the commit under way's, else the disk's. */
  read(iid: number): AcceptorRecord | undefined {
    const pending = this.pending.get(iid);
    if (pending !== undefined) return pending;
    this.layout();
    let bytes: Uint8Array | undefined;
    try {
      bytes = iid <= this.meta.trimIid ? undefined : this.segments !== undefined ? this.segments.get(iid) : this.db.get(iid);
    } catch (e) {
      throw new StorageError(`cannot read instance ${iid} from LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
    if (bytes === undefined) return undefined;
    const r = decodeRecord(iid, bytes);
    if (typeof r === 'string') throw new StorageError(`${this.location}: ${r}; the storage is corrupt or from another program`);
    return r;
  }

  holds(rec: AcceptorRecord): boolean {
    return this.handed.has(rec);
  }

  // Under `lmdb-sync no` only the *Sync calls of lmdb-js touch this environment: an asynchronous
  // put, remove or transaction would start lmdb-js's writer thread, and a `transactionSync` may then
  // join that thread's open batch and return before anything reached the OS, breaking persist
  // before send. (`syncEnvironment` before a segment's deletion is an fdatasync on a worker thread,
  // not a write: it starts no writer thread.)
  commit(records: readonly PersistRecord[]): Promise<void> | undefined {
    this.layout();
    if (this.sync) return this.commitSynced(records);
    let meta: Meta | undefined;
    try {
      const segments = this.segments;
      if (segments === undefined) {
        this.db.transactionSync(() => {
          meta = this.write(records);
        });
      } else {
        const { after, changed, puts } = this.prepare(records);
        // The records first, then the meta record (see segments.ts).
        segments.writeSync(puts);
        if (changed) this.db.transactionSync(() => this.db.putSync(META_KEY, encodeMeta(after, this.minBytes)));
        meta = after;
      }
    } catch (e) {
      throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${this.describeCause((e as Error).message)}`);
    }
    if (meta !== undefined) this.meta = meta;
    // Only now: a failed transaction leaves them unreadable here, so the acceptor must keep them.
    for (const r of records) if (r.kind === 'record') this.handed.add(r);
    this.clearSoon();
    return undefined;
  }

  /** `lmdb-sync yes`: lmdb-js's asynchronous transaction, resolved after its fsync. */
  private async commitSynced(records: readonly PersistRecord[]): Promise<void> {
    let meta: Meta | undefined;
    // Which records to clear from `pending` once this commit is done.
    const mine: AcceptorRecord[] = [];
    for (const r of records) {
      if (r.kind !== 'record') continue;
      this.pending.set(r.iid, r);
      this.handed.add(r);
      mine.push(r);
    }
    try {
      const segments = this.segments;
      if (segments === undefined) {
        await this.db.transaction(() => {
          meta = this.write(records);
        });
      } else {
        const { after, changed, puts } = this.prepare(records);
        await segments.write(puts);
        if (changed) await this.db.transaction(() => this.db.putSync(META_KEY, encodeMeta(after, this.minBytes)));
        meta = after;
      }
    } catch (e) {
      // The pump stops on a failed commit (nothing computed since may leave): the pending records
      // stay readable for whatever is still stepped before it does.
      throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${await this.describeWriteFailure(e)}`);
    }
    if (meta !== undefined) this.meta = meta;
    for (const r of mine) if (this.pending.get(r.iid) === r) this.pending.delete(r.iid);
    this.clearSoon();
  }

  /**
   * Deletes the next chunk of records below the trim point at the next loop turn, if any are left:
   * in a segmented store, the next segment wholly at or below it.
   */
  private clearSoon(): void {
    if (this.closed || this.clearTimer !== undefined || this.clearing !== undefined) return;
    const segments = this.segments;
    if (segments !== undefined) {
      const k = segments.trimmable(this.meta.trimIid);
      if (k === undefined) return;
      this.clearTimer = setImmediate(() => {
        this.clearTimer = undefined;
        // A segment that cannot be deleted now is tried again after the next commit; nothing reads
        // it. The trim point that allows the deletion is synced first (once a segment): a file
        // system journals the deletion, and a power cut must not bring back an older trim point
        // with records above it gone. Also with `lmdb-sync yes`: the trim point a start found may
        // be one that a killed process wrote and never synced.
        this.clearing = syncEnvironment(this.db)
          .then(() => segments.drop(k))
          .then(
            () => {
              this.clearing = undefined;
              this.lastDropFailure = '';
              this.clearSoon();
            },
            (e: unknown) => {
              this.clearing = undefined;
              // Every later segment waits for this one: say so (once per cause), as the disk now grows.
              const failure = `cannot delete the trimmed LMDB segment ${segments.folder(k)}: ${(e as Error).message}. The store keeps growing until it is deleted; it holds nothing the acceptor needs: remove it by hand if this persists`;
              if (failure !== this.lastDropFailure) this.warn?.(failure);
              this.lastDropFailure = failure;
            },
          );
      });
      return;
    }
    if (this.clearedUpTo >= this.meta.trimIid) return;
    this.clearTimer = setImmediate(() => {
      this.clearTimer = undefined;
      this.clearChunk();
    });
  }

  /**
   * A failed chunk (a read or a write) is tried again after the next commit: the records it left
   * are read by nothing, and a disk that fails fails that commit too, which says so.
   */
  private clearChunk(): void {
    const to = this.meta.trimIid;
    let keys: number[];
    try {
      // Read outside a write transaction: after a restart there is usually nothing left to delete.
      // A uint32 key: with a trim point of 2^32 − 1 every key from the start is below it.
      keys = [...this.db.getKeys({ start: this.clearedUpTo + 1, ...(to < 0xffff_ffff ? { end: to + 1 } : {}), limit: TRIM_CHUNK })];
    } catch {
      return;
    }
    const reached = keys.length < TRIM_CHUNK ? to : (keys[keys.length - 1] as number);
    const remove = () => {
      for (const key of keys) this.db.removeSync(key);
    };
    const done = () => {
      this.clearedUpTo = Math.max(this.clearedUpTo, reached);
      this.clearSoon();
    };
    if (keys.length === 0) done();
    else if (!this.sync) {
      try {
        this.db.transactionSync(remove);
        done();
      } catch {
        // See above.
      }
    } else {
      this.clearing = this.db.transaction(remove).then(
        () => {
          this.clearing = undefined;
          done();
        },
        async (e: unknown) => {
          await commitCause(e);
          this.clearing = undefined;
        },
      );
    }
  }

  /**
   * One group commit's records, inside a write transaction of a store of one environment. Returns
   * the meta record as it stands after them; `commit` keeps it only once the transaction
   * committed, so that a failed commit leaves the trim point, round floor and fence as they are on disk.
   */
  private write(records: readonly PersistRecord[]): Meta {
    const { after, changed } = this.prepare(records, this.putInStore);
    if (changed) this.db.putSync(META_KEY, encodeMeta(after, this.minBytes));
    return after;
  }

  /** A record's bytes into the store's own environment, inside its transaction (a store of one environment). */
  private readonly putInStore = (iid: number, bytes: Uint8Array): void => {
    this.db.putSync(iid, bytes);
  };

  /**
   * What one group commit writes: its records' bytes (handed to `put` if given, else listed in
   * `puts`), and the meta record as it stands after them.
   */
  private prepare(records: readonly PersistRecord[], put?: (iid: number, bytes: Uint8Array) => void): { after: Meta; changed: boolean; puts: [number, Uint8Array][] } {
    const meta = { ...this.meta };
    let metaChanged = false;
    const puts: [number, Uint8Array][] = [];
    for (const r of records) {
      switch (r.kind) {
        case 'record':
          if (r.iid <= meta.trimIid) break;
          if (put !== undefined) put(r.iid, encodeRecord(r, this.minBytes));
          else puts.push([r.iid, encodeRecord(r, this.minBytes)]);
          break;
        case 'trim':
          if (r.iid <= meta.trimIid) break;
          // In a store of one environment the trim point goes in with the records, as LibPaxos3
          // does; a segmented store writes it after them. Either way a crash leaves records at or
          // below it, which `load` skips, never a trim point whose records above it are missing.
          meta.trimIid = r.iid;
          metaChanged = true;
          // Its records are deleted after the commit (`clearSoon`).
          break;
        case 'round-floor':
          meta.roundFloor = Math.max(meta.roundFloor, r.round);
          metaChanged = true;
          break;
        case 'learned':
          // A split-mode proposer's (round-file.ts); a replica's application decides where it starts.
          break;
        case 'fence':
          meta.fence = r.iid;
          metaChanged = true;
          break;
      }
    }
    return { after: meta, changed: metaChanged, puts };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.clearTimer !== undefined) clearImmediate(this.clearTimer);
    if (this.older.timer !== undefined) clearImmediate(this.older.timer);
    this.clearTimer = undefined;
    await this.clearing;
    try {
      await this.segments?.close();
      await this.db.close();
    } catch (e) {
      throw new StorageError(`closing LMDB storage at ${this.location} failed: ${(e as Error).message}`);
    }
  }

  /**
   * lmdb-js rejects a failed commit with "Commit failed (see commitError for details)" and keeps
   * the cause in a second promise, which would crash the process as an unhandled rejection if
   * nobody awaited it. LMDB reports a full disk as an I/O error, so look at the free space too.
   */
  private async describeWriteFailure(e: unknown): Promise<string> {
    return this.describeCause(await commitCause(e));
  }

  /** A failed commit's cause, with what to do. LMDB reports a full disk as an I/O error, so look at the free space too. */
  private describeCause(cause: string): string {
    let free: number | undefined;
    try {
      const fs = statfsSync(this.location);
      free = fs.bavail * fs.bsize;
    } catch {
      // The free space is only a hint for the message.
    }
    if (free !== undefined && free < 1024 * 1024) {
      return `${cause}; the disk holding it is full (${free} bytes free). Free some space and restart the acceptor: everything it committed before is kept`;
    }
    return `${cause}. Check the disk, then restart the acceptor: everything it committed before is kept`;
  }
}

/**
 * An environment of this storage: the store's own, or a segment's (with the store's page size).
 * With `sync`, lmdb-js's asynchronous transactions resolve after the fsync (overlapping sync off:
 * it would resolve them before the flush); without, nothing is synced.
 */
function openEnvironment(path: string, mapSize: number, pageSize: number, sync: boolean): RootDatabase<Uint8Array, number> {
  return open<Uint8Array, number>({ path, mapSize, pageSize, noSync: !sync, overlappingSync: false, encoding: 'binary', keyEncoding: 'uint32' });
}

/**
 * Syncs an environment written without sync: lmdb-js's `sync(callback)` (open.js; not in its type
 * declarations) runs LMDB's forced `mdb_env_sync` on a worker thread.
 */
function syncEnvironment(db: RootDatabase<Uint8Array, number>): Promise<void> {
  const env = db as unknown as { sync(callback: (error?: unknown) => void): void };
  return new Promise((resolve, reject) => {
    env.sync((error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
  });
}

/** Names the likely cause: Node's recursive mkdir reports a read-only parent as ENOENT. */
function describeOpenFailure(location: string, e: NodeJS.ErrnoException): string {
  let error = e;
  if (e.code === 'ENOENT' && e.syscall === 'mkdir' && existsSync(dirname(location))) {
    try {
      mkdirSync(location, { mode: 0o700 });
    } catch (direct) {
      error = direct as NodeJS.ErrnoException;
    }
  }
  const readOnly = error.code === 'EROFS' || error.code === 'EACCES' || error.code === 'EPERM' || /read-only/i.test(error.message);
  if (readOnly) return `${error.message}. The acceptor must write there: make the directory writable, or set lmdb-env-path to a writable place`;
  return error.message;
}

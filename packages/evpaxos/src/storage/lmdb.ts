import { existsSync, mkdirSync, rmSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { StartWindow, type AcceptorArchive, type AcceptorRecord, type PersistRecord } from '@libpaxos/paxos-core';
import { META_KEY, decodeMeta, decodeRecord, encodeMeta, encodeRecord, minStoredBytes, padsMeta, type Meta } from './record-format.js';
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
  /** `acceptor-trash-files`: delete the directory first. */
  readonly trash: boolean;
}

/** Records below the trim point deleted in one transaction (a few ms), a loop turn apart. */
export const TRIM_CHUNK = 2048;

/**
 * The page size of a store created here without `pageSize` (one that exists keeps its own). LMDB's
 * own default is the OS page, which is 16 KiB on some hosts (Apple silicon) and 64 KiB on some
 * ARM64 Linux: asked explicitly, as pages above 8 KiB are not safe. `lmdb-page-size 8kb` holds batches of 2 to 4 KiB in the leaf and larger
 * ones in shorter runs of overflow pages, which a trimmed log frees and LMDB reuses slowly; pages
 * above 8 KiB are not safe with lmdb-js's LMDB (see `minStoredBytes`).
 */
export const LMDB_PAGE_SIZE = 4096;

/**
 * LMDB acceptor storage (lmdb-js): one environment per acceptor, uint32 keys, one transaction per
 * group commit. With `lmdb-sync yes` the commit is lmdb-js's asynchronous transaction and resolves
 * after fsync (overlapping sync off, since lmdb-js would otherwise resolve before the flush), so the
 * event loop goes on while the disk syncs. With `no` (LibPaxos3's default) nothing is synced, and a
 * commit is a synchronous transaction on this thread: it writes the records to the file and
 * returns, typically in tens of microseconds, where an asynchronous one waited for lmdb-js's writer
 * thread and a loop turn (hundreds: replica 64 B `-o 1` ran at a third of memory storage's
 * values/s). What is durable is the same either way: a commit has reached the OS before its
 * replies leave. A trim commits the new trim point only; the records below it are deleted
 * afterwards, `TRIM_CHUNK` a transaction with a loop turn between (a trim of a million records
 * took 0.8 s in one commit, a stop of the whole replica, its leader's lease included).
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
  private meta: Meta = { trimIid: 0, roundFloor: 0, fence: 0 };
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
   * Every record at or below this is deleted; those between it and the trim point may still be on
   * disk, where nothing reads them (`load` starts above the trim point, `read` answers nothing at
   * or below it), and are deleted a chunk at a time (`clearSoon`). 0 at start: a process that
   * stopped half-way leaves some, which are found then.
   */
  private clearedUpTo = 0;
  private clearTimer: NodeJS.Immediate | undefined;
  /** The asynchronous transaction of a chunk under way (`lmdb-sync yes`). */
  private clearing: Promise<void> | undefined;
  private closed = false;

  constructor(options: LmdbOptions) {
    this.location = `${options.envPath}_${options.aid}`;
    this.sync = options.sync;
    try {
      if (options.trash) rmSync(this.location, { recursive: true, force: true });
      mkdirSync(this.location, { recursive: true, mode: 0o700 });
      this.db = open<Uint8Array, number>({
        path: this.location,
        mapSize: options.mapSize,
        pageSize: options.pageSize ?? LMDB_PAGE_SIZE,
        noSync: !options.sync,
        overlappingSync: false,
        encoding: 'binary',
        keyEncoding: 'uint32',
      });
      this.pageSize = (this.db.getStats() as { pageSize: number }).pageSize;
      this.minBytes = minStoredBytes(this.pageSize);
    } catch (e) {
      throw new StorageError(`cannot open LMDB storage at ${this.location}: ${describeOpenFailure(this.location, e as NodeJS.ErrnoException)}`);
    }
  }

  /**
   * Reads every record once (each is checked, and the highest ballot promised is needed for a
   * rejoining peer), but keeps only the newest `memoryWindow` instances' records, and of those no
   * more than `memoryBytes` of values (the highest always), as the acceptor keeps them: it reads
   * older ones from here when a prepare, accept or repeat names them, as LibPaxos3's LMDB acceptor
   * reads every record, so memory does not grow with the log.
   */
  load(memoryWindow: number, memoryBytes: number): StoredState {
    const window = new StartWindow(memoryWindow, memoryBytes);
    try {
      const metaBytes = this.db.get(META_KEY);
      if (metaBytes === undefined) this.markPadded();
      else {
        const meta = decodeMeta(metaBytes);
        if (typeof meta === 'string') throw new StorageError(`${this.location}: ${meta}`);
        this.meta = meta;
      }
      // A uint32 key: nothing lies above a trim point of 2^32 − 1 (any peer may send that trim).
      for (const { key, value } of this.meta.trimIid >= 0xffff_ffff ? [] : this.db.getRange({ start: this.meta.trimIid + 1 })) {
        const r = decodeRecord(key, value);
        if (typeof r === 'string') throw new StorageError(`${this.location}: ${r}; the storage is corrupt or from another program`);
        if (r.iid <= this.meta.trimIid) continue;
        window.push(r);
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot read LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
    const { records, recordsAbove, highestIid, maxBallot } = window.result(this.meta.trimIid);
    for (const r of records) this.handed.add(r);
    this.clearSoon();
    return { trimIid: this.meta.trimIid, records, roundFloor: this.meta.roundFloor, fence: this.meta.fence, archive: this, highestIid, maxBallot, recordsAbove };
  }

  /**
   * A padded store (pages above 4 KiB) without a meta record gets one now, padded: earlier builds,
   * which do not pad, then refuse the store (its meta record is format 3) even if all its records
   * were long enough to read. Nothing else writes yet, so a synchronous transaction is safe here
   * with either `lmdb-sync`.
   */
  private markPadded(): void {
    if (!padsMeta(this.minBytes)) return;
    try {
      this.db.transactionSync(() => this.db.putSync(META_KEY, encodeMeta(this.meta, this.minBytes)));
    } catch (e) {
      throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${this.describeCause((e as Error).message)}`);
    }
  }

  /** The acceptor's read of a record it forgot: the commit under way's, else the disk's. */
  read(iid: number): AcceptorRecord | undefined {
    const pending = this.pending.get(iid);
    if (pending !== undefined) return pending;
    let bytes: Uint8Array | undefined;
    try {
      bytes = iid > this.meta.trimIid ? this.db.get(iid) : undefined;
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
  // before send.
  commit(records: readonly PersistRecord[]): Promise<void> | undefined {
    if (this.sync) return this.commitSynced(records);
    let meta: Meta | undefined;
    try {
      this.db.transactionSync(() => {
        meta = this.write(records);
      });
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
      await this.db.transaction(() => {
        meta = this.write(records);
      });
    } catch (e) {
      // The pump stops on a failed commit (nothing computed since may leave): the pending records
      // stay readable for whatever is still stepped before it does.
      throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${await this.describeWriteFailure(e)}`);
    }
    if (meta !== undefined) this.meta = meta;
    for (const r of mine) if (this.pending.get(r.iid) === r) this.pending.delete(r.iid);
    this.clearSoon();
  }

  /** Deletes the next chunk of records below the trim point at the next loop turn, if any are left. */
  private clearSoon(): void {
    if (this.closed || this.clearTimer !== undefined || this.clearing !== undefined || this.clearedUpTo >= this.meta.trimIid) return;
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
   * One group commit's records, inside a write transaction. Returns the meta record as it stands
   * after them; `commit` keeps it only once the transaction committed, so that a failed commit
   * leaves the trim point, round floor and fence as they are on disk.
   */
  private write(records: readonly PersistRecord[]): Meta {
    const meta = { ...this.meta };
    let metaChanged = false;
    for (const r of records) {
      switch (r.kind) {
        case 'record':
          if (r.iid > meta.trimIid) this.db.putSync(r.iid, encodeRecord(r, this.minBytes));
          break;
        case 'trim':
          if (r.iid <= meta.trimIid) break;
          // The trim point goes in first, as LibPaxos3 does: a crash half-way leaves records
          // below it, which `load` skips.
          meta.trimIid = r.iid;
          metaChanged = true;
          // Its records are deleted after the commit, a chunk at a time (`clearSoon`).
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
    if (metaChanged) this.db.putSync(META_KEY, encodeMeta(meta, this.minBytes));
    return meta;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.clearTimer !== undefined) clearImmediate(this.clearTimer);
    this.clearTimer = undefined;
    await this.clearing;
    try {
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
 * The message of a failed lmdb-js commit: the cause it keeps in a second promise (awaited here, so
 * that it never becomes an unhandled rejection), else the error's own.
 */
async function commitCause(e: unknown): Promise<string> {
  let cause = e instanceof Error ? e.message : String(e);
  const inner = (e as { commitError?: unknown } | undefined)?.commitError;
  if (inner instanceof Promise) {
    try {
      await inner;
    } catch (c) {
      cause = (c as Error).message;
    }
  }
  return cause;
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

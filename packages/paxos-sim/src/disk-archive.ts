import type { AcceptorArchive, AcceptorRecord, PersistRecord } from '@libpaxos/paxos-core';

/** What an archive sees of its node's disk (simulation.ts's `Disk`): read live, never copied. */
export interface ArchiveDisk {
  /** The synced records, above the synced trim point. */
  readonly records: ReadonlyMap<number, AcceptorRecord>;
  /** Group-commit batches handed to the disk and not yet synced, oldest first (reassigned at each sync). */
  readonly pending: readonly { readonly persist: readonly PersistRecord[] }[];
}

/**
 * An acceptor's storage as paxos-core's `AcceptorArchive` sees it (LMDB's in evpaxos), over the
 * simulated disk, for one incarnation of one node. A record is handed to storage when its step's
 * batch is pushed to the disk's pending batches (persist before send); from then on a read sees
 * it, synced or not, as LMDB's read sees the commit under way. A crash drops the pending batches
 * it does not let through and the next incarnation gets a new archive, so a write lost in the crash
 * can be neither read nor taken for held.
 */
export class DiskArchive implements AcceptorArchive {
  private readonly disk: ArchiveDisk;
  /**
   * The record objects this incarnation handed to the disk, and the ones it was given at start:
   * exactly those the acceptor may forget. By identity, as evpaxos's LMDB storage: an equal record
   * written again since (another object) is not held until it too is handed over. Weak, so the
   * records the acceptor forgot and the disk synced can go.
   */
  private readonly handed = new WeakSet<AcceptorRecord>();
  /**
   * When a write is handed over: as soon as its step's batch reaches the disk (`write`, as LMDB
   * with `lmdb-sync yes` hands a commit its records as it starts), or only once that batch is
   * synced (`sync`, as LMDB without sync marks them after its transaction). With `sync` the
   * acceptor steps on with records storage does not hold yet, several steps long, and must keep
   * them (paxos-core's `kept`).
   */
  readonly handAt: 'write' | 'sync';

  /** Records at or below it were not given at start: `olderMaxBallot` reads them. */
  private readonly cut: number;
  /** Their highest ballot, once read. */
  private older: number | undefined;

  constructor(disk: ArchiveDisk, recovered: Iterable<AcceptorRecord>, handAt: 'write' | 'sync' = 'write', cut = 0) {
    this.disk = disk;
    this.handAt = handAt;
    this.cut = cut;
    this.older = cut === 0 ? 0 : undefined;
    // Read back from the disk at start: storage holds them (paxos-core's AcceptorRecovered).
    for (const r of recovered) this.handed.add(r);
  }

  /** A step's records were pushed to the disk's pending batches: the original objects, before any copy. */
  handedOver(persist: readonly PersistRecord[]): void {
    for (const r of persist) if (r.kind === 'record') this.handed.add(r);
  }

  /**
   * As LMDB storage's: the first call reads the records at or below the start's cut that the disk
   * holds now (a trim since took some) and answers undefined, as LMDB's read takes loop turns; the
   * calls after it answer.
   */
  olderMaxBallot(): number | undefined {
    if (this.older !== undefined) return this.older;
    let max = 0;
    for (const r of this.disk.records.values()) if (r.iid <= this.cut && r.ballot > max) max = r.ballot;
    this.older = max;
    return undefined;
  }

  read(iid: number): AcceptorRecord | undefined {
    // Handed only once synced: the pending batches are not storage's yet.
    if (this.handAt === 'sync') return this.readSynced(iid);
    // Newest first: the acceptor runs ahead of the sync and must read what it last wrote.
    const pending = this.disk.pending;
    for (let b = pending.length - 1; b >= 0; b--) {
      const persist = (pending[b] as (typeof pending)[number]).persist;
      for (let i = persist.length - 1; i >= 0; i--) {
        const r = persist[i] as PersistRecord;
        if (r.kind === 'record' && r.iid === iid) return recordCopy(r);
        // A trim written after the record deleted it (the acceptor never asks that low: its own trim
        // point is at least this one, but storage answers for itself).
        if (r.kind === 'trim' && r.iid >= iid) return undefined;
      }
    }
    return this.readSynced(iid);
  }

  /** The synced record for `iid` only, not the writes pending a sync (what the `acceptor-forgets-unsynced` mutant reads). */
  readSynced(iid: number): AcceptorRecord | undefined {
    const r = this.disk.records.get(iid);
    return r === undefined ? undefined : recordCopy(r);
  }

  holds(rec: AcceptorRecord): boolean {
    return this.handed.has(rec);
  }
}

/**
 * A record with bytes of its own, as the disk keeps them and as every read gives them back (here,
 * and a restart's read-back in simulation.ts): what the process does to them cannot reach the
 * disk, nor the pending write they came from, nor another read's.
 */
export function recordCopy(r: AcceptorRecord): AcceptorRecord {
  return { ...r, value: r.value.slice() };
}

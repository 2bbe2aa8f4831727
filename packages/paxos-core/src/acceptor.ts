import { EMPTY, bytesEqual } from './bytes.js';
import { requireInt } from './config-error.js';
import { MAX_EARLIER_BALLOTS, drop, type AcceptorRecord, type Effects, type PeerId } from './effects.js';
import { dispatchInput, type Input } from './input.js';
import { InstanceTable } from './instance-table.js';
import { MAX_ACCEPTORS, MAX_UINT32, isUint32 } from './limits.js';
import { REJOIN_PENDING } from './rejoin.js';
import type { AcceptMsg, Message, PrepareMsg, RepeatMsg, TrimMsg } from './messages.js';

export interface AcceptorOptions {
  /** This acceptor's id: its index in the config's acceptor list. */
  readonly id: number;
  /** How often to broadcast acceptor_state (LibPaxos3: every second). */
  readonly stateIntervalMs?: number;
  /**
   * At most this many instances are scanned per repeat request. LibPaxos3 walks any range it is
   * given, so one repeat(1, 2^32−1) keeps it busy for hours; we answer the first part and the
   * learner asks again.
   */
  readonly maxRepeat?: number;
  /**
   * With an archive (see {@link AcceptorRecovered}), records more than this many instances below
   * the highest are forgotten once storage holds them, and read back from it when needed: memory
   * stays bounded however long the log, as LibPaxos3's LMDB acceptor, which keeps nothing in
   * memory. Default 4096, far more than the instances a proposer keeps open.
   */
  readonly memoryWindow?: number;
  /**
   * With an archive, the values of the records in memory are also held to about this many bytes
   * (default 64 MiB): past it the window shrinks, to about three quarters of it (an estimate by
   * instances, and records storage does not hold yet stay besides). A window of 4096 large values
   * (8 KiB each, or batches of up to a mebibyte) would hold gigabytes.
   */
  readonly memoryBytes?: number;
}

/** The acceptor's default memory window (instances kept in memory below the highest, with an archive). */
export const DEFAULT_MEMORY_WINDOW = 4096;
/** The default bound on the bytes of values an acceptor with an archive keeps in memory. */
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Where an acceptor reads the records it no longer keeps in memory (LMDB storage, the simulator's
 * disk). Synchronous: a memory-mapped read, as LibPaxos3's lmdb_storage_get.
 */
export interface AcceptorArchive {
  /**
   * The last record handed to storage for `iid`, whether or not its commit is done (the acceptor
   * runs ahead of a commit under way, so a read must see the writes it was handed); undefined when
   * none was.
   */
  read(iid: number): AcceptorRecord | undefined;
  /**
   * Whether storage was handed this very record (or read it at start): only then may the acceptor
   * forget it. A record written since the last commit was handed over is in the caller's effects,
   * and storage would answer with the one before it.
   */
  holds(rec: AcceptorRecord): boolean;
  /**
   * The highest ballot of the records storage held at start and did not give in `records` (those
   * at or below `recordsAbove`), or undefined while storage is still reading them (a start reads
   * only the window; LMDB storage reads the rest when first asked, over loop turns). Without this
   * method, `maxBallot` covers them.
   */
  olderMaxBallot?(): number | undefined;
}

/** What an acceptor recovers from its storage at start. */
export interface AcceptorRecovered {
  readonly trimIid: number;
  /**
   * The records above the trim point; with an archive, the newest of them: those within
   * `memoryWindow` of the highest, or fewer within `memoryBytes`, with `recordsAbove` saying so.
   */
  readonly records: Iterable<AcceptorRecord>;
  /** Instances `≤ fence` it takes no part in (it lost its storage and rejoined: rejoin.ts). */
  readonly fence?: number;
  /** Storage to read older records from; the acceptor then keeps only a window of them in memory. */
  readonly archive?: AcceptorArchive;
  /** With an archive: the highest instance with a record, of all of them. */
  readonly highestIid?: number;
  /**
   * With an archive: the highest ballot promised, of all of them, or of `records` only when the
   * archive gives the older records' (`olderMaxBallot`).
   */
  readonly maxBallot?: number;
  /**
   * With an archive: `records` holds every record above this instance (storage's cut); the
   * acceptor reads any at or below it from the archive. Default: `records` holds every record
   * (every one above `highestIid − memoryWindow` at least): a storage that gives fewer must say so
   * here, or the records it left out read as never written.
   */
  readonly recordsAbove?: number;
}

/**
 * A Paxos acceptor (LibPaxos3 §4.1). It keeps its state in memory and writes through: every
 * change is returned as a persist record, and the caller makes it durable before sending the
 * reply (persist before send), just as LibPaxos3 commits its transaction before replying. Given an
 * archive, it keeps only the newest records in memory and reads older ones back from storage.
 */
export class Acceptor {
  readonly id: number;
  private readonly stateIntervalMs: number;
  private readonly maxRepeat: number;
  /** Records above `archivedUpTo` (all of them without an archive). */
  private readonly records = new InstanceTable<AcceptorRecord>();
  private readonly archive: AcceptorArchive | undefined;
  private readonly memoryWindow: number;
  private readonly memoryBytes: number;
  /** With an archive: the bytes of the values in `records`. */
  private windowBytes = 0;
  /** Records at or below this are read from the archive, unless kept. */
  private archivedUpTo = 0;
  /** Records at or below `archivedUpTo` that storage does not hold yet (written since, or not handed over when swept). */
  private readonly kept = new Map<number, AcceptorRecord>();
  /** A quarter window: how far the window moves at a sweep, and how large `kept` grows before it is scanned. */
  private readonly sweepStep: number;
  /** `kept`'s size at which a write below the window scans it for records storage now holds. */
  private keptScanAt: number;
  private trimIid = 0;
  /** Highest iid with a record: bounds repeat scans. */
  private highestIid = 0;
  /** Highest ballot promised in any instance (for a rejoining peer: rejoin.ts), but for the archive's older records (`olderMaxBallot`). */
  private maxBallot = 0;
  /** Instances at or below it are not this acceptor's to vote in (rejoin.ts); 0: none. */
  private readonly fence: number;
  private lastStateAt: number | undefined;

  constructor(options: AcceptorOptions, recovered?: AcceptorRecovered) {
    this.id = requireInt('acceptor id', options.id, 0, MAX_ACCEPTORS - 1);
    this.stateIntervalMs = requireInt('stateIntervalMs', options.stateIntervalMs ?? 1000, 1, 3_600_000);
    this.maxRepeat = requireInt('maxRepeat', options.maxRepeat ?? 4096, 1, 1 << 20);
    this.memoryWindow = requireInt('memoryWindow', options.memoryWindow ?? DEFAULT_MEMORY_WINDOW, 1, MAX_UINT32);
    this.memoryBytes = requireInt('memoryBytes', options.memoryBytes ?? DEFAULT_MEMORY_BYTES, 1, Number.MAX_SAFE_INTEGER);
    this.sweepStep = Math.ceil(this.memoryWindow / 4);
    this.keptScanAt = this.sweepStep;
    this.fence = recovered?.fence ?? 0;
    this.archive = recovered?.archive;
    if (recovered) {
      // Read once: `records` may be a one-shot iterator.
      const records = Array.from(recovered.records);
      this.trimIid = recovered.trimIid;
      this.highestIid = recovered.highestIid ?? 0;
      this.maxBallot = recovered.maxBallot ?? 0;
      for (const r of records) {
        if (r.iid <= this.trimIid) continue;
        if (r.iid > this.highestIid) this.highestIid = r.iid;
        if (r.ballot > this.maxBallot) this.maxBallot = r.ballot;
      }
      // Storage holds every record it recovered: what is below the window stays there, and so does
      // what is at or below storage's cut (it gave no records there, whatever this window is).
      if (this.archive !== undefined) this.archivedUpTo = Math.max(this.trimIid, this.highestIid - this.memoryWindow, recovered.recordsAbove ?? 0);
      for (const r of records) {
        if (r.iid <= this.trimIid || r.iid <= this.archivedUpTo) continue;
        if (this.archive !== undefined) this.windowBytes += r.value.length - (this.records.get(r.iid)?.value.length ?? 0);
        this.records.set(r.iid, r);
      }
    }
  }

  /**
   * What a replica that lost its storage needs to know from this acceptor to rejoin safely
   * (rejoin.ts): the highest instance it holds a record for, and the highest ballot it promised.
   * Undefined while the archive is still reading its older records' ballots: the rejoining replica
   * asks again until every other replica answered.
   */
  get rejoinInfo(): { readonly highest: number; readonly maxBallot: number } | undefined {
    const older = this.archive?.olderMaxBallot === undefined ? 0 : this.archive.olderMaxBallot();
    if (older === undefined) return undefined;
    // A fence (this acceptor rejoined itself) counts as instances in use: others may have used them.
    const fence = this.fence === REJOIN_PENDING ? 0 : this.fence;
    return { highest: Math.max(this.highestIid, this.trimIid, fence), maxBallot: Math.max(this.maxBallot, older) };
  }

  /** The record for `iid`, if any, from memory or the archive. */
  record(iid: number): AcceptorRecord | undefined {
    if (iid > this.archivedUpTo) return this.records.get(iid);
    if (iid <= this.trimIid) return undefined;
    return this.kept.get(iid) ?? this.archive?.read(iid);
  }

  /** Instances up to here are trimmed (forgotten). */
  get trimPoint(): number {
    return this.trimIid;
  }

  /** Records held in memory (with an archive, about the newest `memoryWindow`, or fewer within `memoryBytes`). */
  get recordCount(): number {
    return this.records.size + this.kept.size;
  }

  step(input: Input, out: Effects): void {
    dispatchInput('an acceptor', this, input, out);
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    switch (msg.type) {
      case 'prepare':
        this.onPrepare(from, msg, out);
        return;
      case 'accept':
        this.onAccept(from, msg, out);
        return;
      case 'repeat':
        this.onRepeat(from, msg, out);
        return;
      case 'trim':
        this.onTrim(msg, out);
        return;
      case 'promise':
      case 'accepted':
      case 'preempted':
      case 'acceptor_state':
      case 'client_value':
        // LibPaxos3's acceptor has no subscriber for these either.
        drop(out, 'not-for-role', msg.type, 0);
        return;
    }
  }

  /** Every `stateIntervalMs`: tell subscribers our trim point (LibPaxos3's 1 s acceptor_state). */
  tick(now: number, out: Effects): void {
    if (this.lastStateAt !== undefined && now - this.lastStateAt < this.stateIntervalMs) return;
    this.lastStateAt = now;
    out.send.push({ to: 'subscribers', msg: { type: 'acceptor_state', aid: this.id, trimIid: this.trimIid } });
  }

  private onPrepare(from: PeerId, msg: PrepareMsg, out: Effects): void {
    const { iid, ballot } = msg;
    if (!validIid(iid) || !validBallot(ballot)) return drop(out, 'invalid', 'prepare', iid);
    if (iid <= this.trimIid) return drop(out, 'trimmed', 'prepare', iid);
    if (iid <= this.fence) return drop(out, 'fenced', 'prepare', iid);
    let rec = this.record(iid);
    if (rec === undefined) {
      // Paxos P1b: promise never to accept a ballot below `ballot`; durable before the reply.
      rec = { kind: 'record', iid, ballot, valueBallot: 0, value: EMPTY };
      this.store(rec, undefined, out);
    } else if (rec.ballot < ballot) {
      const promised: AcceptorRecord = { ...rec, ballot };
      this.store(promised, rec, out);
      rec = promised;
    }
    // An equal ballot is a duplicate prepare: answer again, nothing new to persist. A lower one
    // gets our higher promise back, LibPaxos3's rejection signal.
    out.send.push({
      to: 'peer',
      peer: from,
      msg: { type: 'promise', aid: this.id, iid, ballot: rec.ballot, valueBallot: rec.valueBallot, value: rec.value },
    });
  }

  private onAccept(from: PeerId, msg: AcceptMsg, out: Effects): void {
    const { iid, ballot, value } = msg;
    if (!validIid(iid) || !validBallot(ballot)) return drop(out, 'invalid', 'accept', iid);
    if (iid <= this.trimIid) return drop(out, 'trimmed', 'accept', iid);
    if (iid <= this.fence) return drop(out, 'fenced', 'accept', iid);
    const rec = this.record(iid);
    if (rec !== undefined && rec.ballot > ballot) {
      out.send.push({ to: 'peer', peer: from, msg: { type: 'preempted', aid: this.id, iid, ballot: rec.ballot } });
      return;
    }
    // Paxos P2b: accept unless promised higher. An equal ballot with the same value is a resend
    // (the proposer timed out): broadcast again, since an earlier accepted may have been lost.
    // The same bytes accepted before: a resend at the same ballot, or a re-proposal at a higher one.
    const again = rec !== undefined && rec.valueBallot > 0 && bytesEqual(rec.value, value);
    if (!again || rec?.valueBallot !== ballot) {
      const accepted: AcceptorRecord = again
        ? { kind: 'record', iid, ballot, valueBallot: ballot, value, earlierBallots: earlierWith(rec as AcceptorRecord) }
        : { kind: 'record', iid, ballot, valueBallot: ballot, value };
      this.store(accepted, rec, out);
    }
    out.send.push({
      to: 'subscribers',
      msg: { type: 'accepted', aid: this.id, iid, ballot, valueBallot: ballot, value },
    });
  }

  private onRepeat(from: PeerId, msg: RepeatMsg, out: Effects): void {
    const { from: first, to } = msg;
    if (!validIid(first) || !isUint32(to) || to < first) return drop(out, 'invalid', 'repeat', first);
    const start = Math.max(first, this.trimIid + 1);
    const end = Math.min(to, this.highestIid, start + this.maxRepeat - 1);
    for (let iid = start; iid <= end; iid++) {
      const rec = this.record(iid);
      // Only accepted instances are repeated. LibPaxos3 tests for an empty value instead, which
      // would leave a learner stuck at an empty no-op; we test the value ballot.
      if (rec === undefined || rec.valueBallot === 0) continue;
      // Votes are never withdrawn: a re-proposal of the same value may have moved this acceptor to
      // a newer value ballot than the quorum that chose it, so the earlier ballots go first.
      for (const b of rec.earlierBallots ?? []) {
        out.send.push({ to: 'peer', peer: from, msg: { type: 'accepted', aid: this.id, iid, ballot: b, valueBallot: b, value: rec.value } });
      }
      // LibPaxos3 sends the promised ballot here, and its learner then counts a stale value
      // towards a newer ballot's quorum (B1). We send the value ballot in both fields, which is
      // what the value was accepted under, so C learners reading `ballot` are safe too.
      out.send.push({
        to: 'peer',
        peer: from,
        msg: { type: 'accepted', aid: this.id, iid, ballot: rec.valueBallot, valueBallot: rec.valueBallot, value: rec.value },
      });
    }
  }

  private onTrim(msg: TrimMsg, out: Effects): void {
    const { iid } = msg;
    if (!isUint32(iid)) return drop(out, 'invalid', 'trim', iid);
    if (iid <= this.trimIid) return drop(out, 'stale', 'trim', iid);
    if (this.archive !== undefined) this.records.forEachUpTo(iid, (r) => (this.windowBytes -= r.value.length));
    this.records.deleteUpTo(iid);
    for (const k of this.kept.keys()) if (k <= iid) this.kept.delete(k);
    this.trimIid = iid;
    out.persist.push({ kind: 'trim', iid });
  }

  /** `replaced`: what `record(rec.iid)` gave before, the record in `records` when `rec` goes there. */
  private store(rec: AcceptorRecord, replaced: AcceptorRecord | undefined, out: Effects): void {
    if (rec.iid > this.archivedUpTo) {
      if (this.archive !== undefined) this.windowBytes += rec.value.length - (replaced?.value.length ?? 0);
      this.records.set(rec.iid, rec);
    } else {
      this.kept.set(rec.iid, rec);
      // Writes below the window while it does not move (after a prepare far ahead, say) would
      // otherwise pile up here until the next sweep.
      if (this.archive !== undefined && this.kept.size >= this.keptScanAt) this.forgetHeld(this.archive);
    }
    if (rec.iid > this.highestIid) this.highestIid = rec.iid;
    if (rec.ballot > this.maxBallot) this.maxBallot = rec.ballot;
    out.persist.push(rec);
    // Sweep a quarter window (or a quarter of the bytes) at a time, so that the walk below costs O(1) a record.
    if (this.archive === undefined) return;
    if (this.highestIid - this.archivedUpTo >= this.memoryWindow + this.sweepStep) this.sweep(this.archive, this.highestIid - this.memoryWindow);
    else if (this.windowBytes > this.memoryBytes) {
      // The window shrinks in proportion (the values of one log are about the same size, and if
      // not, the next write sweeps again), to three quarters of the bytes, keeping at least the highest.
      const span = this.highestIid - Math.max(this.archivedUpTo, this.trimIid);
      const keep = Math.max(1, Math.floor((span * 0.75 * this.memoryBytes) / this.windowBytes));
      // Nothing to forget when the highest alone is over the bytes (one value larger than them).
      if (this.highestIid - keep > this.archivedUpTo) this.sweep(this.archive, this.highestIid - keep);
    }
  }

  /**
   * Forgets the records at or below `to` that storage holds; those it does not hold yet (written
   * in effects not handed over, or during a commit under way that storage has not been given)
   * are kept until it does.
   */
  private sweep(archive: AcceptorArchive, to: number): void {
    this.forgetHeld(archive);
    // By the pages held, not by ids: a prepare far ahead (any peer may send one) moves the window
    // by billions of instances.
    this.records.forEachUpTo(to, (rec, iid) => {
      this.windowBytes -= rec.value.length;
      if (!archive.holds(rec)) this.kept.set(iid, rec);
    });
    this.records.deleteUpTo(to);
    this.archivedUpTo = to;
  }

  private forgetHeld(archive: AcceptorArchive): void {
    for (const [iid, rec] of this.kept) if (archive.holds(rec)) this.kept.delete(iid);
    // The next scan when `kept` has doubled: while storage holds none of them (a batch not yet
    // committed), scanning at every write would cost its square.
    this.keptScanAt = Math.max(this.sweepStep, 2 * this.kept.size);
  }
}

/**
 * The earlier ballots of a record that accepts the same bytes again under a higher ballot: its
 * earlier ballots plus its value ballot, as long as fewer than {@link MAX_EARLIER_BALLOTS} are
 * kept. Once full, the oldest stay and only the newest (the value ballot) moves on: the ballot at
 * which the value was chosen is among the oldest of the run, and the re-proposals that follow a
 * choice are all newer (the bound is argued in votes.ts).
 */
function earlierWith(rec: AcceptorRecord): readonly number[] {
  const earlier = rec.earlierBallots ?? [];
  return earlier.length >= MAX_EARLIER_BALLOTS ? earlier : [...earlier, rec.valueBallot];
}

function validIid(iid: number): boolean {
  return isUint32(iid) && iid >= 1;
}

function validBallot(ballot: number): boolean {
  return Number.isInteger(ballot) && ballot >= 1 && ballot <= MAX_UINT32;
}

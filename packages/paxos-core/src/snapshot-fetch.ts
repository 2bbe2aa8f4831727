import { requireInt } from './config-error.js';
import type { Effects, PeerId } from './effects.js';
import { sameRef, type SnapshotIoResult, type SnapshotMessage, type SnapshotRef } from './snapshot-messages.js';

export interface SnapshotFetchOptions {
  /** Bytes asked for per `snapshot_get` (evpaxos default 1 MiB). */
  readonly chunkBytes?: number;
  /** Chunks asked for or being written at once: bounds the memory a transfer takes on both sides. */
  readonly window?: number;
  /** After a query, wait this long for offers before picking one. */
  readonly offerWaitMs?: number;
  /** Ask again this often while no peer offers a checkpoint that is new enough. */
  readonly retryMs?: number;
  /** A transfer that receives nothing for this long asks the peers again and resumes. */
  readonly stallMs?: number;
  /** What a previous incarnation left staged (recovered at start): a transfer of it resumes. */
  readonly staged?: SnapshotRef;
  /**
   * A learner stuck this long on an instance while later ones are known fetches a checkpoint at
   * or above it (an acceptor that lost its storage can take with it a vote the instance needed to
   * be learned from the acceptors). One that moves, but has not reached in this long the
   * instances it knew of this long ago, asks its peers once for a checkpoint ahead of it: such
   * lost votes leave instances that only a re-proposal, one round trip each, gets it past. 0: never.
   */
  readonly stuckMs?: number;
}

type Phase = 'idle' | 'querying' | 'opening' | 'fetching' | 'verifying' | 'installing';

/**
 * Fetching a checkpoint from a peer, for a learner that cannot catch up from the log because a
 * quorum of acceptors trimmed instances it still needs (etcd raft's InstallSnapshot, PhxPaxos's
 * checkpoint receiver). Pure: it decides, its shell moves bytes (`SnapshotEffect`s).
 *
 * 1. Ask every peer for its newest checkpoint; after `offerWaitMs` take the offer that lets the
 *    learner continue from the log (instance ≥ `minIid`, the trim point of a quorum), preferring
 *    the one already partly staged, else the newest; none: ask again after `retryMs`.
 * 2. `open` the staged copy (what is staged for the same checkpoint is kept: a transfer resumes
 *    where it stopped, after a dropped connection or a restart of this node).
 * 3. Ask for consecutive chunks, at most `window` not yet written at once, so neither side holds
 *    more than `window` chunks in memory however large the checkpoint; accept a chunk only at the
 *    next offset expected, write it, count it when written. Nothing arriving for `stallMs`: back to
 *    step 1, keeping what is staged.
 * 4. All bytes written: `verify` the checksum (a failure discards the copy and starts over), then
 *    `install` (the shell restores the application's state from it), and only then report the
 *    instance done (`installed`), so the learner continues from the log after it.
 */
export class SnapshotFetch {
  private readonly chunkBytes: number;
  private readonly window: number;
  private readonly offerWaitMs: number;
  private readonly retryMs: number;
  private readonly stallMs: number;
  /** See SnapshotFetchOptions.stuckMs. */
  readonly stuckMs: number;
  private phase: Phase = 'idle';
  /** A checkpoint of an instance below it would not help: offers must be at least this new. */
  private minIid = 0;
  /** Once the learner reaches it from the log, the transfer is moot (≥ `minIid`; see `behind`). */
  private goal = 0;
  /** A learner that lags asked (`lagging`): one round of offers, no asking again if none helps. */
  private once = false;
  private queriedAt = 0;
  private offers = new Map<PeerId, SnapshotRef>();
  /** What is (or may be) staged: the checkpoint of the current or last transfer. */
  private staged: SnapshotRef | undefined;
  private ref: SnapshotRef | undefined;
  private peer: PeerId = -1;
  /** Next offset to ask for, next offset expected to arrive, bytes written. */
  private requested = 0;
  private received = 0;
  private written = 0;
  private lastProgressAt = 0;
  private now = 0;
  /** Transfers started, resumed and completed (for tests and metrics). */
  readonly stats = { started: 0, resumed: 0, installed: 0, rejected: 0 };

  constructor(options: SnapshotFetchOptions = {}) {
    this.chunkBytes = requireInt('snapshot chunk size', options.chunkBytes ?? 1 << 20, 1, 1 << 30);
    this.window = requireInt('snapshot window', options.window ?? 4, 1, 1024);
    this.offerWaitMs = requireInt('offerWaitMs', options.offerWaitMs ?? 200, 0, 3_600_000);
    this.retryMs = requireInt('retryMs', options.retryMs ?? 1000, 1, 3_600_000);
    this.stallMs = requireInt('stallMs', options.stallMs ?? 5000, 1, 3_600_000);
    this.stuckMs = requireInt('stuckMs', options.stuckMs ?? 30_000, 0, 86_400_000);
    this.staged = options.staged;
  }

  /** Whether a transfer is under way (the learner is waiting for it). */
  get active(): boolean {
    return this.phase !== 'idle';
  }

  /**
   * The shell is replacing the application's state with the checkpoint: the learner must deliver
   * nothing until that is done (deliveries now would be applied to a state about to be replaced).
   */
  get installing(): boolean {
    return this.phase === 'installing';
  }

  /**
   * The learner reached instance `next` from the log after all (the acceptors it was missing came
   * back, or the trim it feared was one acceptor's only): a transfer not yet being installed is
   * given up, keeping what is staged for a later one.
   */
  progressed(next: number, out: Effects): void {
    if (this.phase === 'idle' || this.phase === 'installing' || next <= this.minIid) return;
    if (next > this.goal) {
      out.events.push({ kind: 'snapshot', step: 'caught-up', iid: this.ref?.iid ?? 0, bytes: this.written, peer: this.peer });
      this.reset();
      return;
    }
    // Moving, but still short of the goal (a learner far behind, crawling through instances
    // that only re-proposals decide): a checkpoint still ahead of it is worth finishing. Giving
    // the transfer up at every instance decided meant it never finished (sim seed 853: a replica
    // crawled from instance 1 to 294 in 60 s, one re-proposal at a time, while peers offered a
    // checkpoint of instance 400). One the learner has passed is not worth it any more.
    this.minIid = next;
    if (this.ref !== undefined && this.ref.iid < next && (this.phase === 'opening' || this.phase === 'fetching' || this.phase === 'verifying')) this.query(out);
  }

  /** The checkpoint being fetched, if any. */
  get target(): SnapshotRef | undefined {
    return this.ref;
  }

  /** Bytes of it written so far. */
  get progress(): number {
    return this.written;
  }

  /**
   * A quorum of acceptors trimmed everything ≤ `minIid`, instances the learner still needs (or it
   * is stuck at `minIid`): it needs a checkpoint of an instance ≥ `minIid`. Starts (or retargets) a
   * transfer, asking again until a peer offers one, unless the learner gets past `minIid` from the
   * log after all.
   */
  behind(minIid: number, now: number, out: Effects): void {
    this.now = now;
    this.once = false;
    if (this.phase === 'idle' || minIid > this.goal) this.goal = minIid;
    if (minIid <= this.minIid && this.phase !== 'idle') return;
    this.minIid = Math.max(this.minIid, minIid);
    if (this.phase === 'idle') {
      this.query(out);
      return;
    }
    // The trim moved past the checkpoint being fetched: it would not let the learner continue.
    if (this.ref !== undefined && this.ref.iid < this.minIid && (this.phase === 'fetching' || this.phase === 'opening')) this.query(out);
  }

  /**
   * The learner moves, but lags far behind (it did not reach, in `stuckMs`, the instances it knew
   * of by then): a checkpoint of an instance ≥ `minIid`, the one it is on, gets it ahead. One round
   * of offers only: if no peer has one that new, it is probably not far behind its peers but with
   * them (every replica re-proposing the same instances), and asking peers again and again would
   * only make them write a checkpoint at every instance. The transfer started goes on until the
   * learner gets past `goal`, the highest instance it knows of, from the log.
   */
  lagging(minIid: number, goal: number, now: number, out: Effects): void {
    this.now = now;
    if (this.phase !== 'idle') {
      if (goal > this.goal) this.goal = goal;
      return;
    }
    this.once = true;
    this.goal = Math.max(goal, minIid);
    this.minIid = minIid;
    this.query(out);
  }

  /** Time passes: pick an offer, ask again, or resume a stalled transfer. */
  tick(now: number, out: Effects): void {
    this.now = now;
    if (this.phase === 'querying') {
      if (now - this.queriedAt < this.offerWaitMs) return;
      const pick = this.pick();
      if (pick !== undefined) this.open(pick[0], pick[1], out);
      else if (now - this.queriedAt >= this.retryMs) {
        if (this.once) {
          out.events.push({ kind: 'snapshot', step: 'none-ahead', iid: this.minIid, bytes: 0, peer: -1 });
          this.reset();
        } else {
          this.query(out);
        }
      }
    } else if (this.phase === 'fetching' && now - this.lastProgressAt >= this.stallMs) {
      out.events.push({ kind: 'snapshot', step: 'stalled', iid: this.ref?.iid ?? 0, bytes: this.written, peer: this.peer });
      this.query(out);
    }
  }

  /** A snapshot message from `from`. */
  receive(from: PeerId, msg: SnapshotMessage, out: Effects): void {
    switch (msg.type) {
      case 'snapshot_offer':
        if (this.phase !== 'querying' || msg.iid === 0) return;
        if (!Number.isInteger(msg.iid) || msg.iid < 0 || !Number.isInteger(msg.size) || msg.size < 0) return;
        this.offers.set(from, { iid: msg.iid, size: msg.size, sum: msg.sum, reports: msg.reports, ...(msg.master !== undefined ? { master: msg.master } : {}) });
        return;
      case 'snapshot_chunk':
        this.onChunk(from, msg, out);
        return;
      case 'snapshot_query':
      case 'snapshot_get':
        // Serving checkpoints is the shell's (it holds the files); nothing for a fetcher.
        return;
    }
  }

  /** The shell finished a step. Returns the checkpoint installed, when this result completed a transfer. */
  io(result: SnapshotIoResult, out: Effects): SnapshotRef | undefined {
    if (!sameRef(result.ref, this.ref)) return undefined;
    const ref = this.ref as SnapshotRef;
    switch (result.kind) {
      case 'opened':
        if (this.phase !== 'opening') return undefined;
        this.phase = 'fetching';
        this.requested = this.received = this.written = Math.min(Math.max(0, result.have), ref.size);
        if (this.written > 0) this.stats.resumed++;
        this.lastProgressAt = this.now;
        out.events.push({ kind: 'snapshot', step: this.written > 0 ? 'resumed' : 'started', iid: ref.iid, bytes: this.written, peer: this.peer, size: ref.size, ...(this.once ? { lagging: true } : {}) });
        this.pump(out);
        return undefined;
      case 'written':
        if (this.phase !== 'fetching' || result.offset !== this.written) return undefined;
        this.written += result.length;
        this.lastProgressAt = this.now;
        this.pump(out);
        return undefined;
      case 'verified':
        if (this.phase !== 'verifying') return undefined;
        if (!result.ok) {
          this.stats.rejected++;
          out.events.push({ kind: 'snapshot', step: 'rejected', iid: ref.iid, bytes: ref.size, peer: this.peer });
          out.snapshot.push({ kind: 'discard', ref });
          this.staged = undefined;
          this.query(out);
          return undefined;
        }
        this.phase = 'installing';
        out.snapshot.push({ kind: 'install', ref });
        return undefined;
      case 'installed':
        if (this.phase !== 'installing') return undefined;
        if (!result.ok) {
          // The application could not restore from it: try another (or the same) checkpoint later.
          out.events.push({ kind: 'snapshot', step: 'restore-failed', iid: ref.iid, bytes: ref.size, peer: this.peer });
          this.staged = undefined;
          this.query(out);
          return undefined;
        }
        this.stats.installed++;
        out.events.push({ kind: 'snapshot', step: 'installed', iid: ref.iid, bytes: ref.size, peer: this.peer });
        this.staged = undefined;
        this.reset();
        return ref;
    }
  }

  /** No transfer under way (what is staged stays, for a later one to resume). */
  private reset(): void {
    this.phase = 'idle';
    this.ref = undefined;
    this.minIid = 0;
    this.goal = 0;
    this.once = false;
    this.offers.clear();
  }

  private query(out: Effects): void {
    this.phase = 'querying';
    this.queriedAt = this.now;
    this.offers = new Map();
    // What is staged is worth resuming only while it is new enough; peers offer it in place of their newest.
    const resume = this.staged !== undefined && this.staged.iid >= this.minIid ? this.staged : undefined;
    out.snapshot.push({ kind: 'query', msg: { type: 'snapshot_query', need: this.minIid, resume } });
  }

  /** The offer to take: the staged checkpoint if offered and new enough, else the newest. */
  private pick(): [PeerId, SnapshotRef] | undefined {
    let best: [PeerId, SnapshotRef] | undefined;
    for (const [peer, ref] of this.offers) {
      if (ref.iid < this.minIid) continue;
      if (sameRef(ref, this.staged)) return [peer, ref];
      if (best === undefined || ref.iid > best[1].iid || (ref.iid === best[1].iid && peer < best[0])) best = [peer, ref];
    }
    return best;
  }

  private open(peer: PeerId, ref: SnapshotRef, out: Effects): void {
    this.phase = 'opening';
    this.peer = peer;
    this.ref = ref;
    if (!sameRef(ref, this.staged)) this.stats.started++;
    this.staged = ref;
    out.snapshot.push({ kind: 'open', ref });
  }

  private onChunk(from: PeerId, msg: Extract<SnapshotMessage, { type: 'snapshot_chunk' }>, out: Effects): void {
    const ref = this.ref;
    if (this.phase !== 'fetching' || ref === undefined || from !== this.peer || msg.iid !== ref.iid || !sameRef({ ...ref, sum: msg.sum }, ref)) return;
    if (msg.gone) {
      // The peer dropped that checkpoint (it keeps only its newest): ask around again.
      out.events.push({ kind: 'snapshot', step: 'gone', iid: ref.iid, bytes: this.written, peer: from });
      this.query(out);
      return;
    }
    // Only the next bytes expected: a late duplicate of a chunk asked for before a resume is dropped.
    if (msg.offset !== this.received || msg.data.length === 0 || msg.offset + msg.data.length > ref.size) return;
    this.received += msg.data.length;
    this.lastProgressAt = this.now;
    out.snapshot.push({ kind: 'write', ref, offset: msg.offset, data: msg.data });
  }

  /** Asks for more while the window allows; verifies once everything is written. */
  private pump(out: Effects): void {
    const ref = this.ref as SnapshotRef;
    if (this.written >= ref.size) {
      this.phase = 'verifying';
      out.events.push({ kind: 'snapshot', step: 'received', iid: ref.iid, bytes: ref.size, peer: this.peer });
      out.snapshot.push({ kind: 'verify', ref });
      return;
    }
    // A chunk asked for but lost (the connection dropped) leaves `received` behind `requested`:
    // the stall timeout resumes from what was written.
    while (this.requested < ref.size && this.requested - this.written < this.window * this.chunkBytes) {
      const length = Math.min(this.chunkBytes, ref.size - this.requested);
      out.snapshot.push({ kind: 'send', peer: this.peer, msg: { type: 'snapshot_get', iid: ref.iid, sum: ref.sum, offset: this.requested, length } });
      this.requested += length;
    }
  }
}

import { InvariantError, assertNever } from './assert.js';
import { requireInt } from './config-error.js';
import { decodeBatch } from './batch.js';
import { Leadership, type LeaderView, type LeadershipOptions, type MasterState } from './leadership.js';
import { CheckpointTrim, DEFAULT_TRIM_REPORTERS } from './checkpoint-policy.js';
import { controlValue } from './control-value.js';
import { SnapshotFetch, type SnapshotFetchOptions } from './snapshot-fetch.js';
import type { SnapshotIoResult, SnapshotMessage } from './snapshot-messages.js';
import { drop, emptyArray, type Decision, type Delivery, type Effects, type PeerId } from './effects.js';
import { dispatchInput, type Input } from './input.js';
import { FIRST_IID, MAX_ACCEPTORS, MAX_UINT32, isUint32, quorumSize } from './limits.js';
import type { AcceptedMsg, Message } from './messages.js';
import { valueDigest, type AcceptedDigestMsg } from './accepted-digest.js';
import { InstanceVotes } from './votes.js';
import { bytesEqual } from './bytes.js';

export interface LearnerOptions {
  /** Number of acceptors (quorum = floor(n/2)+1). */
  readonly acceptors: number;
  /**
   * `learner-catch-up` (LibPaxos3, default yes): start at instance 1 and fetch everything. With
   * `false` the learner starts at the first instance it hears of (the sample client does this).
   */
  readonly catchUp?: boolean;
  /** How often to check for holes (LibPaxos3: 100 ms). */
  readonly repeatIntervalMs?: number;
  /** Instances asked for per repeat. LibPaxos3 asks for at most 11 (B8). */
  readonly repeatBatch?: number;
  /** An idle learner probes for instances it has not heard of this often (B8). */
  readonly probeIntervalMs?: number;
  /** Instances further than this beyond the next one to deliver are not buffered. */
  readonly window?: number;
  /** Batching is on in this cluster: every non-empty decided value is a batch to unpack. */
  readonly batched?: boolean;
  /**
   * Leadership is on in this cluster: follow the master operations in the log, so that `leader()`
   * answers (a plain learner never campaigns). Master operations are never delivered either way.
   */
  readonly leadership?: LeadershipOptions;
  /**
   * Trim by the lowest checkpoint (checkpoint-policy.ts): on each checkpoint report in the log, ask
   * every acceptor to trim up to `hold` instances below the lowest report, when that rose, once
   * `reporters` nodes have reported (default 2, or 1 with a single acceptor: a one-node cluster);
   * with `nodes`, only reports from nodes 0..nodes − 1 count (a replica sets its replica count).
   */
  readonly checkpointTrim?: { readonly hold: number; readonly reporters?: number; readonly nodes?: number };
  /**
   * Fetch a checkpoint from a peer when a quorum of acceptors trimmed instances this learner still
   * needs (snapshot-fetch.ts), instead of only saying that it cannot catch up.
   */
  readonly snapshots?: SnapshotFetchOptions;
}

/**
 * Values held per instance for digest votes, at most: the newest ballots win (one dropped only
 * costs a repeat of that instance).
 */
const MAX_HELD = 4;

/** A value this learner holds for (iid, ballot), received in full (an accept, or an accepted). */
interface Held {
  readonly ballot: number;
  value: Uint8Array;
  /** Its digest, once a vote was checked against it (each remote acceptor's vote needs it). */
  digest: [number, number] | undefined;
  /**
   * `value` is still the caller's bytes (`holdValue`: its acceptor's record): before the first vote
   * counts with them they are replaced by bytes of the learner's own (an equal full vote's, else a
   * copy), so that what is delivered never is the record.
   */
  borrowed: boolean;
}

/** An instance not yet delivered: its votes, and its value once a quorum agrees. */
class Pending extends InstanceVotes {
  closed: Uint8Array | undefined = undefined;
  /** Values of accepts seen for this instance, by ballot (see `Learner.holdValue`); null: none. */
  held: Held[] | null = null;
  /** Digest votes waiting for a value of their ballot; null: none. */
  waiting: AcceptedDigestMsg[] | null = null;
  /** A quorum of digest votes came without a value: it was put on the list to ask for. */
  missing = false;
}

/**
 * A learner (LibPaxos3 §4.3): counts accepted messages per instance and delivers decided values in
 * instance order, gap-free, once each, repairing holes by asking acceptors to repeat.
 *
 * Fixes: B1 (an instance closes only on a quorum that agrees on value ballot *and* value bytes,
 * never on the promised ballot that repeat replies carry), B8 (catch-up asks for `repeatBatch`
 * instances, asks for the next range as soon as one is delivered, and probes in an idle cluster).
 * No-op values (empty) close holes and are skipped, not delivered.
 *
 * Digest votes (accepted-digest.ts, a replica's peers with `accepted-digests`): an accepted without
 * its value counts only as a vote for a value this learner received in full for exactly that
 * (iid, value ballot) — the accept its acceptor received (`holdValue`), or a full accepted — and
 * whose size and digest match; a quorum of them without such a value asks for it by repeat.
 */
export class Learner {
  readonly quorum: number;
  private readonly acceptors: number;
  private readonly repeatIntervalMs: number;
  private readonly repeatBatch: number;
  private readonly probeIntervalMs: number;
  private readonly window: number;
  private readonly batched: boolean;
  private readonly pending = new Map<number, Pending>();
  /** Next instance to deliver. */
  private current = FIRST_IID;
  private lateStart: boolean;
  /** Highest instance any accepted message mentioned. */
  private highestSeenIid = 0;
  private now = 0;
  private lastRepeatAt = Number.NEGATIVE_INFINITY;
  /** `current` when the last hole check ran: a hole is an instance that did not move for a period. */
  private currentAtLastCheck = 0;
  /** When delivery last advanced; −∞ so that a new learner probes at its first tick. */
  private lastProgressAt = Number.NEGATIVE_INFINITY;
  /**
   * When `current` last moved (for a learner stuck on an instance: see SnapshotFetchOptions.stuckMs);
   * undefined until the first tick: time is the shell's clock, which need not start at 0.
   */
  private advancedAt: number | undefined = undefined;
  /**
   * For a learner that lags (see SnapshotFetchOptions.stuckMs): the highest instance known when
   * the current window began, when that was (undefined until the first tick), and the instance the
   * learner was on then. A learner that keeps up reaches that instance within the window.
   */
  private lagMark = 0;
  private lagSince: number | undefined = undefined;
  private lagFrom = 0;
  /** End of the range of the last repeat sent; −1 when none is outstanding. */
  private repeatingTo = -1;
  /** When each acceptor was last asked for a range because its connection came up (`acceptorConnected`). */
  private readonly connectRepeats = new Map<PeerId, { readonly at: number; readonly from: number }>();
  private reportedTrim = 0;
  /** Each acceptor's trim point as its acceptor_state said (the highest heard of; 0: none). */
  private readonly trims: number[];
  private readonly trimPolicy: CheckpointTrim | undefined;
  private readonly fetch: SnapshotFetch | undefined;
  private readonly follower: Leadership | undefined;
  /** The instance a snapshot installed by the last input moved this learner to (0: none). */
  lastInstalled = 0;
  /** The leadership state that snapshot carried, as of its instance (undefined: none). */
  lastInstalledMaster: MasterState | undefined = undefined;
  /**
   * Instances decided by the last input (any entry point), in order, no-ops included (a no-op has
   * an empty value). The replica composition feeds them to its proposer.
   */
  readonly lastDecided: Decision[] = [];
  /**
   * Digest votes the last input counted, each as the full accepted it stands for (the value this
   * learner held and checked): the replica composition shows them to its proposer too, as it
   * shows it every accepted.
   */
  readonly lastResolved: AcceptedMsg[] = [];
  /**
   * Instances a quorum of digest votes named without a value held, since the last tick (`missingNew`)
   * and since the one before (`missing`, asked for at this tick). Two ticks, not one: a node that
   * was stalled (a busy machine) runs its timers before it reads its sockets, so at the first tick
   * after the quorum the accept with the value may be waiting unread, and asking then would bring
   * every acceptor's copy of values that were on their way anyway.
   */
  private readonly missing = new Set<number>();
  private readonly missingNew = new Set<number>();

  constructor(options: LearnerOptions) {
    this.acceptors = requireInt('acceptor count', options.acceptors, 1, MAX_ACCEPTORS);
    this.quorum = quorumSize(this.acceptors);
    this.lateStart = options.catchUp === false;
    this.repeatIntervalMs = requireInt('repeatIntervalMs', options.repeatIntervalMs ?? 100, 1, 3_600_000);
    this.repeatBatch = requireInt('repeatBatch', options.repeatBatch ?? 1024, 1, 1 << 20);
    this.probeIntervalMs = requireInt('probeIntervalMs', options.probeIntervalMs ?? 1000, 1, 3_600_000);
    this.window = requireInt('window', options.window ?? 1 << 16, 1, 1 << 24);
    this.batched = options.batched ?? false;
    this.follower = options.leadership === undefined ? undefined : new Leadership(options.leadership, undefined, 0);
    this.trims = new Array<number>(this.acceptors).fill(0);
    this.trimPolicy = options.checkpointTrim === undefined ? undefined : new CheckpointTrim(options.checkpointTrim.hold, options.checkpointTrim.reporters ?? Math.min(DEFAULT_TRIM_REPORTERS, this.acceptors), options.checkpointTrim.nodes);
    this.fetch = options.snapshots === undefined ? undefined : new SnapshotFetch(options.snapshots);
  }

  /** The snapshot transfer, when this learner fetches snapshots (for inspection). */
  get snapshotFetch(): SnapshotFetch | undefined {
    return this.fetch;
  }

  /** The checkpoint trim policy, when this learner trims by checkpoints (for inspection). */
  get checkpointTrim(): CheckpointTrim | undefined {
    return this.trimPolicy;
  }

  /** Clears what the last input reported (every entry point starts with it). */
  private begin(): void {
    emptyArray(this.lastDecided);
    emptyArray(this.lastResolved);
    this.lastInstalled = 0;
    this.lastInstalledMaster = undefined;
  }

  /** Highest instance any accepted message mentioned: beyond `nextIid`, there is more to learn. */
  get highestSeen(): number {
    return this.highestSeenIid;
  }

  /** The leader at `now` as the master operations this learner delivered say (leadership on). */
  leader(now: number): LeaderView | undefined {
    return this.follower?.leader(now);
  }

  /** Leadership's log-determined state as of the last instance learned (leadership on; see `Leadership.state`). */
  masterState(): MasterState | undefined {
    return this.follower?.state();
  }

  /** Leadership's state as of instance `iid`, for a checkpoint of it (see `Leadership.stateAsOf`). */
  masterStateAsOf(iid: number): MasterState | undefined {
    return this.follower?.stateAsOf(iid);
  }

  /** The next instance to deliver. */
  get nextIid(): number {
    return this.current;
  }

  /** Instances buffered ahead of `nextIid`. */
  get bufferedCount(): number {
    return this.pending.size;
  }

  step(input: Input, out: Effects): void {
    dispatchInput('a learner', this, input, out);
  }

  receive(_from: PeerId, msg: Message, out: Effects): void {
    this.begin();
    switch (msg.type) {
      case 'accepted':
        this.onAccepted(msg, out);
        return;
      case 'acceptor_state':
        this.onAcceptorState(msg.aid, msg.trimIid, out);
        return;
      case 'prepare':
      case 'promise':
      case 'accept':
      case 'preempted':
      case 'repeat':
      case 'trim':
      case 'client_value':
        drop(out, 'not-for-role', msg.type, 0);
        return;
    }
  }

  tick(now: number, out: Effects): void {
    this.begin();
    this.now = now;
    this.follower?.tick(now, true, 0, out);
    this.fetch?.tick(now, out);
    const fetch = this.fetch;
    if (fetch !== undefined && fetch.stuckMs > 0 && !this.lateStart) this.watchLag(fetch, now, out);
    if (this.missing.size > 0) this.askMissing(out);
    if (this.missingNew.size > 0) {
      for (const iid of this.missingNew) this.missing.add(iid);
      this.missingNew.clear();
    }
    if (now - this.lastRepeatAt < this.repeatIntervalMs) return;
    this.lastRepeatAt = now;
    if (this.lateStart) return;
    const stuck = this.current === this.currentAtLastCheck;
    this.currentAtLastCheck = this.current;
    if (stuck && this.highestSeenIid >= this.current) {
      // A hole: `current` did not close for a whole period although later instances exist.
      this.requestRepeat(out);
    } else if (now - this.lastProgressAt >= this.probeIntervalMs) {
      // Idle: maybe acceptors hold instances nobody told us about (LibPaxos3 never asks, B8).
      this.lastProgressAt = now;
      this.requestRepeat(out);
    }
  }

  /**
   * LibPaxos3's set-instance-id: instances `≤ iid` are done (e.g. restored from a checkpoint, or
   * trimmed by the acceptors). An instance above them that was closed already is delivered at
   * once: its votes will not come again (later copies are duplicates of a closed instance).
   * `master`: leadership's state as of `iid` (a checkpoint's), which a following learner takes;
   * without it the master operations in the skipped instances are unknown to it.
   */
  setInstanceId(iid: number, out?: Effects, master?: MasterState): void {
    if (!isUint32(iid)) throw new InvariantError(`set-instance-id ${iid} is not a uint32`);
    this.begin();
    if (iid >= this.current && this.follower !== undefined) {
      if (master !== undefined) this.follower.restore(master, this.now, out);
      else this.follower.jump(this.now, out);
    }
    for (const key of this.pending.keys()) if (key <= iid) this.pending.delete(key);
    this.current = iid + 1;
    this.restartLagWatch();
    this.currentAtLastCheck = 0;
    this.lateStart = false;
    this.repeatingTo = -1;
    if (out !== undefined && this.pending.get(this.current)?.closed !== undefined) this.deliverReady(out);
  }

  /** Ask every acceptor to trim instances `≤ iid`. */
  trim(iid: number, out: Effects): void {
    if (!isUint32(iid) || iid < 1) throw new InvariantError(`trim ${iid} is not a positive uint32`);
    this.begin();
    out.send.push({ to: 'acceptors', msg: { type: 'trim', iid } });
  }

  /** A snapshot transfer message from a peer (ignored unless this learner fetches snapshots). */
  receiveSnapshot(from: PeerId, msg: SnapshotMessage, out: Effects): void {
    this.begin();
    this.fetch?.receive(from, msg, out);
  }

  /**
   * The shell finished a snapshot file step. When that installed a checkpoint (the application's
   * state is now the checkpoint's), the learner continues from the log after its instance.
   */
  snapshotIo(result: SnapshotIoResult, out: Effects): void {
    this.begin();
    const ref = this.fetch?.io(result, out);
    if (ref === undefined || ref.iid < this.current) return;
    this.trimPolicy?.restore(ref.reports ?? [], ref.iid);
    this.setInstanceId(ref.iid, out, ref.master);
    this.lastInstalled = ref.iid;
    this.lastInstalledMaster = ref.master;
  }

  /**
   * At a restart from a checkpoint of instance `iid`: the checkpoint reports it carries (see
   * `CheckpointTrim.reportsAsOf`), so that this learner trims knowing every reporter.
   */
  restoreReports(reports: readonly (readonly [number, number])[], iid: number): void {
    this.trimPolicy?.restore(reports, iid);
  }

  /** Whether `node` should report its checkpoint of `iid` (see `CheckpointTrim.wantsReport`; always without checkpoint trimming). */
  wantsReport(node: number, iid: number): boolean {
    return this.trimPolicy?.wantsReport(node, iid) ?? true;
  }

  /** The checkpoint reports a checkpoint of instance `iid` must carry (empty without checkpoint trimming). */
  reportsAsOf(iid: number): [number, number][] {
    return this.trimPolicy?.reportsAsOf(iid) ?? [];
  }

  /**
   * Stuck for long on an instance while later ones are known, though nothing was trimmed: the
   * votes it needs may be gone (an acceptor that lost its storage); a peer's checkpoint at or above
   * it gets the learner past it. Such lost votes usually take a whole range of instances, which
   * proposers then re-run one at a time (a campaign settles one instance per round trip): the
   * learner moves, but crawls. Each instance decided restarted the stuck clock, and the transfer
   * was given up at the first one (sim seed 853: a replica that restarted at instance 1 crawled to
   * 294 in 60 s while its peers offered a checkpoint of instance 400). So a learner that did not
   * reach, in a whole `stuckMs`, the highest instance it knew of when that began, asks its peers
   * too, once per such window (SnapshotFetch.lagging).
   */
  private watchLag(fetch: SnapshotFetch, now: number, out: Effects): void {
    if (this.advancedAt === undefined) this.advancedAt = now;
    if (this.highestSeenIid > this.current && now - this.advancedAt >= fetch.stuckMs) {
      fetch.behind(this.current, now, out);
      return;
    }
    if (this.lagSince !== undefined && this.current < this.lagMark) {
      if (now - this.lagSince < fetch.stuckMs) return;
      if (this.current > this.lagFrom) fetch.lagging(this.current, this.seenInWindow(), now, out);
    }
    this.startLagWindow(now);
  }

  /** A new lag window from `now`: the instance the learner is on and the highest it knows of. */
  private startLagWindow(now: number): void {
    this.lagMark = this.seenInWindow();
    this.lagSince = now;
    this.lagFrom = this.current;
  }

  /**
   * The highest instance seen, counted up to the window's end only: one stray accepted far ahead
   * (anyone who reaches an acceptor can get one accepted) would otherwise make this learner lag for
   * ever, and ask its peers for a snapshot every period. Further behind than that, the trim and
   * the stuck rule bring a snapshot.
   */
  private seenInWindow(): number {
    return Math.min(this.highestSeenIid, this.current + this.window);
  }

  /** The learner moved to another instance by itself (set-instance-id): the watch starts over. */
  private restartLagWatch(): void {
    // Before the first tick the clock is unknown: the first tick starts both.
    if (this.advancedAt === undefined) return;
    this.advancedAt = this.now;
    this.startLagWindow(this.now);
  }

  private onAcceptorState(aid: number, trimIid: number, out: Effects): void {
    if (!Number.isInteger(aid) || aid < 0 || aid >= this.acceptors || !isUint32(trimIid)) return drop(out, 'invalid', 'acceptor_state', trimIid);
    if (trimIid > (this.trims[aid] as number)) this.trims[aid] = trimIid;
    if (this.lateStart) return;
    if (this.fetch === undefined) {
      // Instances we still need are gone from that acceptor and this learner cannot fetch a
      // snapshot: say so once instead of asking forever in silence.
      if (trimIid >= this.current && trimIid > this.reportedTrim) {
        this.reportedTrim = trimIid;
        out.events.push({ kind: 'behind-trim', iid: this.current, trimIid });
      }
      return;
    }
    // Once any acceptor trimmed instance `current`, it may no longer be learnable: the votes that
    // chose it may be exactly the ones trimmed (the acceptors still holding it may not form a quorum
    // for it). Fetch a checkpoint at or above the highest trim point heard of, so that every
    // acceptor still holds what follows it. Trims follow the checkpoints the others reported, so
    // one that new exists; a learner this far behind has missed at least a checkpoint interval.
    const highest = Math.max(...this.trims);
    if (highest >= this.current) this.fetch.behind(highest, this.now, out);
  }

  /**
   * The open instance a vote of acceptor `aid` for (iid, vb) counts in (an accepted, or a digest
   * vote), or undefined when the vote is dropped: fields out of range, an instance delivered or
   * beyond the window, or one closed already (then delivered, if the learner was moved onto it by
   * set-instance-id without effects). `valid`: the caller's own checks of the message's other fields.
   */
  private admitVote(aid: number, iid: number, vb: number, valid: boolean, out: Effects): Pending | undefined {
    if (!valid || !Number.isInteger(aid) || aid < 0 || aid >= this.acceptors || !isUint32(iid) || iid < 1 || !isUint32(vb) || vb < 1) {
      drop(out, 'invalid', 'accepted', iid);
      return undefined;
    }
    if (this.lateStart) {
      this.lateStart = false;
      this.current = iid;
    }
    if (iid < this.current) {
      drop(out, 'stale', 'accepted', iid);
      return undefined;
    }
    if (iid > this.highestSeenIid) this.highestSeenIid = iid;
    if (iid - this.current >= this.window) {
      drop(out, 'beyond-window', 'accepted', iid);
      return undefined;
    }
    let inst = this.pending.get(iid);
    if (inst === undefined) {
      inst = new Pending();
      this.pending.set(iid, inst);
    }
    if (inst.closed !== undefined) {
      if (iid === this.current) this.deliverReady(out);
      drop(out, 'duplicate', 'accepted', iid);
      return undefined;
    }
    return inst;
  }

  private onAccepted(msg: AcceptedMsg, out: Effects): void {
    const { aid, iid, valueBallot: vb } = msg;
    const inst = this.admitVote(aid, iid, vb, true, out);
    if (inst === undefined) return;
    this.count(inst, iid, aid, vb, msg.value, out);
    // The bytes of (iid, vb) are here now: digest votes that waited for them count if they match.
    if (inst.waiting !== null && inst.closed === undefined) this.resolveWaiting(inst, { ballot: vb, value: msg.value, digest: undefined, borrowed: false }, out);
  }

  /** One acceptor's vote for `value` under `vb`: closes the instance on a quorum. */
  private count(inst: Pending, iid: number, aid: number, vb: number, value: Uint8Array, out: Effects): void {
    // B1: acks are matched on the ballot the value was accepted in, and on the bytes.
    const count = inst.add(aid, vb, value);
    if (count < 0) return drop(out, 'duplicate', 'accepted', iid);
    if (inst.conflict) out.events.push({ kind: 'conflict', iid, ballot: vb });
    if (count < this.quorum) return;
    inst.closed = value;
    inst.held = null;
    inst.waiting = null;
    if (iid === this.current) this.deliverReady(out);
  }

  /**
   * The value of an accept for (iid, ballot) that this node's acceptor received (a replica that
   * takes digest votes): under one ballot only one value is ever proposed, so it is the value of
   * every accepted for (iid, ballot), and digest votes for that pair are checked against it. Held
   * until the instance is delivered; digest votes that waited for it count now if they match.
   *
   * `value` stays the caller's: when a digest vote first counts with it, it is replaced by bytes of
   * the learner's own (an equal full vote's, else a copy), so that a value delivered from it is not
   * the acceptor's record. An application that wrote into what it was delivered would otherwise
   * change what the acceptor's promises and repeats carry for a chosen instance. (Most held values
   * never count: below accepted-digests-min-value-size every vote comes whole, with bytes of its
   * own.) The bytes of full votes (`receive`) must not be the acceptor's record either: evpaxos
   * copies its own acceptor's accepted on its way to the learner (`Network.toSelf`), and so does
   * the simulator, whose applications write into what they are delivered (its mutant
   * learner-keeps-record-bytes is this learner without the copy).
   */
  holdValue(iid: number, ballot: number, value: Uint8Array, out: Effects): void {
    this.begin();
    if (this.lateStart || !isUint32(iid) || iid < this.current || iid - this.current >= this.window || !isUint32(ballot) || ballot < 1) return;
    let inst = this.pending.get(iid);
    if (inst === undefined) {
      inst = new Pending();
      this.pending.set(iid, inst);
    }
    if (inst.closed !== undefined) return;
    const held = this.hold(inst, ballot, value, true);
    if (inst.waiting === null) return;
    // The entry just held, when it holds these bytes (a copy made for a vote is then kept for the later ones).
    this.resolveWaiting(inst, held !== undefined && held.value === value ? held : { ballot, value, digest: undefined, borrowed: true }, out);
  }

  /**
   * Keeps `value` as the value of `ballot` in `inst` (the newest MAX_HELD ballots); `borrowed`: see
   * `Held`. Returns the entry `inst` holds for `ballot` (an earlier one's, if it had one), or
   * undefined when `ballot` is older than every one of MAX_HELD held.
   */
  private hold(inst: Pending, ballot: number, value: Uint8Array, borrowed: boolean): Held | undefined {
    if (inst.held === null) {
      const entry: Held = { ballot, value, digest: undefined, borrowed };
      // Most instances only ever hold one value: an array of exactly one (a push into an empty
      // array reserves room for 17).
      inst.held = [entry];
      return entry;
    }
    const held = inst.held;
    let lowest = 0;
    for (let i = 0; i < held.length; i++) {
      const h = held[i] as Held;
      // One value per ballot: a second is a broken peer's (B2), and digests are checked against the first.
      if (h.ballot === ballot) return h;
      if (h.ballot < (held[lowest] as Held).ballot) lowest = i;
    }
    if (held.length >= MAX_HELD && (held[lowest] as Held).ballot >= ballot) return undefined;
    const entry: Held = { ballot, value, digest: undefined, borrowed };
    if (held.length < MAX_HELD) held.push(entry);
    else held[lowest] = entry;
    return entry;
  }

  /**
   * The value this learner holds for (inst, vb): from an accept, or from a full accepted vote
   * (then kept with the accept values, so that its digest is computed once).
   */
  private heldValue(inst: Pending, vb: number): Held | undefined {
    if (inst.held !== null) for (const h of inst.held) if (h.ballot === vb) return h;
    // A full vote's bytes came with it: this learner's own.
    const value = inst.valueAt(vb);
    if (value === undefined) return undefined;
    return this.hold(inst, vb, value, false) ?? { ballot: vb, value, digest: undefined, borrowed: false };
  }

  /** A digest vote (accepted-digest.ts) from a peer acceptor. */
  receiveDigest(_from: PeerId, msg: AcceptedDigestMsg, out: Effects): void {
    this.begin();
    const { aid, iid, valueBallot: vb } = msg;
    const inst = this.admitVote(aid, iid, vb, isUint32(msg.ballot), out);
    if (inst === undefined) return;
    const held = this.heldValue(inst, vb);
    if (held !== undefined) {
      if (sameDigest(held, msg)) return this.countDigest(inst, msg, held, out);
      // The value held for the ballot is not the one this acceptor voted for: two values under one
      // ballot (a broken peer: B2). A full vote of that ballot may carry the bytes it names; if
      // not, the vote waits like one without a value, so that a quorum of them still gets the
      // instance repeated in full, where B1 then matches votes on the bytes.
      const voted = inst.valueAt(vb);
      if (voted !== undefined && voted !== held.value) {
        const other: Held = { ballot: vb, value: voted, digest: undefined, borrowed: false };
        if (sameDigest(other, msg)) return this.countDigest(inst, msg, other, out);
      }
      out.events.push({ kind: 'digest-mismatch', iid, ballot: vb, aid });
    }
    // No value of that ballot here yet (its accept may still be on its way, or was lost): the
    // vote waits for one. Once as many acceptors as a quorum wait on one ballot, the value is
    // asked for (at the second tick, so that an accept on its way, or unread, can still come first).
    const waiting = (inst.waiting ??= []);
    let same = 0;
    for (const w of waiting) {
      if (w.valueBallot !== vb) continue;
      if (w.aid === aid) return drop(out, 'duplicate', 'accepted', iid);
      same++;
    }
    // Bounded: a vote pushed out costs only a repeat (the hole repair, or a later quorum).
    if (waiting.length >= 2 * this.acceptors) waiting.shift();
    waiting.push(msg);
    if (same + 1 >= this.quorum && !inst.missing) {
      inst.missing = true;
      this.missingNew.add(iid);
    }
  }

  /** A digest vote counted with `held`'s bytes, which the caller checked are the ones it names (`sameDigest`). */
  private countDigest(inst: Pending, msg: AcceptedDigestMsg, held: Held, out: Effects): void {
    if (held.borrowed) {
      // Bytes of its own instead: a full vote's of the same ballot and bytes, in memory apart from
      // the record's (a view of the same buffer would be the record again; a replica's learner
      // mostly has its own acceptor's accepted, copied on its way here, before any peer's digest
      // vote), else a copy (`slice`: an ArrayBuffer of its own). Copying every time read 0.97 of
      // the values/s before at 8 KiB -o 10 (4 interleaved pairs), this 1.00 (6 pairs). The
      // digest stays that of the same bytes.
      const own = inst.valueAt(held.ballot);
      held.value = own !== undefined && own.buffer !== held.value.buffer && bytesEqual(own, held.value) ? own : held.value.slice();
      held.borrowed = false;
    }
    const value = held.value;
    const full: AcceptedMsg = { type: 'accepted', aid: msg.aid, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.valueBallot, value };
    this.lastResolved.push(full);
    this.count(inst, msg.iid, msg.aid, msg.valueBallot, value, out);
  }

  /**
   * Bytes of (inst, vb) arrived (an accept, a full accepted, a repeat's answer): the digest votes
   * that waited for that ballot and name exactly these bytes are counted with them; the others
   * keep waiting (with two values under one ballot, each vote counts for the bytes it names).
   */
  private resolveWaiting(inst: Pending, arrived: Held, out: Effects): void {
    const waiting = inst.waiting as AcceptedDigestMsg[];
    const vb = arrived.ballot;
    const ready = waiting.filter((w) => w.valueBallot === vb && sameDigest(arrived, w));
    if (ready.length === 0) return;
    inst.waiting = waiting.length === ready.length ? null : waiting.filter((w) => !ready.includes(w));
    for (const w of ready) {
      if (inst.closed !== undefined) return;
      this.countDigest(inst, w, arrived, out);
    }
  }

  /**
   * Asks the acceptors to repeat the instances a quorum of digest votes named without a value
   * held (its acceptor missed the accept: a lost connection, a restart): repeat replies always
   * carry the value, and then the votes count. One repeat per run of consecutive instances; the
   * hole repair asks again if these answers are lost.
   */
  private askMissing(out: Effects): void {
    const iids: number[] = [];
    for (const iid of this.missing) {
      const inst = this.pending.get(iid);
      if (iid >= this.current && inst !== undefined && inst.closed === undefined && inst.missing) iids.push(iid);
      if (inst !== undefined) inst.missing = false;
    }
    this.missing.clear();
    iids.sort((a, b) => a - b);
    for (let i = 0; i < iids.length; ) {
      const from = iids[i] as number;
      let to = from;
      while (i + 1 < iids.length && iids[i + 1] === to + 1 && to - from + 1 < this.repeatBatch) to = iids[++i] as number;
      i++;
      out.send.push({ to: 'acceptors', msg: { type: 'repeat', from, to } });
    }
  }

  private deliverReady(out: Effects): void {
    // A checkpoint is replacing the application's state: nothing is delivered until it is in.
    if (this.fetch?.installing === true) return;
    const before = this.current;
    this.deliverFrom(out);
    if (this.current !== before) {
      // Before the first tick the clock is unknown: the first tick starts the stuck clock.
      if (this.advancedAt !== undefined) this.advancedAt = this.now;
      this.fetch?.progressed(this.current, out);
    }
  }

  private deliverFrom(out: Effects): void {
    for (;;) {
      const inst = this.pending.get(this.current);
      if (inst === undefined || inst.closed === undefined) break;
      const iid = this.current;
      this.pending.delete(iid);
      const value = inst.closed;
      // Control values are the protocol's, never the application's (control-value.ts).
      const control = controlValue(value);
      if (control !== undefined) {
        this.lastDecided.push({ iid, value });
        switch (control.kind) {
          case 'noop':
            out.events.push({ kind: 'noop', iid });
            break;
          case 'master-op':
            // Leadership's (leadership.ts).
            this.follower?.learn(iid, control.op, out);
            break;
          case 'checkpoint-report': {
            // The log's: it moves the trim point (checkpoint-policy.ts).
            const policy = this.trimPolicy;
            const trimIid = policy?.report(control.report.node, control.report.iid, iid);
            if (trimIid !== undefined && trimIid >= 1) {
              out.events.push({ kind: 'checkpoint-trim', iid, lowest: trimIid + (policy as CheckpointTrim).hold, trimIid });
              out.send.push({ to: 'acceptors', msg: { type: 'trim', iid: trimIid } });
            } else if (policy?.waiting === true) {
              // Say so: a cluster where too few nodes report never trims, and its logs grow.
              out.events.push({ kind: 'checkpoint-trim-waiting', iid, reporters: policy.reported.size, needed: policy.reporters });
            }
            break;
          }
          default:
            assertNever(control, 'control value');
        }
      } else if (!this.batched) {
        // One object serves as decision and delivery: this is the hot path.
        const d: Delivery = { iid, value, index: 0 };
        this.lastDecided.push(d);
        out.deliver.push(d);
      } else {
        this.lastDecided.push({ iid, value });
        const values = decodeBatch(value);
        if (values === undefined) {
          // A decided value is never skipped: one that is not a batch (a proposer without
          // batching, such as C LibPaxos3's, in this cluster) is delivered as it is, and said.
          out.events.push({ kind: 'not-a-batch', iid, bytes: value.length });
          out.deliver.push({ iid, index: 0, value });
        } else {
          for (let index = 0; index < values.length; index++) {
            const v = values[index] as Uint8Array;
            // No proposer of ours batches a control value (it refuses no-ops and master
            // operations from clients and sends a report alone), but a batch is a peer's bytes:
            // an element that is one is skipped as a whole value would be, at the same position
            // on every learner, so no application ever sees one.
            if (controlValue(v) !== undefined) continue;
            out.deliver.push({ iid, index, value: v });
          }
        }
      }
      // After 2^32 − 1, the last id LibPaxos3 can name, `current` passes the uint32 range: every
      // later accepted is stale, so nothing is delivered twice, and nothing more is asked for.
      this.current = iid + 1;
      if (iid === MAX_UINT32) out.events.push({ kind: 'iid-space-exhausted', role: 'learner' });
    }
    this.lastProgressAt = this.now;
    // Catching up: the whole range asked for came back, so there may be more. Ask for the next
    // range at once instead of waiting for a period, so a far-behind learner runs at the
    // acceptors' speed (B8); a range that comes back short ends it.
    if (this.repeatingTo >= 0 && this.current > this.repeatingTo) this.requestRepeat(out);
  }

  /**
   * The shell's connection to acceptor `peer` came up. What it broadcast while this learner was not
   * connected (LibPaxos3 sends accepted only to the connections it has) never comes by itself: a
   * learner that saw a value accepted by the others but not by this one sat on the instance until
   * its repeat request a period or two later (a fresh client on a TLS cluster, whose values were
   * accepted while its learner's handshakes were under way, delivered nothing in 2 s). Ask that
   * acceptor for the instances from the one this learner is on, now; once per repeat period per
   * acceptor while the learner stays on that instance, so that a connection that flaps (up,
   * refused, up…) does not fetch the same range each time.
   */
  acceptorConnected(peer: PeerId, out: Effects): void {
    this.begin();
    if (this.lateStart || this.current > MAX_UINT32) return;
    const msg = this.repeatMsg();
    const last = this.connectRepeats.get(peer);
    if (last !== undefined && last.from === msg.from && this.now - last.at < this.repeatIntervalMs) return;
    this.connectRepeats.set(peer, { at: this.now, from: msg.from });
    out.send.push({ to: 'peer', peer, msg });
  }

  private requestRepeat(out: Effects): void {
    if (this.current > MAX_UINT32) return;
    const msg = this.repeatMsg();
    this.repeatingTo = msg.to;
    out.send.push({ to: 'acceptors', msg });
  }

  /** A repeat of the next `repeatBatch` instances from the one this learner is on (≤ 2^32 − 1). */
  private repeatMsg(): { readonly type: 'repeat'; readonly from: number; readonly to: number } {
    const from = this.current;
    return { type: 'repeat', from, to: Math.min(MAX_UINT32, from + this.repeatBatch - 1) };
  }
}

/** Whether `held`'s bytes are the ones a digest vote names (its digest computed once, kept in `held`). */
function sameDigest(held: Held, msg: AcceptedDigestMsg): boolean {
  const digest = (held.digest ??= valueDigest(held.value));
  return held.value.length === msg.size && digest[0] === msg.d1 && digest[1] === msg.d2;
}

import { requireInt } from './config-error.js';

/**
 * Trim by the lowest checkpoint (LibPaxos3's counter sample; PhxPaxos's cleaner with
 * `SetHoldPaxosLogCount`). Fed the checkpoint reports in log order, it keeps each reporter's latest
 * report and says where acceptors may be trimmed: `hold` instances below the lowest of them. Every
 * replica reads the same log, so every replica computes the same trim point at the same log
 * position, whoever sends the trim.
 *
 * Why this cuts nobody off unknowingly: a node reports a checkpoint only once it is durable and
 * keeps its newest checkpoints, so a reporter restarting from its newest checkpoint c finds every
 * instance above c still in the log (the trim point is at most its last report − hold ≤ c). A node
 * that never reported (new, or not checkpointing) is not waited for once `reporters` nodes have
 * reported: it catches up past the trim through a snapshot transfer. `hold` leaves room for a
 * reporter whose newest checkpoint turns out corrupt and falls back to an older one.
 *
 * Why it waits for `reporters` nodes (2 by default) before the first trim: a report stays in the log
 * after the disk behind it is lost, and nothing in the log says so. With a single reporter, losing
 * that node's disk leaves the trim resting on a checkpoint nobody holds: a trim computed from a
 * stretch of the log holding only its report trims the acceptors past every checkpoint left, and a
 * learner behind that point can never catch up (sim seed 375, split mode: node 1 reported 44, lost
 * its disk, and a trim to 41 came from a log prefix with only that report while node 0 held 1). Once
 * reports of k nodes are in, every trim is at most each one's report − hold, and each of them keeps a
 * checkpoint at least that new while its disk lasts: k − 1 disk losses at a time leave one behind it.
 */
export class CheckpointTrim {
  readonly hold: number;
  /** Distinct reporters the log must hold before the first trim (see the class comment). */
  readonly reporters: number;
  /**
   * Reports count only from nodes `0..nodes − 1` (a replica cluster's ids), when given: a report
   * is a value anyone who reaches a proposer can submit, and one from a node that does not exist
   * must neither stand in for a second reporter nor hold the trim back. (One forged under an
   * existing id still counts: proposers take reports as client values.)
   */
  readonly nodes: number | undefined;
  private readonly reports = new Map<number, number>();
  /** Each reporter's recent reports and the instances they were decided in, newest last (a few each). */
  private readonly recent = new Map<number, { at: number; iid: number }[]>();
  private point = 0;

  constructor(hold: number, reporters = DEFAULT_TRIM_REPORTERS, nodes?: number) {
    this.hold = requireInt('checkpoint trim hold', hold, 0, 0xffff_ffff);
    this.reporters = requireInt('checkpoint trim reporters', reporters, 1, 0xffff);
    this.nodes = nodes === undefined ? undefined : requireInt('checkpoint trim nodes', nodes, 1, 0xffff);
  }

  /** Fewer nodes reported than the first trim waits for. */
  get waiting(): boolean {
    return this.reports.size < this.reporters;
  }

  /** Whether a report from `node` counts (see `nodes`). */
  counts(node: number): boolean {
    return this.nodes === undefined || (Number.isInteger(node) && node >= 0 && node < this.nodes);
  }

  /** The trim point computed so far (0: none yet). */
  get trimIid(): number {
    return this.point;
  }

  /** Each reporter's latest report. */
  get reported(): ReadonlyMap<number, number> {
    return this.reports;
  }

  /** The lowest latest report, or undefined when nobody reported yet. */
  lowest(): number | undefined {
    let min: number | undefined;
    for (const iid of this.reports.values()) if (min === undefined || iid < min) min = iid;
    return min;
  }

  /**
   * A report decided in the log. Returns the new trim point when it rose (send trim to every
   * acceptor up to it), undefined otherwise: also while fewer than `reporters` nodes reported. A
   * reporter's report may go down (a node whose disk was replaced reports what it restored); the
   * trim point never does.
   */
  report(node: number, iid: number, at = 0): number | undefined {
    if (!this.counts(node)) return undefined;
    this.reports.set(node, iid);
    const list = this.recent.get(node) ?? [];
    list.push({ at, iid });
    if (list.length > RECENT) list.shift();
    this.recent.set(node, list);
    if (this.waiting) return undefined;
    const low = this.lowest() as number;
    const target = low - this.hold;
    if (target <= this.point) return undefined;
    this.point = target;
    return target;
  }

  /**
   * Whether `node`, which just made a checkpoint of `iid` durable, should report it in the log.
   * Only a report that can move the trim point is worth an instance: a reporter's first, one that
   * goes down (its disk was replaced: the trim must not pass what it holds now), and one from a
   * reporter whose latest report is the lowest (it holds the trim back). A reporter above the
   * lowest waits: the trim cannot rise past the lowest report anyway, and it reports once its own
   * is the lowest. Every node reporting every checkpoint put a report from each of them in the log
   * every interval, each a Paxos instance its proposer had to win (sim seed 1106: five replicas
   * reporting every 1.5 s, about a quarter of all instances, and each one contested).
   */
  wantsReport(node: number, iid: number): boolean {
    const mine = this.reports.get(node);
    if (mine === undefined || iid < mine) return true;
    if (iid === mine) return false;
    return mine <= (this.lowest() as number);
  }

  /**
   * Each reporter's latest report among those decided in instances ≤ `iid`: what a checkpoint of
   * instance `iid` must carry. The reports are replicated state like the application's (a function
   * of the log up to `iid`), and a node restarted from a checkpoint never sees the reports decided
   * before it again: without them it would trim past reporters it does not know of.
   */
  reportsAsOf(iid: number): [number, number][] {
    const out: [number, number][] = [];
    for (const [node, list] of this.recent) {
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i] as { at: number; iid: number };
        if (r.at <= iid) {
          out.push([node, r.iid]);
          break;
        }
      }
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** A checkpoint's reports (see `reportsAsOf`), at restart or after installing a fetched one. */
  restore(reports: readonly (readonly [number, number])[], at: number): void {
    this.reports.clear();
    this.recent.clear();
    for (const [node, iid] of reports) {
      if (!this.counts(node)) continue;
      this.reports.set(node, iid);
      this.recent.set(node, [{ at, iid }]);
    }
  }
}

/** Reports remembered per reporter: enough for a checkpoint a little behind the learner. */
const RECENT = 8;

/** Reporters the first trim waits for unless told otherwise: one disk loss at a time is covered. */
export const DEFAULT_TRIM_REPORTERS = 2;

export interface CheckpointScheduleOptions {
  /** Checkpoint once this many instances were applied since the last checkpoint (0: never by count). */
  readonly instances: number;
  /** Checkpoint once this long passed since the last one, if anything was applied (0: never by time). */
  readonly intervalMs: number;
}

/**
 * When to write a checkpoint: every N applied instances or T ms, whichever comes first, one at a
 * time, and only when something was applied since the last one (so an idle cluster, whose only new
 * instances are the checkpoint reports themselves, stops checkpointing). The caller asks after
 * applying whole instances (never half a batch), with the last instance it applied.
 */
export class CheckpointSchedule {
  private readonly instances: number;
  private readonly intervalMs: number;
  private last: number;
  private lastAt: number;
  private writing = false;
  /** A peer needs a checkpoint of an instance ≥ this (see `want`); 0: none. */
  private wanted = 0;

  constructor(options: CheckpointScheduleOptions, from = 0, now = 0) {
    this.instances = requireInt('checkpoint instances', options.instances, 0, 0xffff_ffff);
    this.intervalMs = requireInt('checkpoint interval (ms)', options.intervalMs, 0, 86_400_000 * 365);
    this.last = from;
    this.lastAt = now;
  }

  /** The instance of the newest checkpoint (written or restored). */
  get lastIid(): number {
    return this.last;
  }

  /**
   * A peer asked for a checkpoint of an instance ≥ `iid` and this node has none that new: the
   * peer is stuck there (the votes it needs went with an acceptor's storage) or behind the trim.
   * In a cluster with no client values for a while nobody checkpoints (nothing was applied), so
   * without this such a peer would wait for ever (sim seed 5 --drift-violation).
   */
  want(iid: number): void {
    if (iid > this.wanted) this.wanted = iid;
  }

  /**
   * The state is applied through `applied` (the last instance whose client values it holds) and
   * is the same through `decided` (≥ applied: the instances after it hold no client value, only
   * no-ops, master operations or reports): the instance to checkpoint at now, or undefined. A
   * returned instance counts as a write in progress until `written` or `failed`.
   */
  next(applied: number, now: number, decided = applied): number | undefined {
    if (this.writing) return undefined;
    // Asked for: a checkpoint of the whole decided prefix, whatever the count or time.
    if (this.wanted > this.last && decided >= this.wanted) {
      this.writing = true;
      return decided;
    }
    if (applied <= this.last) return undefined;
    const byCount = this.instances > 0 && applied - this.last >= this.instances;
    const byTime = this.intervalMs > 0 && now - this.lastAt >= this.intervalMs;
    if (!byCount && !byTime) return undefined;
    this.writing = true;
    return applied;
  }

  /** The checkpoint of `iid` is durable (or one was restored or installed at `iid`). */
  written(iid: number, now: number): void {
    this.writing = false;
    if (iid > this.last) this.last = iid;
    this.lastAt = now;
  }

  /** The write failed: try again at the next opportunity. */
  failed(): void {
    this.writing = false;
  }
}

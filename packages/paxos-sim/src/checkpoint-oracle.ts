import { deliverableElements, reportOf } from './oracle-values.js';
import { SimApp } from './sim-app.js';

export interface CheckpointOracleContext {
  /** The value chosen in `iid` by durable votes, if any yet. */
  chosen(iid: number): Uint8Array | undefined;
  readonly batched: boolean;
  /** `checkpoint-trim-hold`: trims must stay this far below the lowest report. */
  readonly hold: number;
  /** `checkpoint-trim-reporters`: trims come only from a log prefix with reports of this many nodes. */
  readonly reporters: number;
  fail(what: string): void;
}

/**
 * What the oracle checks about checkpoints, snapshots and trimming, from the chosen values (durable
 * votes) and what nodes do, never from what roles say about themselves:
 * - **state**: a node's application state at each of its checkpoints, after each restore from one
 *   and at the end equals the state reached by applying the chosen values from instance 1 in order
 *   (compared as digests; the reference applies them with the oracle's own readers);
 * - **trim rule**: a trim sent by a node that decided through instance d is at most the lowest
 *   checkpoint reported in instances 1..d (each reporter's latest) minus the hold, and those
 *   instances hold reports of at least `reporters` nodes;
 * - **nobody left behind**: whenever an acceptor's trim point becomes durable, some node holds a
 *   durable checkpoint at or above it, and a node restarted from its own reported checkpoint never
 *   finds itself behind the trim.
 */
export class CheckpointOracle {
  private readonly ctx: CheckpointOracleContext;
  /** The reference state after applying instances 1..prefix. */
  private readonly app = new SimApp();
  private prefix = 0;
  /** digests[iid] = reference digest after instance iid (digests[0]: the empty state). */
  private readonly digests: string[] = [new SimApp().digest];
  /** Reports in the chosen prefix, in log order. */
  private readonly reports: { readonly at: number; readonly node: number; readonly iid: number }[] = [];
  private readonly pending: { readonly iid: number; readonly digest: string; readonly what: string }[] = [];
  /** How many state comparisons were made (for the run's figures). */
  checks = 0;

  constructor(ctx: CheckpointOracleContext) {
    this.ctx = ctx;
  }

  /** Extends the reference over newly chosen instances, and runs the comparisons that waited for them. */
  advance(): void {
    for (;;) {
      const value = this.ctx.chosen(this.prefix + 1);
      if (value === undefined) break;
      const iid = ++this.prefix;
      const report = reportOf(value);
      if (report !== undefined) this.reports.push({ at: iid, node: report.node, iid: report.iid });
      for (const { value: v } of deliverableElements(value, this.ctx.batched)) this.app.apply(v);
      this.digests[iid] = this.app.digest;
    }
    if (this.pending.length === 0) return;
    const still: typeof this.pending = [];
    for (const p of this.pending) {
      if (p.iid > this.prefix) still.push(p);
      else this.compare(p.iid, p.digest, p.what);
    }
    this.pending.length = 0;
    this.pending.push(...still);
  }

  /** `what` holds state `digest` as of instance `iid`: it must be the reference's (now, or once known). */
  expectState(iid: number, digest: string, what: string): void {
    this.advance();
    if (iid <= this.prefix) this.compare(iid, digest, what);
    else this.pending.push({ iid, digest, what });
  }

  /** Comparisons still waiting for instances nobody chose (at the end of a run they are dropped). */
  get waiting(): number {
    return this.pending.length;
  }

  /** Each reporter's latest report among instances 1..through of the chosen log. */
  reportsThrough(through: number): Map<number, number> {
    this.advance();
    const latest = new Map<number, number>();
    for (const r of this.reports) {
      if (r.at > through) break;
      latest.set(r.node, r.iid);
    }
    return latest;
  }

  /** The instance holding the first report of the `n`th node to report (undefined: fewer reported so far). */
  nthReporterAt(n: number): number | undefined {
    this.advance();
    const seen = new Set<number>();
    for (const r of this.reports) {
      seen.add(r.node);
      if (seen.size === n) return r.at;
    }
    return undefined;
  }

  /**
   * The highest checkpoint `node` ever reported in a decided report (0: none). Reports may go
   * down (a node wiped since reports what it has now), trims never do: a trim computed from an
   * earlier, higher report may lie above the node's checkpoints until it has one this high again.
   */
  highestReport(node: number): number {
    this.advance();
    let max = 0;
    for (const r of this.reports) if (r.node === node && r.iid > max) max = r.iid;
    return max;
  }

  /** The instance of the first decided report of `node` (undefined: it never reported). */
  firstReportAt(node: number): number | undefined {
    this.advance();
    return this.reports.find((r) => r.node === node)?.at;
  }

  /** Node `who`, having decided through `decided`, asked the acceptors to trim up to `trimIid`. */
  trimSent(who: string, trimIid: number, decided: number): void {
    const latest = this.reportsThrough(decided);
    if (latest.size === 0) {
      this.ctx.fail(`${who} asked the acceptors to trim up to ${trimIid} before any checkpoint was reported in instances 1..${decided}`);
      return;
    }
    if (latest.size < this.ctx.reporters) {
      this.ctx.fail(`${who} asked the acceptors to trim up to ${trimIid} when instances 1..${decided} held reports of ${latest.size} node${latest.size === 1 ? '' : 's'}, fewer than the ${this.ctx.reporters} the trim waits for`);
      return;
    }
    const lowest = Math.min(...latest.values());
    if (trimIid > lowest - this.ctx.hold) {
      this.ctx.fail(`${who} asked the acceptors to trim up to ${trimIid}, above the lowest reported checkpoint ${lowest} minus the hold ${this.ctx.hold} (reports in instances 1..${decided}: ${[...latest].map(([n, i]) => `node ${n} at ${i}`).join(', ')})`);
    }
  }

  private compare(iid: number, digest: string, what: string): void {
    this.checks++;
    const expected = this.digests[iid] as string;
    if (digest !== expected) this.ctx.fail(`${what}: state ${digest} differs from the state ${expected} of applying the chosen values of instances 1..${iid}`);
  }
}

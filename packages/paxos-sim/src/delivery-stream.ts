import type { Delivery } from '@libpaxos/paxos-core';
import { deliverableElements, sameBytes, type Deliverable } from './oracle-values.js';
import { describeValueId, valueId } from './workload.js';

/** What a delivery stream checks against. */
export interface DeliveryContext {
  /** The value chosen in `iid` by durable votes, if any yet. */
  chosen(iid: number): Uint8Array | undefined;
  readonly batched: boolean;
  /**
   * A client value may be chosen in two instances (leadership on: a value re-forwarded at a
   * change of leader, which its first leader still had chosen). It is then delivered twice.
   */
  readonly duplicatesAllowed: boolean;
  isSubmitted(id: number): boolean;
  /** A client value reached an application. */
  delivered(id: number): void;
  fail(what: string): void;
}

/**
 * What one learner incarnation hands its application (`deliver` effects), checked against the
 * chosen values: consecutive instances from where the incarnation started, skipping only chosen
 * control values; in each instance the chosen value's elements in order, at their positions, with
 * their bytes (control values among them skipped: see `deliverableElements`);
 * each client value once. Every incarnation is held to the same sequence (the chosen values in
 * instance order), so all applications see one common order.
 */
export class DeliveryStream {
  readonly who: string;
  private readonly ctx: DeliveryContext;
  /** The instance being delivered, or the last one finished (the start point before any). */
  private iid: number;
  private elements: readonly Deliverable[] = [];
  /** Next of `elements` to deliver in `iid`; `elements.length` when `iid` is finished. */
  private next = 0;
  private readonly seen = new Set<number>();

  constructor(who: string, from: number, ctx: DeliveryContext) {
    this.who = who;
    this.iid = from;
    this.ctx = ctx;
  }

  deliver(d: Delivery): void {
    const { who, ctx } = this;
    if (this.next < this.elements.length) {
      const due = (this.elements[this.next] as Deliverable).index;
      if (d.iid !== this.iid || d.index !== due) {
        ctx.fail(`${who} delivered iid ${d.iid} position ${d.index} while position ${due} of iid ${this.iid} was next`);
        return;
      }
    } else {
      if (d.iid <= this.iid) {
        ctx.fail(`${who} delivered iid ${d.iid} position ${d.index} again (it is past iid ${this.iid})`);
        return;
      }
      if (!this.skipNoops(d.iid - 1, `delivered iid ${d.iid}`)) return;
      const chosen = ctx.chosen(d.iid);
      if (chosen === undefined) {
        ctx.fail(`${who} delivered iid ${d.iid}, for which no value was chosen by a quorum`);
        return;
      }
      const elements = deliverableElements(chosen, ctx.batched);
      if (elements.length === 0) {
        ctx.fail(`${who} delivered iid ${d.iid} position ${d.index}, but iid ${d.iid} chose a control value (a no-op, a master operation, a checkpoint report)`);
        return;
      }
      const first = (elements[0] as Deliverable).index;
      if (d.index !== first) {
        ctx.fail(`${who} began iid ${d.iid} at position ${d.index} instead of ${first}`);
        return;
      }
      this.iid = d.iid;
      this.elements = elements;
      this.next = 0;
    }
    const expected = (this.elements[this.next] as Deliverable).value;
    if (!sameBytes(expected, d.value)) {
      ctx.fail(`${who} delivered iid ${d.iid} position ${d.index} with bytes other than the chosen value's element ${d.index}`);
    }
    this.next++;
    const id = valueId(d.value);
    if (id === undefined || !ctx.isSubmitted(id)) {
      ctx.fail(`${who} delivered iid ${d.iid} position ${d.index}: a value no client submitted`);
      return;
    }
    if (this.seen.has(id) && !ctx.duplicatesAllowed) ctx.fail(`${who} delivered value ${describeValueId(id)} a second time (iid ${d.iid} position ${d.index})`);
    this.seen.add(id);
    ctx.delivered(id);
  }

  /**
   * After each step: the application must have received everything the learner decided
   * (`decidedThrough`, its decided prefix) and nothing beyond, with no instance half delivered.
   */
  settle(decidedThrough: number): void {
    if (this.next < this.elements.length) {
      this.ctx.fail(`${this.who} stopped before position ${(this.elements[this.next] as Deliverable).index} of iid ${this.iid}, which has ${this.elements.length} values to deliver`);
      return;
    }
    if (this.iid > decidedThrough) {
      this.ctx.fail(`${this.who} delivered iid ${this.iid} but decided only up to iid ${decidedThrough}`);
      return;
    }
    this.skipNoops(decidedThrough, `decided up to iid ${decidedThrough}`);
  }

  /** Moves past chosen no-ops up to `upTo`; anything else in between was skipped wrongly. */
  private skipNoops(upTo: number, what: string): boolean {
    while (this.iid < upTo) {
      const iid = this.iid + 1;
      const chosen = this.ctx.chosen(iid);
      if (chosen === undefined) {
        this.ctx.fail(`${this.who} ${what} without delivering iid ${iid}, for which nothing was chosen`);
        return false;
      }
      if (deliverableElements(chosen, this.ctx.batched).length > 0) {
        this.ctx.fail(`${this.who} ${what} without delivering iid ${iid}, which chose client values`);
        return false;
      }
      this.iid = iid;
      this.elements = [];
      this.next = 0;
    }
    return true;
  }
}

import type { MasterState } from '@libpaxos/paxos-core';
import { masterOpOf } from './oracle-values.js';

/**
 * Leadership's log-determined state as of every instance, computed from the chosen values with the
 * oracle's own reading of master operations (never paxos-core's decoder or `Leadership`): an
 * operation takes effect when its version is the instance of the master operation before it in the
 * log, effective or not (0: none); one that takes effect sets the version to its own instance,
 * names the master (a claim) or nobody (a resignation) and may raise the largest openLimit.
 *
 * Every node that knows this state (a replica, a split proposer, a following learner) must hold
 * exactly it as of the last instance it learned, also right after it was restored from a
 * checkpoint or installed a snapshot: otherwise it judges the next master operation against
 * another one than the others do, and its view of who leads, and from which version, parts from
 * theirs.
 */
export class MasterReference {
  private readonly chosen: (iid: number) => Uint8Array | undefined;
  /** Instances 1..prefix are chosen and read. */
  private prefix = 0;
  /** The state after each master operation in the prefix, in log order. */
  private readonly ats: number[] = [];
  private readonly states: MasterState[] = [];
  private current: MasterState = { lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 };

  constructor(chosen: (iid: number) => Uint8Array | undefined) {
    this.chosen = chosen;
  }

  /** The state as of instance `iid`, or undefined while instances up to it are not all chosen. */
  asOf(iid: number): MasterState | undefined {
    this.advance(iid);
    if (iid > this.prefix) return undefined;
    let lo = 0;
    let hi = this.ats.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ats[mid] as number) <= iid) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? { lastOp: 0, version: 0, master: undefined, maxOpenLimit: 0 } : (this.states[lo - 1] as MasterState);
  }

  /**
   * Why `held` (what `who` holds as of instance `iid`) is not the log's state there, or undefined
   * when it is (or when the log up to `iid` is not all chosen yet).
   */
  mismatch(who: string, iid: number, held: MasterState): string | undefined {
    const ref = this.asOf(iid);
    if (ref === undefined) return undefined;
    if (held.lastOp === ref.lastOp && held.version === ref.version && held.master === ref.master && held.maxOpenLimit === ref.maxOpenLimit) return undefined;
    return `${who} holds leadership state ${show(held)} as of instance ${iid}, but the chosen log gives ${show(ref)} there`;
  }

  private advance(through: number): void {
    while (this.prefix < through) {
      const value = this.chosen(this.prefix + 1);
      if (value === undefined) return;
      const iid = ++this.prefix;
      const op = masterOpOf(value);
      if (op === undefined) continue;
      const c = this.current;
      this.current =
        op.version === c.lastOp
          ? { lastOp: iid, version: iid, master: op.kind === 'claim' ? op.node : undefined, maxOpenLimit: Math.max(c.maxOpenLimit, op.openLimit) }
          : { ...c, lastOp: iid };
      this.ats.push(iid);
      this.states.push(this.current);
    }
  }
}

function show(s: MasterState): string {
  return `{last operation ${s.lastOp}, version ${s.version}, master ${s.master ?? 'none'}, max openLimit ${s.maxOpenLimit}}`;
}

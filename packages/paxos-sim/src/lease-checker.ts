/** One process as the lease checks see it, at one simulated instant, on its own clock. */
export interface LeaseView {
  readonly name: string;
  /** It believes it holds the lease now. */
  readonly leads: boolean;
  /** The master version it believes it leads under (meaningful when `leads`). */
  readonly version: number;
  /** It says a read of its applied state now is linearizable (`canReadLocally`). */
  readonly canRead: boolean;
  /** The last instance its learner has applied. */
  readonly applied: number;
}

/**
 * Leadership invariants (issue 11), checked after every event:
 * - never two processes that both believe they hold an unexpired lease at one simulated instant;
 * - at most one process per lease version (the instance of the master operation it holds);
 * - a lease read is linearizable: a process that says a read of its state is linearizable has
 *   applied every instance with client values that any application has received (a client may
 *   have been told about those).
 * These rest on the clock assumption (bounded rate drift). In a run that breaks it on purpose,
 * a breach is an assumption violation: counted and reported, not a failure of the protocol.
 * (The third invariant, that only the leader proposes, is checked where accepts leave: see the
 * simulation's `send`.)
 */
export class LeaseChecker {
  /** Breaches seen in a run whose clocks break the drift bound on purpose. */
  assumptionViolations = 0;
  private readonly holders = new Map<number, string>();
  private lastOverlap = '';

  constructor(
    private readonly fail: (what: string) => void,
    /** The run breaks the clock assumption on purpose. */
    private readonly driftViolated: boolean,
  ) {}

  /** `deliveredThrough`: the highest instance whose client values some application received. */
  check(views: readonly LeaseView[], deliveredThrough: number): void {
    const leaders = views.filter((v) => v.leads);
    if (leaders.length > 1) {
      const who = leaders.map((v) => `${v.name} (version ${v.version})`).join(' and ');
      // Reported once per distinct pair, not at every event of one overlap.
      if (who !== this.lastOverlap) this.breach(`${who} both believe they hold the leader lease`);
      this.lastOverlap = who;
    } else {
      this.lastOverlap = '';
    }
    for (const v of leaders) {
      const holder = this.holders.get(v.version);
      if (holder === undefined) this.holders.set(v.version, v.name);
      else if (holder !== v.name) this.fail(`master version ${v.version} is held by ${holder} and by ${v.name}`);
    }
    for (const v of views) {
      if (v.canRead && v.applied < deliveredThrough) {
        this.breach(`${v.name} says a local read is linearizable, but it has applied only up to iid ${v.applied} while iid ${deliveredThrough} was delivered`);
      }
    }
  }

  private breach(what: string): void {
    if (this.driftViolated) this.assumptionViolations++;
    else this.fail(what);
  }
}

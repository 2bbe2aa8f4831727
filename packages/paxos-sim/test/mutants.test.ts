import { describe, expect, it } from 'vitest';
import { MUTANTS, MUTANT_OVERRIDES, drawOptions, simulate, type Mutant } from '../src/index.js';

/** Seeds tried per mutant and mode: the CI seed budget. */
const BUDGET = 300;

/** What catching each mutant looks like: the rule it breaks first. */
const EXPECTED: Record<Mutant, RegExp> = {
  'acceptor-skips-promise-persist': /sent promise\(.*\) before it was durable/,
  'libpaxos3-learner-b1': /decided iid \d+(, for which no value was chosen| with a value other than the chosen one)/,
  // A replica keeps its round floor with its acceptor's storage: there the floor going down shows first.
  'proposer-forgets-round-floor': /ballot \d+ was used by .* \(incarnation \d+\) and again by .* \(incarnation \d+\)|two different values|durable round floor went down/,
  'learner-ignores-value-ballot': /decided iid \d+(, for which no value was chosen| with a value other than the chosen one)/,
  'proposer-takes-last-promise': /two different values chosen|was chosen twice/,
  'acceptor-ignores-promise': /durably accepted ballot \d+ below its durable promise \d+/,
  'acceptor-keeps-earlier-ballots': /sent accepted\(.*\) with bytes other than those it durably accepted under ballot \d+/,
  'acceptor-invents-earlier-vote': /sent accepted\(.*\), but it never durably accepted anything under ballot \d+ there/,
  'learner-delivers-wrong-element': /delivered iid \d+ position [1-9]\d* with bytes other than the chosen value's element/,
  // A value dropped after healing is owed, and the run ends on it as a liveness failure before
  // the final accounting would name it: the same loss either way.
  'proposer-drops-value': /submitted value\(s\) never delivered, neither held by a proposer when it crashed nor reported lost|liveness: not everything owed was delivered .*: value c\d+#\d+ was never delivered/,
  'proposer-corrupts-value': /chose value c\d+#\d+ with bytes other than its client submitted/,
  'checkpoint-claims-extra-instance': /checkpoint of instance \d+: state \S+ differs from the state \S+ of applying the chosen values/,
  'trim-ignores-lagging-replica': /asked the acceptors to trim up to \d+, above the lowest reported checkpoint/,
  'transfer-skips-chunk': /asked to verify its copy of the checkpoint of instance \d+ with bytes \d+\.\.\d+ never written/,
  'leader-lease-from-learn': /both believe they hold the leader lease|says a local read is linearizable, but it has applied only/,
  'follower-proposes': /proposed client values in iid \d+ \(ballot \d+\) while it does not hold the leader lease/,
  // Without the takeover it says reads are linearizable too early, or leaves earlier leaders'
  // half-done instances to stall the learners.
  'leader-skips-recovery': /says a local read is linearizable, but it has applied only up to iid \d+ while iid \d+ was delivered|liveness: /,
  // The KV mutants break nothing the Paxos oracle sees: only the clients' history shows them.
  'kv-stale-local-read': /linearizability: the KV history is not linearizable/,
  'kv-retry-applied-twice': /linearizability: the KV history is not linearizable/,
  'kv-cas-skips-version': /linearizability: the KV history is not linearizable/,
  'learner-trusts-digest': /decided iid \d+(, for which no value was chosen| with a value other than the chosen one)/,
  // The applications' writes reach the record: the acceptor repeats (or promises) other bytes; or,
  // as a leader's own acceptor keeps the very bytes of its proposal, the proposer sends the
  // scribbled proposal again (to an acceptor whose connection came up) and another acceptor
  // accepts it in the same ballot.
  'learner-keeps-record-bytes': /sent (accepted|promise)\(.*\) (with bytes other than those it durably accepted|reporting a vote that matches none of its durable writes)|acceptors durably accepted two different values under ballot \d+/,
  // Answering from the synced record while a newer one waits for its sync, it writes over that
  // newer one with a lower promise or without the vote: the disk sees the promise or vote go back.
  'acceptor-forgets-unsynced': /durable (promise|value ballot) went down from \d+ to \d+/,
};

/** Mutants of a feature that exists in one layout only (digest votes travel between replicas). */
const ONE_MODE: Partial<Record<Mutant, 'split' | 'replica'>> = { 'learner-trusts-digest': 'replica', 'learner-keeps-record-bytes': 'replica' };

const CASES = MUTANTS.flatMap((mutant) => (['split', 'replica'] as const).filter((mode) => (ONE_MODE[mutant] ?? mode) === mode).map((mode) => ({ mutant, mode })));

// An oracle that never fires would pass every seed; these broken cores prove each rule can fire,
// in both cluster layouts.
describe.each(CASES)('mutant $mutant in $mode mode', ({ mutant, mode }) => {
  it('is caught within the CI seed budget, by the rule it breaks', () => {
    let caught: { seed: number; violation: string } | undefined;
    for (let seed = 1; seed <= BUDGET && caught === undefined; seed++) {
      const r = simulate(drawOptions(seed, { ...MUTANT_OVERRIDES[mutant], mutant, mode }));
      if (!r.ok) caught = { seed, violation: r.violations[0] ?? '' };
    }
    expect(caught, `${mutant} survived ${BUDGET} seeds in ${mode} mode`).toBeDefined();
    expect(caught?.violation).toMatch(EXPECTED[mutant]);
  }, 300_000);
});

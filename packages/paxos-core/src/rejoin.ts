import { MAX_ROUND, roundOf } from './ballot.js';
import { MAX_UINT32 } from './limits.js';

/**
 * A replica that lost its storage (a wiped data directory, a replaced disk) rejoining its cluster.
 *
 * An acceptor that forgot its promises and votes breaks Paxos if it takes part again as if new: it
 * may have voted for a value in an instance that a quorum including it chose, and then vote for
 * another there; or promised a ballot and then accept a lower one. And its proposer, which kept its
 * round floor with the acceptor's storage, may reuse a ballot (B2). So it rejoins in two steps,
 * before it starts (Paxos Made Live's "catch-up before voting", for LibPaxos3's per-instance
 * acceptors): it asks every other replica's acceptor for the highest instance it holds a record of
 * and the highest ballot it promised, then
 * - fences its acceptor: it takes no part in any instance up to h + `margin`, h the highest one
 *   any of them holds a record of. Why that covers every instance the lost acceptor may have
 *   promised or voted in: it voted only where some proposer had promises from a quorum, and every
 *   quorum holds another acceptor, which answered and recorded that instance (≤ h). It may have
 *   promised where no other acceptor has a record yet: above h. But a proposer opens instances
 *   one after the other, and skips only instances decided or trimmed (≤ h), so all of its
 *   instances above h still wait in phase 1 (one that got further was recorded by another
 *   acceptor): at most its pre-execution window of them, right above h. A new leader's takeover
 *   opens at most its window plus its instances in phase 2 above the master operation that made
 *   it leader (≤ h). So `rejoinMargin` is the window, plus the phase-2 limit with leadership;
 * - opens, with its own proposer, no instance at or below the fence: its lost self may have used
 *   ballots there that no other acceptor recorded (so no round floor could be derived from them);
 *   above the fence it used none. Instances at or below it are the other proposers' to fill;
 * - starts its proposer above every round any of them promised (a ballot its lost self used either
 *   reached some other acceptor, which reports it, or only itself, whose vote is gone with it).
 *
 * Every other replica must answer, since the one that does not might be the only other member of a
 * quorum the lost acceptor was in. Until they have, the replica does not start (its learner, when it
 * starts, fetches a checkpoint if the log was trimmed). A restart during a rejoin rejoins again:
 * the fence is written as 2^32 − 1 ("under way") first. The rejoined replica campaigns for
 * leadership only once its learner has passed the fence (LearningProposer.tick).
 *
 * What this assumes of operators: no second replica loses its storage, and this one not again,
 * before the cluster has passed the fence (some replica holds a checkpoint above it). Until then
 * instances up to the fence have one voter fewer (a second loss may leave them without a quorum),
 * and the rejoined incarnation may have used ballots above its fence that only its own acceptor
 * saw: wiped again then, its next rejoin would find the same highest instance and ballot and take
 * the same fence and rounds.
 */
export interface RejoinAnswer {
  /** The highest instance the answering acceptor holds a record of (or its trim point, if higher). */
  readonly highest: number;
  /** The highest ballot it promised in any instance. */
  readonly maxBallot: number;
}

/** How far above the highest recorded instance a rejoined acceptor is fenced (see above). */
export function rejoinMargin(preexecWindow: number, maxAccepting: number, leadership: boolean): number {
  return leadership ? preexecWindow + maxAccepting : preexecWindow;
}

/** The fence written while a rejoin is under way: no instance at all. */
export const REJOIN_PENDING = MAX_UINT32;

/** Extension messages of a rejoin (between libpaxos-ts replicas only). */
export type RejoinMessage =
  | { readonly type: 'rejoin_query' }
  | { readonly type: 'rejoin_info'; readonly highest: number; readonly maxBallot: number };

/**
 * The fence and round floor a rejoining replica takes, once every one of the `others` replicas
 * answered (undefined before). `margin` is `rejoinMargin` of the cluster's proposers. (The round
 * floor is not needed for safety given the fence, since the rejoined proposer only uses instances
 * its lost self never used; it keeps its ballots above what the others promised anyway.)
 */
export function rejoinPoint(answers: readonly RejoinAnswer[], others: number, margin: number): { fence: number; roundFloor: number } | undefined {
  if (answers.length < others) return undefined;
  let highest = 0;
  let ballot = 0;
  for (const a of answers) {
    if (a.highest > highest) highest = a.highest;
    if (a.maxBallot > ballot) ballot = a.maxBallot;
  }
  return { fence: Math.min(MAX_UINT32 - 1, highest + margin), roundFloor: Math.min(MAX_ROUND - 1, roundOf(ballot) + 1) };
}

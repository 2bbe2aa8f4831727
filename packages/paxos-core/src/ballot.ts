import { InvariantError } from './assert.js';
import { MAX_PROPOSERS, MAX_UINT32 } from './limits.js';

/**
 * Ballots are `10·round + proposerId` (LibPaxos3): the low decimal digit names the proposer, so two
 * proposers never share a ballot, and the round orders them. Round 0 is never used (ballot 0 means
 * "nothing accepted" in a promise).
 */
export const MAX_ROUND = Math.floor((MAX_UINT32 - (MAX_PROPOSERS - 1)) / MAX_PROPOSERS);

export function ballotOf(round: number, proposerId: number): number {
  // Tested before the message is built: this runs for every instance opened, and `invariant`'s
  // message argument would be a new string each time.
  if (!(Number.isInteger(round) && round >= 1 && round <= MAX_ROUND)) throw new InvariantError(`round ${round} out of range`);
  if (!(Number.isInteger(proposerId) && proposerId >= 0 && proposerId < MAX_PROPOSERS)) throw new InvariantError(`proposer id ${proposerId} out of range`);
  return round * MAX_PROPOSERS + proposerId;
}

export function roundOf(ballot: number): number {
  return Math.floor(ballot / MAX_PROPOSERS);
}

/**
 * The round of the smallest ballot of ours strictly above `ballot`, or `undefined` when none fits
 * in uint32. LibPaxos3 steps by +10 per preemption and so needs many rounds to pass a far higher
 * ballot (B10); we jump past it in one step.
 */
export function roundAbove(ballot: number, proposerId: number): number | undefined {
  const round = roundOf(ballot);
  const next = ballot % MAX_PROPOSERS < proposerId ? round : round + 1;
  const r = Math.max(next, 1);
  return r <= MAX_ROUND ? r : undefined;
}

/** LibPaxos3 puts instance ids and ballots on the wire as uint32. */
export const MAX_UINT32 = 0xffff_ffff;

/** Instance ids start at 1: LibPaxos3 never uses 0 (its LMDB keeps the trim point under key 0). */
export const FIRST_IID = 1;

/**
 * LibPaxos3 keeps the proposer id in the ballot's low decimal digit (`ballot = 10·round + id`), so
 * at most ten proposers can have distinct ballots. We keep that so C proposers stay distinct.
 */
export const MAX_PROPOSERS = 10;

/** The core tracks acks in a 31-bit mask; LibPaxos3 allows at most 10 acceptors anyway. */
export const MAX_ACCEPTORS = 31;

export function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_UINT32;
}

/** Quorum size for `n` acceptors: a strict majority, `floor(n/2) + 1`, as in LibPaxos3. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

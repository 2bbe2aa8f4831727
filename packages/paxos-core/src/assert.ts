/**
 * Invariant checks. A broken invariant is a bug in the core, never bad input from a peer: peer
 * input that breaks a rule is dropped with an event instead (see `events.ts`).
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** Exhaustiveness check for switches over discriminated unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new InvariantError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** The no-op value: closes a hole; learners skip it instead of delivering it. */
export const NOOP: Uint8Array = new Uint8Array(0);

/** Byte equality, the only value equality LibPaxos3 knows (length, then bytes). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

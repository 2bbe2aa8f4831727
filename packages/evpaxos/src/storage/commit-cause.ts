/**
 * The message of a failed lmdb-js commit: the cause it keeps in a second promise (awaited here, so
 * that it never becomes an unhandled rejection), else the error's own.
 */
export async function commitCause(e: unknown): Promise<string> {
  let cause = e instanceof Error ? e.message : String(e);
  const inner = (e as { commitError?: unknown } | undefined)?.commitError;
  if (inner instanceof Promise) {
    try {
      await inner;
    } catch (c) {
      cause = c instanceof Error ? c.message : String(c);
    }
  }
  return cause;
}

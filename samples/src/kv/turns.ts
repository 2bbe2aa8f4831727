/**
 * The chunks as they are asked for, with a turn of the event loop after each, so that clients,
 * peers and lease renewals are served while a large store is encoded (a checkpoint, or the digest
 * of `stats paxos`).
 */
export async function* yieldBetween(chunks: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
    yield chunk;
    await nextTurn();
  }
}

/** Resolves at the next turn of the event loop, after the I/O that is ready. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

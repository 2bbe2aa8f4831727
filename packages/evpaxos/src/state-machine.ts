/**
 * A snapshot's bytes: all at once, or as a stream of chunks (so a large state never has to sit in
 * memory whole: the library writes and sends it chunk by chunk).
 */
export type SnapshotData = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * The application's replicated state machine (ARCHITECTURE.md, "Next layers"). The library hands it
 * every decided client value in log order, once, and asks it for snapshots to write checkpoints;
 * snapshots are opaque bytes to the library. Master operations, no-ops and checkpoint reports are
 * never applied: the learner never delivers them.
 */
export interface StateMachine<R = unknown> {
  /**
   * Applies client value `value`, decided in instance `iid` at position `index` of its batch (0
   * without batching). Must be deterministic: every replica applies the same values in the same
   * order and must reach the same state. The result goes to whoever proposed the value on this
   * replica (`propose()` resolves with it); a deterministic failure is a result, not a throw.
   * `value` is a view of the bytes it arrived in (a socket read of up to 64 KiB, or a whole batch):
   * copy what you keep for long (`value.slice()`), or it holds all of those in memory; never
   * write into it.
   */
  apply(iid: number, index: number, value: Uint8Array): R;
  /**
   * The state as of the last value applied, as bytes or a stream. Called between two `apply`s and
   * never during `restore`. The stream may be consumed after later values were applied: it must
   * still yield the state as of this call (keep it immutable, copy-on-write, or already on disk).
   */
  snapshot(): SnapshotData | Promise<SnapshotData>;
  /**
   * Replaces the whole state by the one `data` holds, the state as of instance `iid` (from this
   * node's own checkpoint at start, or one fetched from a peer). Values after `iid` follow.
   */
  restore(data: AsyncIterable<Uint8Array>, iid: number): void | Promise<void>;
}

/** The chunks of `data`, whatever form it came in. */
export async function* snapshotChunks(data: SnapshotData): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  for await (const chunk of data as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`a snapshot stream yielded ${typeof chunk}, not a Uint8Array`);
    yield chunk;
  }
}

/** Reads a whole (small) snapshot into memory, for state machines that restore from one buffer. */
export async function readAll(data: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const p of data) {
    parts.push(p);
    size += p.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Batching (an extension of ours): several client values travel in one Paxos value, so acceptors
 * and the wire stay LibPaxos3's. It is switched on cluster-wide; then every non-empty Paxos value
 * is a batch and learners never have to guess. Layout, big-endian:
 *   [1 = format version] [u32 count] then, per value, [u32 length] [bytes]
 */
export const BATCH_VERSION = 1;
const HEADER = 5;

/** Bytes a value adds to a batch. */
export function batchCost(value: Uint8Array): number {
  return 4 + value.length;
}

export function encodeBatch(values: readonly Uint8Array[]): Uint8Array {
  let size = HEADER;
  for (const v of values) size += batchCost(v);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = BATCH_VERSION;
  view.setUint32(1, values.length);
  let pos = HEADER;
  for (const v of values) {
    view.setUint32(pos, v.length);
    out.set(v, pos + 4);
    pos += 4 + v.length;
  }
  return out;
}

/** The values in a batch, as views into it; undefined if the bytes are not a well-formed batch. */
export function decodeBatch(batch: Uint8Array): Uint8Array[] | undefined {
  if (batch.length < HEADER || batch[0] !== BATCH_VERSION) return undefined;
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const count = view.getUint32(1);
  if (count === 0 || count > (batch.length - HEADER) / 4) return undefined;
  const values: Uint8Array[] = [];
  let pos = HEADER;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > batch.length) return undefined;
    const len = view.getUint32(pos);
    if (pos + 4 + len > batch.length) return undefined;
    values.push(batch.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return pos === batch.length ? values : undefined;
}

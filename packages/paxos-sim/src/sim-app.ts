import { valueId } from './workload.js';

/**
 * The application the simulator runs on every learner and replica when checkpoints are on: a
 * deterministic state machine whose state is the number of client values applied and a hash chain
 * over their ids, in order. Two nodes that applied different sequences (a value missing, one too
 * many, two swapped) have different digests.
 *
 * Its snapshot is `[count u32][hash u32]` followed by padding derived from the state, of a length
 * that varies with it (so transfers span a varying number of chunks); `restore` checks every byte
 * and throws on a snapshot it did not write.
 */
export class SimApp {
  count = 0;
  hash = 0x811c9dc5;

  apply(value: Uint8Array): void {
    const id = valueId(value);
    this.count++;
    this.hash = mix(this.hash, id ?? 0xffff_ffff);
  }

  get digest(): string {
    return digestOf(this.count, this.hash);
  }

  snapshot(): Uint8Array {
    const pad = 16 + (this.hash % 200);
    const out = new Uint8Array(8 + pad);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.count);
    view.setUint32(4, this.hash);
    for (let i = 0; i < pad; i++) out[8 + i] = padByte(this.hash, i);
    return out;
  }

  /** Replaces the state by the snapshot's; throws when the bytes are not one of its snapshots. */
  restore(bytes: Uint8Array): void {
    if (bytes.length < 8) throw new Error(`a snapshot of ${bytes.length} bytes is too short`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(0);
    const hash = view.getUint32(4);
    if (bytes.length !== 8 + 16 + (hash % 200)) throw new Error(`a snapshot of ${bytes.length} bytes has the wrong length for its state`);
    for (let i = 8; i < bytes.length; i++) if (bytes[i] !== padByte(hash, i - 8)) throw new Error(`snapshot byte ${i} is wrong`);
    this.count = count;
    this.hash = hash;
  }
}

export function digestOf(count: number, hash: number): string {
  return `${count}:${(hash >>> 0).toString(16)}`;
}

function mix(h: number, id: number): number {
  let x = h;
  for (const part of [id % 0x1_0000_0000, Math.floor(id / 0x1_0000_0000)]) {
    x = Math.imul(x ^ (part & 0xffff), 0x01000193);
    x = Math.imul(x ^ (part >>> 16), 0x01000193);
  }
  return x >>> 0;
}

function padByte(hash: number, i: number): number {
  return ((hash >>> (i % 25)) ^ (i * 7)) & 0xff;
}

/** The checksum the simulated file layer gives a snapshot (FNV-1a, 4 bytes: opaque to the core). */
export function simChecksum(bytes: Uint8Array): Uint8Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  h >>>= 0;
  return Uint8Array.of(h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

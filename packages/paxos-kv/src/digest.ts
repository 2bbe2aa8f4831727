/**
 * A 64-bit digest of bytes (two independent 32-bit FNV-1a-style lanes with a final avalanche),
 * as 16 hex digits. Not cryptographic: the simulator uses it to see at a glance whether replicas
 * that applied the same log hold the same state.
 */
export function digestBytes(bytes: Uint8Array): string {
  return digestChunks([bytes]);
}

/** `digestBytes` of the chunks joined, without joining them. */
export function digestChunks(chunks: Iterable<Uint8Array>): string {
  const d = new Digester();
  for (const bytes of chunks) d.update(bytes);
  return d.hex();
}

/**
 * `digestChunks` of chunks that come one at a time, for a caller that lets other work run between
 * them (a kv-server answering `stats paxos` on a large store).
 */
export async function digestChunksAsync(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const d = new Digester();
  for await (const bytes of chunks) d.update(bytes);
  return d.hex();
}

/** `digestBytes` fed a piece at a time. */
class Digester {
  private a = 0x811c9dc5;
  private b = 0x9747b28c;
  private length = 0;

  update(bytes: Uint8Array): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    this.a = a;
    this.b = b;
    this.length += bytes.length;
  }

  hex(): string {
    const a = this.a ^ this.length;
    const b = this.b ^ this.length;
    return hex32(mix(a)) + hex32(mix(b ^ a));
  }
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

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
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let length = 0;
  for (const bytes of chunks) {
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    length += bytes.length;
  }
  a ^= length;
  b ^= length;
  return hex32(mix(a)) + hex32(mix(b ^ a));
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

/**
 * LibPaxos3's client payload (reference §8), x86-64 layout, little-endian:
 *   int32 client id, 4 pad bytes, int64 seconds, int64 microseconds (send time, wall clock),
 *   uint64 size, then `size` bytes (size − 1 random [0-9a-z] and a NUL).
 * A C learner prints our values and we print theirs.
 */
export const HEADER_SIZE = 32;

export interface Payload {
  readonly clientId: number;
  /** Send time in microseconds since the epoch. */
  readonly sentUs: number;
  readonly size: number;
  /** The first bytes of the body (up to 16), as LibPaxos3's learner shows them. */
  readonly preview: string;
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Wall-clock time in microseconds, with sub-millisecond resolution (Date.now() has only ms). */
export function nowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

export function makePayload(clientId: number, size: number, random: () => number = Math.random): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + size);
  const view = new DataView(buf.buffer);
  const t = nowUs();
  view.setInt32(0, clientId, true);
  view.setBigInt64(8, BigInt(Math.floor(t / 1e6)), true);
  view.setBigInt64(16, BigInt(t % 1e6), true);
  view.setBigUint64(24, BigInt(size), true);
  for (let i = 0; i < size - 1; i++) buf[HEADER_SIZE + i] = ALPHABET.charCodeAt(Math.floor(random() * ALPHABET.length));
  return buf;
}

/** Reads a client payload, or undefined if the value is not one (shorter than its header or size). */
export function readPayload(v: Uint8Array): Payload | undefined {
  if (v.length < HEADER_SIZE) return undefined;
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const size = view.getBigUint64(24, true);
  if (size !== BigInt(v.length - HEADER_SIZE)) return undefined;
  const sec = Number(view.getBigInt64(8, true));
  const usec = Number(view.getBigInt64(16, true));
  let preview = '';
  for (let i = HEADER_SIZE; i < Math.min(v.length, HEADER_SIZE + 16) && v[i] !== 0; i++) preview += String.fromCharCode(v[i] as number);
  return { clientId: view.getInt32(0, true), sentUs: sec * 1e6 + usec, size: Number(size), preview };
}

/** LibPaxos3's learner line: `<sec>.<usec> [<first 16 chars>] <size> bytes`. */
export function deliveryLine(v: Uint8Array): string {
  const p = readPayload(v);
  if (p === undefined) {
    let text = '';
    for (let i = 0; i < Math.min(v.length, 16); i++) text += String.fromCharCode(v[i] as number);
    return `- [${text}] ${v.length} bytes`;
  }
  const sec = Math.floor(p.sentUs / 1e6);
  return `${sec}.${String(p.sentUs - sec * 1e6).padStart(6, '0')} [${p.preview}] ${p.size} bytes`;
}

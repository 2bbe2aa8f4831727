/**
 * LibPaxos3's client payload (reference §8), x86-64 layout, little-endian:
 *   int32 client id, 4 pad bytes (our client's sequence number), int64 seconds, int64
 *   microseconds (send time, wall clock),
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

/** `performance.timeOrigin` is a getter that costs on every read; it never changes. */
const ORIGIN_MS = performance.timeOrigin;

/** Wall-clock time in microseconds, with sub-millisecond resolution (Date.now() has only ms). */
export function nowUs(): number {
  return Math.floor((ORIGIN_MS + performance.now()) * 1000);
}

export function makePayload(clientId: number, size: number, random: () => number = Math.random): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + size);
  writeHeader(buf, clientId, 0, nowUs(), size);
  for (let i = 0; i < size - 1; i++) buf[HEADER_SIZE + i] = ALPHABET.charCodeAt(Math.floor(random() * ALPHABET.length));
  return buf;
}

/** Random [0-9a-z] bytes a `PayloadMaker` copies bodies from. */
const NOISE_BYTES = 1 << 16;
/** A prime step between bodies, so that consecutive previews differ. */
const NOISE_STEP = 4099;

/**
 * Makes one client's payloads at benchmark rates (the client is one of the processes sharing the
 * machine, so its work per value counts): the header's pad bytes carry a sequence number, which C
 * LibPaxos3 never reads, so a delivered value is matched by a number instead of a string; bodies
 * are copied from 64 KiB of random [0-9a-z] made once instead of drawn byte by byte; nothing is
 * allocated per value. `next()` returns a buffer the next call overwrites: encode it first.
 */
export class PayloadMaker {
  private readonly noise = new Uint8Array(NOISE_BYTES);
  private readonly buf: Uint8Array;
  private at = 0;
  private seq = 0;

  constructor(
    readonly clientId: number,
    readonly size: number,
    random: () => number = Math.random,
  ) {
    for (let i = 0; i < NOISE_BYTES; i++) this.noise[i] = ALPHABET.charCodeAt(Math.floor(random() * ALPHABET.length));
    this.buf = new Uint8Array(HEADER_SIZE + size);
  }

  /** The sequence number of the payload `next()` returned last (1, 2, … wrapping at 2^32). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The next payload, stamped now. */
  next(): Uint8Array {
    const buf = this.buf;
    this.seq = (this.seq + 1) >>> 0;
    writeHeader(buf, this.clientId, this.seq, nowUs(), this.size);
    // size − 1 body bytes from the noise, wrapping around it, then the NUL.
    let left = this.size - 1;
    let to = HEADER_SIZE;
    let from = this.at;
    while (left > 0) {
      const n = Math.min(left, NOISE_BYTES - from);
      buf.set(this.noise.subarray(from, from + n), to);
      to += n;
      left -= n;
      from = 0;
    }
    if (this.size > 0) buf[HEADER_SIZE + this.size - 1] = 0;
    this.at = (this.at + NOISE_STEP) % NOISE_BYTES;
    return buf;
  }
}

function writeHeader(buf: Uint8Array, clientId: number, seq: number, t: number, size: number): void {
  const sec = Math.floor(t / 1e6);
  writeU32(buf, 0, clientId >>> 0);
  writeU32(buf, 4, seq);
  writeU64(buf, 8, sec);
  writeU64(buf, 16, t - sec * 1e6);
  writeU64(buf, 24, size);
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** A non-negative integer below 2^53, as a little-endian 64-bit one. */
function writeU64(b: Uint8Array, at: number, v: number): void {
  writeU32(b, at, v >>> 0);
  writeU32(b, at + 4, Math.floor(v / 2 ** 32) >>> 0);
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

/** A little-endian unsigned 64-bit integer, exact below 2^53. */
function readU64(b: Uint8Array, at: number): number {
  return readU32(b, at) + readU32(b, at + 4) * 2 ** 32;
}

/** A little-endian signed 64-bit integer, exact within ±2^53 (the C struct's seconds and microseconds). */
function readI64(b: Uint8Array, at: number): number {
  return readU32(b, at) + (readU32(b, at + 4) | 0) * 2 ** 32;
}

/** Whether `v` is a payload at all: at least a header, and a size field matching its length. */
function isPayload(v: Uint8Array): boolean {
  return v.length >= HEADER_SIZE && readU64(v, 24) === v.length - HEADER_SIZE;
}

/** Whether `v` is a payload of client `clientId`. */
export function isPayloadOf(v: Uint8Array, clientId: number): boolean {
  return isPayload(v) && readU32(v, 0) === clientId >>> 0;
}

/** The sequence number a `PayloadMaker` wrote into the pad bytes (check `isPayloadOf` first). */
export function payloadSeq(v: Uint8Array): number {
  return readU32(v, 4);
}

/** The send time in microseconds (check `isPayloadOf` first). */
export function payloadSentUs(v: Uint8Array): number {
  return readI64(v, 8) * 1e6 + readI64(v, 16);
}

/** Reads a client payload, or undefined if the value is not one (shorter than its header or size). */
export function readPayload(v: Uint8Array): Payload | undefined {
  if (!isPayload(v)) return undefined;
  let preview = '';
  for (let i = HEADER_SIZE; i < Math.min(v.length, HEADER_SIZE + 16) && v[i] !== 0; i++) preview += String.fromCharCode(v[i] as number);
  return { clientId: readU32(v, 0) | 0, sentUs: payloadSentUs(v), size: v.length - HEADER_SIZE, preview };
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

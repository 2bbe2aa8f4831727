/**
 * Bytes without host objects (no Buffer, no TextEncoder): memcached keys and protocol lines are
 * bytes, not text, so keys travel as "byte strings" (one UTF-16 code unit per byte, 0–255) and
 * replies are built from ASCII.
 */

/** A memcached key: a byte string, one char code (0–255) per byte of the key. */
export type Key = string;

export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * `bytes` as an array of its own. A value a command carries is a view into whatever it was decoded
 * from (a batch of client values, a socket read): an item kept for hours must not pin that whole
 * buffer for a few bytes of it. Bytes that already fill their buffer are returned as they are:
 * the store takes ownership of a command's value (as of the commands decoded from the log, which
 * nothing else holds), so a caller of `KvStore.apply` must not change a value after passing it.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/** Bytes `start..end` of `buf` as a byte string. */
export function bytesToKey(buf: Uint8Array, start = 0, end = buf.length): Key {
  let s = '';
  // Chunks keep the argument list of fromCharCode short for long inputs.
  for (let i = start; i < end; i += 4096) {
    const stop = Math.min(end, i + 4096);
    s += String.fromCharCode.apply(null, buf.subarray(i, stop) as unknown as number[]);
  }
  return s;
}

/** A byte string (or plain ASCII text) as bytes. Char codes above 255 are a caller's bug. */
export function keyToBytes(key: Key): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 255) throw new RangeError(`byte string holds char code ${c} at ${i}; byte strings hold 0–255 only`);
    out[i] = c;
  }
  return out;
}

/** ASCII text as bytes (the protocol's reply lines). */
export const ascii = keyToBytes;

/** Whether a byte string holds only char codes 0–255. */
export function isByteString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return false;
  return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytes for display in messages: printable ASCII as is, everything else as \xNN. */
export function printable(bytes: Uint8Array | Key, max = 80): string {
  const n = typeof bytes === 'string' ? bytes.length : bytes.length;
  let s = '';
  for (let i = 0; i < Math.min(n, max); i++) {
    const c = typeof bytes === 'string' ? bytes.charCodeAt(i) : (bytes[i] as number);
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) s += String.fromCharCode(c);
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x0a) s += '\\n';
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return n > max ? `${s}… (${n} bytes)` : s;
}

/**
 * The unread bytes of a stream: chunks are appended as they arrive and consumed from the front,
 * in one buffer that grows by doubling and compacts when mostly consumed, so reading a stream of
 * n bytes costs O(n) whatever the chunking.
 */
export class ByteQueue {
  private buf: Uint8Array = new Uint8Array(4096);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length >>> 1) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < live + chunk.length) size *= 2;
        const bigger = new Uint8Array(size);
        bigger.set(this.buf.subarray(this.start, this.end));
        this.buf = bigger;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Byte `i` of the unread bytes. */
  at(i: number): number {
    return this.buf[this.start + i] as number;
  }

  /** Offset of the first `byte` at or after `from` in the unread bytes, or -1. */
  indexOf(byte: number, from = 0): number {
    const i = this.buf.subarray(0, this.end).indexOf(byte, this.start + from);
    return i < 0 ? -1 : i - this.start;
  }

  /** A view of unread bytes `from..to`: valid only until the next push. */
  view(from: number, to: number): Uint8Array {
    return this.buf.subarray(this.start + from, this.start + to);
  }

  /** A copy of the next `n` bytes, consumed. */
  take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.start += n;
    if (this.start >= this.end) {
      this.start = 0;
      this.end = 0;
      // Give back a buffer a large value made grow.
      if (this.buf.length > 1 << 16) this.buf = new Uint8Array(4096);
    }
  }
}

/** A growable byte writer for replies, big-endian integers as both memcached protocols use. */
export class ByteWriter {
  private buf: Uint8Array;
  private n = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
  }

  get length(): number {
    return this.n;
  }

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.n));
    this.buf = bigger;
  }

  /** ASCII text (or a byte string). */
  text(s: string): this {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.n++] = s.charCodeAt(i);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf[this.n++] = (v >>> 8) & 0xff;
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf[this.n++] = (v >>> 24) & 0xff;
    this.buf[this.n++] = (v >>> 16) & 0xff;
    this.buf[this.n++] = (v >>> 8) & 0xff;
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  /** An unsigned 64-bit integer (a bigint, or a number up to 2^53). */
  u64(v: bigint | number): this {
    const big = BigInt.asUintN(64, BigInt(v));
    this.u32(Number(big >> 32n));
    this.u32(Number(big & 0xffffffffn));
    return this;
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

export function readU16(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 8) | (b[at + 1] as number)) >>> 0;
}

export function readU32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
  );
}

export function readU64(b: Uint8Array, at: number): bigint {
  return (BigInt(readU32(b, at)) << 32n) | BigInt(readU32(b, at + 4));
}

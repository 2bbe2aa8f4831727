import { MESSAGE_CODE, MESSAGE_TYPES, MAX_UINT32, type Message, type MessageType } from '@libpaxos/paxos-core';

/**
 * LibPaxos3's wire format (reference §7): a TCP stream of back-to-back msgpack arrays
 * `[type, fields…]`, no length prefix, integers in msgpack's shortest form, values as bin (str
 * accepted, as older msgpack-c builds emit it).
 */

/** Field count after the type code, per message type (LibPaxos3's order, below). */
const ARITY: Record<MessageType, number> = {
  prepare: 2,
  promise: 5,
  accept: 3,
  accepted: 5,
  preempted: 3,
  repeat: 2,
  trim: 1,
  acceptor_state: 2,
  client_value: 1,
};

/**
 * Encodes one message as LibPaxos3 does: a fixarray, integers in msgpack's shortest form, the
 * value as bin. Written by hand into one exact-size buffer from Node's pool: 13.5 M msgs/s where
 * @msgpack/msgpack's generic encoder did 1.7 M (64-byte accepted); the tests keep it as the
 * reference for the bytes.
 */
export function encodeMessage(msg: Message): Uint8Array {
  const code = MESSAGE_CODE[msg.type];
  switch (msg.type) {
    case 'prepare':
      return ints(code, msg.iid, msg.ballot, -1);
    case 'promise':
    case 'accepted': {
      const { aid, iid, ballot, valueBallot, value } = msg;
      const out = Buffer.allocUnsafe(2 + uintSize(aid) + uintSize(iid) + uintSize(ballot) + uintSize(valueBallot) + binSize(value.length));
      out[0] = 0x96;
      out[1] = code;
      writeBin(out, writeUint(out, writeUint(out, writeUint(out, writeUint(out, 2, aid), iid), ballot), valueBallot), value);
      return out;
    }
    case 'accept': {
      const { iid, ballot, value } = msg;
      const out = Buffer.allocUnsafe(2 + uintSize(iid) + uintSize(ballot) + binSize(value.length));
      out[0] = 0x94;
      out[1] = code;
      writeBin(out, writeUint(out, writeUint(out, 2, iid), ballot), value);
      return out;
    }
    case 'preempted':
      return ints(code, msg.aid, msg.iid, msg.ballot);
    case 'repeat':
      return ints(code, msg.from, msg.to, -1);
    case 'trim':
      return ints(code, msg.iid, -1, -1);
    case 'acceptor_state':
      return ints(code, msg.aid, msg.trimIid, -1);
    case 'client_value': {
      const out = Buffer.allocUnsafe(2 + binSize(msg.value.length));
      out[0] = 0x92;
      out[1] = code;
      writeBin(out, 2, msg.value);
      return out;
    }
  }
}

/** A message of up to three integer fields; −1 marks the ones it does not have. */
function ints(code: number, a: number, b: number, c: number): Uint8Array {
  const fields = b < 0 ? 1 : c < 0 ? 2 : 3;
  const out = Buffer.allocUnsafe(2 + uintSize(a) + (fields > 1 ? uintSize(b) : 0) + (fields > 2 ? uintSize(c) : 0));
  out[0] = 0x91 + fields;
  out[1] = code;
  let p = writeUint(out, 2, a);
  if (fields > 1) p = writeUint(out, p, b);
  if (fields > 2) writeUint(out, p, c);
  return out;
}

function binSize(n: number): number {
  return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
}

function writeBin(out: Uint8Array, p: number, value: Uint8Array): void {
  const n = value.length;
  if (n < 0x100) {
    out[p++] = 0xc4;
    out[p++] = n;
  } else if (n < 0x10000) {
    out[p++] = 0xc5;
    out[p++] = n >>> 8;
    out[p++] = n & 0xff;
  } else {
    out[p++] = 0xc6;
    out[p++] = n >>> 24;
    out[p++] = (n >>> 16) & 0xff;
    out[p++] = (n >>> 8) & 0xff;
    out[p++] = n & 0xff;
  }
  out.set(value, p);
}

function uintSize(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_UINT32) throw new RangeError(`${n} is not a uint32: the wire carries ids and ballots as uint32`);
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** `n` (a uint32) in msgpack's shortest form at `p`; the position after it. */
export function writeUint(out: Uint8Array, p: number, n: number): number {
  if (n < 0x80) {
    out[p] = n;
    return p + 1;
  }
  if (n < 0x100) {
    out[p] = 0xcc;
    out[p + 1] = n;
    return p + 2;
  }
  if (n < 0x10000) {
    out[p] = 0xcd;
    out[p + 1] = n >>> 8;
    out[p + 2] = n & 0xff;
    return p + 3;
  }
  out[p] = 0xce;
  out[p + 1] = n >>> 24;
  out[p + 2] = (n >>> 16) & 0xff;
  out[p + 3] = (n >>> 8) & 0xff;
  out[p + 4] = n & 0xff;
  return p + 5;
}

/** Bytes that are not a LibPaxos3 message. The connection they came on should be closed. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** What one msgpack element of a frame is: an integer, or a value's place in the buffer. */
const INT = 0;
const BIN = 1;
const STR = 2;
const MAP = 3;

/** Type codes from here up are our extension messages (extensions.ts): `[code, map]` frames. */
const FIRST_EXTENSION_CODE = 16;
/** How deep an extension payload may nest maps and arrays, and how many elements it may have. */
const MAX_DEPTH = 8;
const MAX_ELEMENTS = 4096;

/**
 * An extension message's frame, undecoded: its type code and the msgpack bytes of its payload map
 * (a copy). extensions.ts reads the payload.
 */
export interface ExtensionFrame {
  readonly type: 'extension';
  readonly code: number;
  readonly payload: Uint8Array;
}

/** One frame off the wire: a LibPaxos3 message, or an extension message of ours. */
export type Frame = Message | ExtensionFrame;

/**
 * Turns a TCP byte stream into messages, whatever the chunking. One pass per frame checks its
 * structure before anything is buffered (so a peer announcing a 4 GiB value is refused at once,
 * not after 4 GiB), notes where each element is, and builds the message only once the frame is
 * complete, validating every field. Values are plain Uint8Array views of the chunks pushed (the
 * decoder never writes into them; pieces of a frame split across chunks are joined into a new
 * array), so the caller must not reuse a chunk it pushed (a socket's 'data' chunks are fresh per
 * read) unless it says so: from a `transient` chunk (a dialled socket's reused read buffer) every
 * value is copied. A stored value pins the chunk or slab it came from; an acceptor's values come
 * in chunks of accepts it keeps too, and an application keeping values for long should copy them
 * (paxos-kv does).
 * (@msgpack/msgpack's generic decoder, which the tests use as the reference, allocated an array
 * per frame and a string per str value.)
 */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  /**
   * Chunks received after `buf` while the frame at its start is known to need more bytes than
   * have arrived: they are joined once, when enough are in, not at every chunk (a 1 MiB frame
   * arriving in 64 KiB pieces would otherwise be copied 16 times over).
   */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  /** Bytes the incomplete frame at the start of `buf` needs at least (0: unknown). */
  private needed = 0;
  private count = 0;
  /** The chunk being decoded is reused after `push` returns: what outlives it is copied. */
  private transient = false;
  private readonly kinds = [0, 0, 0, 0, 0, 0];
  /** An integer's value, or a value's offset in `buf`. */
  private readonly nums = [0, 0, 0, 0, 0, 0];
  private readonly lens = [0, 0, 0, 0, 0, 0];

  constructor(private readonly maxValueSize: number) {}

  /** Bytes received but not yet decoded (part of a frame). */
  get buffered(): number {
    return this.buf.length + this.partsBytes;
  }

  /**
   * Appends `chunk` and returns every complete frame in it. Throws `WireError` on bytes that are
   * not a valid frame, and forgets what it had buffered (the connection is closed). A `transient` chunk is
   * reused by the caller once this returns: nothing decoded from it, nor kept of it, refers to its
   * bytes.
   */
  push(chunk: Uint8Array, transient = false): Frame[] {
    if (this.needed > 0 && this.buf.length + this.partsBytes + chunk.length < this.needed) {
      // `new Uint8Array(x)` copies whatever x is (a Buffer's slice would be a view).
      this.parts.push(transient ? new Uint8Array(chunk) : chunk);
      this.partsBytes += chunk.length;
      return [];
    }
    // Bytes joined into a new array are ours: what is decoded from them needs no second copy.
    let joined = false;
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      chunk = joinAll(this.parts, this.partsBytes + chunk.length);
      this.parts = [];
      this.partsBytes = 0;
      joined = true;
    }
    if (this.buf.length > 0) {
      chunk = concat(this.buf, chunk);
      joined = true;
    }
    this.buf = chunk;
    this.transient = transient && !joined;
    this.needed = 0;
    const out: Frame[] = [];
    let pos = 0;
    try {
      while (pos < this.buf.length) {
        const end = this.scan(pos);
        if (end < 0) {
          if (this.needed > 0) this.needed -= pos;
          break;
        }
        out.push(this.message());
        pos = end;
      }
    } catch (e) {
      // Refused bytes: nothing of them is kept (of a transient chunk either).
      this.reset();
      throw e;
    }
    this.buf = pos === this.buf.length ? EMPTY : new Uint8Array(this.buf.subarray(pos));
    return out;
  }

  /**
   * Forgets every byte received so far: a connection that ended (the first bytes of the next one
   * are not the rest of a frame cut off with the last), or bytes that were refused (`push` calls it
   * before throwing a `WireError`: nothing of a transient chunk stays referred to).
   */
  reset(): void {
    this.buf = EMPTY;
    this.parts = [];
    this.partsBytes = 0;
    this.needed = 0;
  }

  /**
   * Notes the elements of the frame starting at `pos` and returns its end, or −1 if it is not
   * complete yet. Throws `WireError` as soon as the bytes cannot be a LibPaxos3 message: not an
   * array, other than 2 to 6 elements, an element that is neither an integer nor bin/str, a value
   * above the size limit.
   */
  private scan(pos: number): number {
    const b = this.buf;
    const head = b[pos] as number;
    let count: number;
    let p = pos + 1;
    if (head >= 0x90 && head <= 0x9f) count = head & 0x0f;
    else if (head === 0xdc) {
      if (b.length < pos + 3) return -1;
      count = ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
      p = pos + 3;
    } else throw new WireError(`expected a msgpack array, got byte 0x${hex(head)}`);
    if (count < 2 || count > 6) throw new WireError(`a message has 2 to 6 elements, this one ${count}`);
    this.count = count;
    for (let i = 0; i < count; i++) {
      if (p >= b.length) return -1;
      const t = b[p] as number;
      if (t <= 0x7f || t >= 0xe0) {
        this.int(i, t <= 0x7f ? t : t - 0x100);
        p += 1;
        continue;
      }
      let size: number;
      switch (t) {
        case 0xcc:
        case 0xd0:
          size = 2;
          break;
        case 0xcd:
        case 0xd1:
          size = 3;
          break;
        case 0xce:
        case 0xd2:
          size = 5;
          break;
        case 0xcf:
        case 0xd3:
          size = 9;
          break;
        default:
          size = 0;
      }
      if (size > 0) {
        if (p + size > b.length) return -1;
        this.int(i, readInt(b, p, t));
        p += size;
        continue;
      }
      if ((t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf) {
        const end = this.extensionPayload(i, p);
        if (end < 0) return -1;
        p = end;
        continue;
      }
      let len: number;
      let hdr: number;
      if (t >= 0xa0 && t <= 0xbf) {
        len = t & 0x1f;
        hdr = 1;
      } else if (t === 0xc4 || t === 0xd9) {
        if (p + 2 > b.length) return -1;
        len = b[p + 1] as number;
        hdr = 2;
      } else if (t === 0xc5 || t === 0xda) {
        if (p + 3 > b.length) return -1;
        len = ((b[p + 1] as number) << 8) | (b[p + 2] as number);
        hdr = 3;
      } else if (t === 0xc6 || t === 0xdb) {
        if (p + 5 > b.length) return -1;
        len = (b[p + 1] as number) * 0x100_0000 + ((b[p + 2] as number) << 16) + (((b[p + 3] as number) << 8) | (b[p + 4] as number));
        hdr = 5;
      } else throw new WireError(`element ${i} has msgpack type 0x${hex(t)}; expected an integer or a value`);
      if (len > this.maxValueSize) throw new WireError(`a value of ${len} bytes exceeds the limit of ${this.maxValueSize} (max-value-size)`);
      this.kinds[i] = t === 0xc4 || t === 0xc5 || t === 0xc6 ? BIN : STR;
      this.nums[i] = p + hdr;
      this.lens[i] = len;
      p += hdr + len;
      if (p > b.length) {
        this.needed = p;
        return -1;
      }
    }
    return p <= b.length ? p : -1;
  }

  /**
   * An extension frame's payload map at `p` (element 1 of a 2-element frame whose type code is ours):
   * walks it to its end without building anything, and returns the end, or −1 if it is not complete.
   */
  private extensionPayload(i: number, p: number): number {
    if (i !== 1 || this.count !== 2 || this.kinds[0] !== INT || (this.nums[0] as number) < FIRST_EXTENSION_CODE) {
      throw new WireError(`element ${i} is a msgpack map; only an extension message (type code ≥ ${FIRST_EXTENSION_CODE}) has one, as its second and last element`);
    }
    const budget = { elements: 0, bytes: 0 };
    const end = this.skip(p, 0, budget);
    if (end >= 0) {
      this.kinds[i] = MAP;
      this.nums[i] = p;
      this.lens[i] = end - p;
    }
    return end;
  }

  /** The end of the msgpack value at `p`, or −1 if the buffer ends first. Throws on what we never send. */
  private skip(p: number, depth: number, budget: { elements: number; bytes: number }): number {
    const b = this.buf;
    if (p >= b.length) return -1;
    if (++budget.elements > MAX_ELEMENTS) throw new WireError(`an extension message has more than ${MAX_ELEMENTS} elements`);
    const t = b[p] as number;
    const u16 = (at: number) => ((b[at] as number) << 8) | (b[at + 1] as number);
    const u32 = (at: number) => (b[at] as number) * 0x100_0000 + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
    const container = (n: number, at: number, perEntry: number): number => {
      if (depth >= MAX_DEPTH) throw new WireError(`an extension message nests deeper than ${MAX_DEPTH}`);
      let q = at;
      for (let k = 0; k < n * perEntry; k++) {
        q = this.skip(q, depth + 1, budget);
        if (q < 0) return -1;
      }
      return q;
    };
    const blob = (hdr: number, len: number): number => {
      if (len > this.maxValueSize) throw new WireError(`a value of ${len} bytes exceeds the limit of ${this.maxValueSize} (max-value-size)`);
      budget.bytes += len;
      if (budget.bytes > this.maxValueSize + 65_536) throw new WireError(`an extension message is larger than max-value-size (${this.maxValueSize} bytes)`);
      const end = p + hdr + len;
      if (end > b.length) {
        this.needed = Math.max(this.needed, end);
        return -1;
      }
      return end;
    };
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return p + 1;
    if (t >= 0x80 && t <= 0x8f) return container(t & 0x0f, p + 1, 2);
    if (t >= 0x90 && t <= 0x9f) return container(t & 0x0f, p + 1, 1);
    if (t >= 0xa0 && t <= 0xbf) return blob(1, t & 0x1f);
    switch (t) {
      case 0xcc:
      case 0xd0:
        return p + 2 <= b.length ? p + 2 : -1;
      case 0xcd:
      case 0xd1:
        return p + 3 <= b.length ? p + 3 : -1;
      case 0xce:
      case 0xd2:
      case 0xca:
        return p + 5 <= b.length ? p + 5 : -1;
      case 0xcf:
      case 0xd3:
      case 0xcb:
        return p + 9 <= b.length ? p + 9 : -1;
      case 0xc4:
      case 0xd9:
        return p + 2 <= b.length ? blob(2, b[p + 1] as number) : -1;
      case 0xc5:
      case 0xda:
        return p + 3 <= b.length ? blob(3, u16(p + 1)) : -1;
      case 0xc6:
      case 0xdb:
        return p + 5 <= b.length ? blob(5, u32(p + 1)) : -1;
      case 0xdc:
        return p + 3 <= b.length ? container(u16(p + 1), p + 3, 1) : -1;
      case 0xdd:
        return p + 5 <= b.length ? container(u32(p + 1), p + 5, 1) : -1;
      case 0xde:
        return p + 3 <= b.length ? container(u16(p + 1), p + 3, 2) : -1;
      case 0xdf:
        return p + 5 <= b.length ? container(u32(p + 1), p + 5, 2) : -1;
    }
    // Timestamps and other ext types, and 0xc1 (never used): not in any message of ours.
    throw new WireError(`an extension message holds msgpack type 0x${hex(t)}, which no message uses`);
  }

  private int(i: number, v: number): void {
    this.kinds[i] = INT;
    this.nums[i] = v;
  }

  /** Builds the message of the frame `scan` just completed. */
  private message(): Frame {
    if (this.kinds[0] !== INT) throw new WireError('the first element is not a type code');
    const code = this.nums[0] as number;
    if (this.kinds[1] === MAP) {
      const start = this.nums[1] as number;
      // A copy, from a slab: an extension's payload is small (an accepted digest's is about 40
      // bytes) and one comes with nearly every instance between libpaxos-ts peers.
      return { type: 'extension', code, payload: copyOut(this.buf, start, this.lens[1] as number) };
    }
    const type = MESSAGE_TYPES[code];
    if (type === undefined) throw new WireError(`unknown message type ${code}`);
    if (this.count !== ARITY[type] + 1) throw new WireError(`${type} has ${ARITY[type]} fields, got ${this.count - 1}`);
    switch (type) {
      case 'prepare':
        return { type, iid: this.u(1, type, 'iid'), ballot: this.u(2, type, 'ballot') };
      case 'promise':
      case 'accepted':
        return {
          type,
          aid: this.u(1, type, 'aid'),
          iid: this.u(2, type, 'iid'),
          ballot: this.u(3, type, 'ballot'),
          valueBallot: this.u(4, type, 'value ballot'),
          value: this.bytes(5, type),
        };
      case 'accept':
        return { type, iid: this.u(1, type, 'iid'), ballot: this.u(2, type, 'ballot'), value: this.bytes(3, type) };
      case 'preempted':
        return { type, aid: this.u(1, type, 'aid'), iid: this.u(2, type, 'iid'), ballot: this.u(3, type, 'ballot') };
      case 'repeat':
        return { type, from: this.u(1, type, 'from'), to: this.u(2, type, 'to') };
      case 'trim':
        return { type, iid: this.u(1, type, 'iid') };
      case 'acceptor_state':
        return { type, aid: this.u(1, type, 'aid'), trimIid: this.u(2, type, 'trim iid') };
      case 'client_value':
        return { type, value: this.bytes(1, type) };
    }
  }

  private u(i: number, type: MessageType, name: string): number {
    const v = this.nums[i] as number;
    if (this.kinds[i] !== INT) throw new WireError(`${type}: ${name} must be a uint32, got ${this.kinds[i] === BIN ? 'bin' : 'str'}`);
    if (v < 0 || v > MAX_UINT32) throw new WireError(`${type}: ${name} must be a uint32, got ${v}`);
    return v;
  }

  /** A str value's bytes are taken as they are, as LibPaxos3 does: no UTF-8 decoding. */
  private bytes(i: number, type: MessageType): Uint8Array {
    if (this.kinds[i] === INT) throw new WireError(`${type}: value must be bin or str, got an integer`);
    const start = this.nums[i] as number;
    const length = this.lens[i] as number;
    // Most promises carry no value: one shared empty array (nothing can change it).
    if (length === 0) return EMPTY;
    // A socket's 'data' hands out a fresh Buffer per read and the decoder never writes into what
    // it was given (it joins pieces into new arrays), so the bytes stay as received: a plain
    // Uint8Array view, not a copy. A copy costs an ArrayBuffer with its own backing store per
    // value (about 0.7 µs for 96 bytes, most values crossing a replica three times); a view pins
    // only the chunk it came from, which the values kept (an acceptor's) mostly fill. A transient
    // chunk (a dialled socket's reused read buffer) is overwritten by the next read: copied. What
    // arrives there is mostly accepted messages (between libpaxos-ts replicas, digests instead for
    // values of accepted-digests-min-value-size and more).
    // (Bytes joined from several reads are the decoder's own array: views of it, as for 'data'.)
    const b = this.buf;
    if (this.transient) return copyOut(b, start, length);
    return new Uint8Array(b.buffer, b.byteOffset + start, length);
  }
}

/** Bytes of each slab that small copies share (see `Slab`). */
const SLAB_BYTES = 16 * 1024;

/**
 * Small copies packed into shared 16 KiB ArrayBuffers, as Node's Buffer pool does, so that a
 * copy costs no ArrayBuffer (and no malloc) of its own. A slab stays alive while any copy in it
 * does. A copy above 2 KiB gets an ArrayBuffer of its own.
 */
export class Slab {
  private buf = new ArrayBuffer(SLAB_BYTES);
  private used = 0;

  /** A copy of `length` bytes of `b` at `start`. */
  copy(b: Uint8Array, start: number, length: number): Uint8Array {
    // Nothing can change an empty array: the shared one pins no slab.
    if (length === 0) return EMPTY;
    // `new Uint8Array(view)` copies, also when `b` is a Buffer (whose slice is a view).
    if (length > SLAB_BYTES / 8) return new Uint8Array(b.subarray(start, start + length));
    if (this.used + length > SLAB_BYTES) {
      this.buf = new ArrayBuffer(SLAB_BYTES);
      this.used = 0;
    }
    const out = new Uint8Array(this.buf, this.used, length);
    out.set(b.subarray(start, start + length));
    // Aligned to 8, as Node's pool aligns: a later reader may view the bytes as wider integers.
    this.used = (this.used + length + 7) & ~7;
    return out;
  }
}

/**
 * Copies that mostly die young: values decoded from transient chunks, extension payloads, a
 * replica's messages to its own learner and proposer (client values queued under a backlog live
 * longer, and pin their slabs meanwhile).
 */
const shortLived = new Slab();
/**
 * Copies that are kept: a replica's own acceptor's values (the core's acceptor keeps every record
 * in memory until a trim, whatever the storage). Apart from the short-lived ones, which would
 * otherwise pin a slab of them each.
 */
const keptSlab = new Slab();

/** A copy of `b` that will be stored (see `keptSlab`); a small one shares a slab. */
export function copyKept(b: Uint8Array): Uint8Array {
  return keptSlab.copy(b, 0, b.length);
}

/** A copy of `b` that mostly dies young; a small one shares a slab. */
export function copyShortLived(b: Uint8Array): Uint8Array {
  return shortLived.copy(b, 0, b.length);
}

/** A short-lived copy of `length` bytes of `b` at `start`. */
function copyOut(b: Uint8Array, start: number, length: number): Uint8Array {
  return shortLived.copy(b, start, length);
}

const EMPTY = new Uint8Array(0);

/** The msgpack integer of type byte `t` at `p` (its bytes follow `p`; a 64-bit one only as precisely as a double can). */
export function readInt(b: Uint8Array, p: number, t: number): number {
  const b1 = b[p + 1] as number;
  const b2 = b[p + 2] as number;
  switch (t) {
    case 0xcc:
      return b1;
    case 0xcd:
      return (b1 << 8) | b2;
    case 0xd0:
      return b1 >= 0x80 ? b1 - 0x100 : b1;
    case 0xd1: {
      const v = (b1 << 8) | b2;
      return v >= 0x8000 ? v - 0x1_0000 : v;
    }
  }
  const hi = b1 * 0x100_0000 + ((b2 << 16) | ((b[p + 3] as number) << 8) | (b[p + 4] as number));
  switch (t) {
    case 0xce:
      return hi;
    case 0xd2:
      return hi >= 0x8000_0000 ? hi - 0x1_0000_0000 : hi;
  }
  const lo = (b[p + 5] as number) * 0x100_0000 + (((b[p + 6] as number) << 16) | ((b[p + 7] as number) << 8) | (b[p + 8] as number));
  // 0xcf is unsigned; 0xd3 signed: its high word is negative when the top bit is set.
  return (t === 0xd3 && hi >= 0x8000_0000 ? hi - 0x1_0000_0000 : hi) * 0x1_0000_0000 + lo;
}

function joinAll(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a, 0);
  c.set(b, a.length);
  return c;
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

import { Decoder, Encoder } from '@msgpack/msgpack';
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

const encoder = new Encoder();

/** Encodes one message as LibPaxos3 does. */
export function encodeMessage(msg: Message): Uint8Array {
  return encoder.encode(toArray(msg));
}

function toArray(msg: Message): unknown[] {
  const code = MESSAGE_CODE[msg.type];
  switch (msg.type) {
    case 'prepare':
      return [code, msg.iid, msg.ballot];
    case 'promise':
    case 'accepted':
      return [code, msg.aid, msg.iid, msg.ballot, msg.valueBallot, msg.value];
    case 'accept':
      return [code, msg.iid, msg.ballot, msg.value];
    case 'preempted':
      return [code, msg.aid, msg.iid, msg.ballot];
    case 'repeat':
      return [code, msg.from, msg.to];
    case 'trim':
      return [code, msg.iid];
    case 'acceptor_state':
      return [code, msg.aid, msg.trimIid];
    case 'client_value':
      return [code, msg.value];
  }
}

/** Bytes that are not a LibPaxos3 message. The connection they came on should be closed. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/**
 * Turns a TCP byte stream into messages, whatever the chunking. It checks the structure of each
 * frame before buffering it (so a peer announcing a 4 GiB value is refused at once, not after
 * 4 GiB), then decodes it with @msgpack/msgpack and validates every field. Values are copied out
 * of the socket's buffers, so a stored value never pins a whole network chunk.
 */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private readonly decoder: Decoder;

  constructor(private readonly maxValueSize: number) {
    this.decoder = new Decoder({ maxBinLength: maxValueSize, maxStrLength: maxValueSize, maxArrayLength: 6, maxMapLength: 0, maxExtLength: 0 });
  }

  /** Bytes received but not yet decoded (part of a frame). */
  get buffered(): number {
    return this.buf.length;
  }

  /**
   * Appends `chunk` and returns every complete message in it. Throws `WireError` on bytes that
   * are not a valid message; the decoder is unusable afterwards.
   */
  push(chunk: Uint8Array): Message[] {
    this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk);
    const out: Message[] = [];
    let pos = 0;
    while (pos < this.buf.length) {
      const end = frameEnd(this.buf, pos, this.maxValueSize);
      if (end < 0) break;
      out.push(toMessage(this.decoder.decode(this.buf.subarray(pos, end))));
      pos = end;
    }
    this.buf = pos === this.buf.length ? new Uint8Array(0) : this.buf.slice(pos);
    return out;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a, 0);
  c.set(b, a.length);
  return c;
}

/**
 * The end offset of the frame starting at `pos`, or −1 if it is not complete yet. Throws
 * `WireError` as soon as the bytes cannot be a LibPaxos3 message: not an array, more than 6
 * elements, an element that is neither an integer nor bin/str, a value above the size limit.
 */
function frameEnd(b: Uint8Array, pos: number, maxValue: number): number {
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
  for (let i = 0; i < count; i++) {
    if (p >= b.length) return -1;
    const t = b[p] as number;
    let size: number;
    if (t <= 0x7f || t >= 0xe0) size = 1;
    else if (t === 0xcc || t === 0xd0) size = 2;
    else if (t === 0xcd || t === 0xd1) size = 3;
    else if (t === 0xce || t === 0xd2) size = 5;
    else if (t === 0xcf || t === 0xd3) size = 9;
    else {
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
        len = ((b[p + 1] as number) * 0x100_0000 + ((b[p + 2] as number) << 16)) + (((b[p + 3] as number) << 8) | (b[p + 4] as number));
        hdr = 5;
      } else throw new WireError(`element ${i} has msgpack type 0x${hex(t)}; expected an integer or a value`);
      if (len > maxValue) throw new WireError(`a value of ${len} bytes exceeds the limit of ${maxValue} (max-value-size)`);
      size = hdr + len;
    }
    p += size;
  }
  return p <= b.length ? p : -1;
}

function toMessage(decoded: unknown): Message {
  if (!Array.isArray(decoded)) throw new WireError('expected an array');
  const code = decoded[0];
  if (typeof code !== 'number' || !Number.isInteger(code)) throw new WireError('the first element is not a type code');
  const type = MESSAGE_TYPES[code];
  if (type === undefined) throw new WireError(`unknown message type ${code}`);
  if (decoded.length !== ARITY[type] + 1) {
    throw new WireError(`${type} has ${ARITY[type]} fields, got ${decoded.length - 1}`);
  }
  const u = (i: number, name: string): number => {
    const v = decoded[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_UINT32) {
      throw new WireError(`${type}: ${name} must be a uint32, got ${typeof v === 'number' ? v : typeof v}`);
    }
    return v;
  };
  const bytes = (i: number): Uint8Array => {
    const v = decoded[i];
    if (v instanceof Uint8Array) return v.slice();
    if (typeof v === 'string') return new TextEncoder().encode(v);
    throw new WireError(`${type}: value must be bin or str, got ${typeof v}`);
  };
  switch (type) {
    case 'prepare':
      return { type, iid: u(1, 'iid'), ballot: u(2, 'ballot') };
    case 'promise':
    case 'accepted':
      return { type, aid: u(1, 'aid'), iid: u(2, 'iid'), ballot: u(3, 'ballot'), valueBallot: u(4, 'value ballot'), value: bytes(5) };
    case 'accept':
      return { type, iid: u(1, 'iid'), ballot: u(2, 'ballot'), value: bytes(3) };
    case 'preempted':
      return { type, aid: u(1, 'aid'), iid: u(2, 'iid'), ballot: u(3, 'ballot') };
    case 'repeat':
      return { type, from: u(1, 'from'), to: u(2, 'to') };
    case 'trim':
      return { type, iid: u(1, 'iid') };
    case 'acceptor_state':
      return { type, aid: u(1, 'aid'), trimIid: u(2, 'trim iid') };
    case 'client_value':
      return { type, value: bytes(1) };
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

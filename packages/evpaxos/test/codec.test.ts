import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { MESSAGE_CODE, MESSAGE_TYPES, MAX_UINT32, NOOP, type Message, type MessageType } from '@libpaxos/paxos-core';
import { FrameDecoder, Slab, WireError, copyKept, copyShortLived, encodeMessage, type Frame } from '../src/codec.js';
import { encodeExtension } from '../src/extensions.js';

const hex = (s: string) => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const hi = Uint8Array.of(0x68, 0x69, 0x00);
/** The encoder hands out pooled Buffers; compare plain bytes. */
const bytesOf = (b: Uint8Array) => Uint8Array.from(b);

// Reference §7, verified against LibPaxos3: these are test vectors.
const VECTORS: [string, Message, string][] = [
  ['prepare iid 1 ballot 10', { type: 'prepare', iid: 1, ballot: 10 }, '93 00 01 0a'],
  ['promise, none accepted', { type: 'promise', aid: 0, iid: 1, ballot: 11, valueBallot: 0, value: new Uint8Array() }, '96 01 00 01 0b 00 c4 00'],
  ['accept "hi\\0"', { type: 'accept', iid: 1, ballot: 11, value: hi }, '94 02 01 0b c4 03 68 69 00'],
  ['accepted', { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: hi }, '96 03 00 01 0b 0b c4 03 68 69 00'],
  ['preempted', { type: 'preempted', aid: 0, iid: 1, ballot: 11 }, '94 04 00 01 0b'],
  ['promise at ballot 300', { type: 'promise', aid: 0, iid: 1, ballot: 300, valueBallot: 11, value: hi }, '96 01 00 01 cd 01 2c 0b c4 03 68 69 00'],
  ['repeat 1..3', { type: 'repeat', from: 1, to: 3 }, '93 05 01 03'],
  ['trim 1', { type: 'trim', iid: 1 }, '92 06 01'],
  ['acceptor_state aid 0 trim 5', { type: 'acceptor_state', aid: 0, trimIid: 5 }, '93 07 00 05'],
];

describe('codec', () => {
  it.each(VECTORS)('%s encodes to LibPaxos3 bytes and back', (_name, msg, bytes) => {
    expect(bytesOf(encodeMessage(msg))).toEqual(hex(bytes));
    expect(new FrameDecoder(1 << 20).push(hex(bytes))).toEqual([msg]);
  });

  // The no-op is LibPaxos3's client payload with client id −1 and size 0, plus a NUL: a non-empty
  // value, so C acceptors store and repeat it (they never repeat an empty one) and C samples read
  // it as another client's value. The repeat reply is the one a C LibPaxos3 acceptor (d255f8b)
  // sent back for accept(iid 1, ballot 11, NOOP) followed by repeat(1, 2).
  it('the no-op goes on the wire as 33 bytes that a C acceptor repeats byte for byte', () => {
    const body = 'ff ff ff ff' + ' 00'.repeat(29);
    expect(bytesOf(encodeMessage({ type: 'accept', iid: 1, ballot: 11, value: NOOP }))).toEqual(hex(`94 02 01 0b c4 21 ${body}`));
    const repeated = hex(`96 03 00 01 0b 0b c4 21 ${body}`);
    expect(new FrameDecoder(1 << 20).push(repeated)).toEqual([{ type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: NOOP }]);
  });

  it('encodes a 40-byte client value as LibPaxos3 does', () => {
    const value = new Uint8Array(40).fill(7);
    const bytes = encodeMessage({ type: 'client_value', value });
    expect([...bytes.subarray(0, 4)]).toEqual([0x92, 0x08, 0xc4, 0x28]);
    expect(bytes.length).toBe(44);
  });

  it('uses the shortest integer encodings, up to uint32', () => {
    expect(bytesOf(encodeMessage({ type: 'trim', iid: 0xffff_ffff }))).toEqual(hex('92 06 ce ff ff ff ff'));
    expect(bytesOf(encodeMessage({ type: 'trim', iid: 200 }))).toEqual(hex('92 06 cc c8'));
  });

  it('accepts values sent as msgpack str (older msgpack-c builds)', () => {
    expect(new FrameDecoder(100).push(hex('92 08 a3 68 69 00'))).toEqual([{ type: 'client_value', value: hi }]);
  });

  it('decodes any chunking of a stream of messages', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: VECTORS.length - 1 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 7 })), (picks, cuts) => {
        const msgs = picks.map((i) => (VECTORS[i] as [string, Message, string])[1]);
        const stream = Uint8Array.from(msgs.flatMap((m) => [...encodeMessage(m)]));
        const d = new FrameDecoder(1 << 20);
        const got: Frame[] = [];
        let pos = 0;
        for (const c of cuts) {
          got.push(...d.push(stream.subarray(pos, pos + c)));
          pos = Math.min(stream.length, pos + c);
        }
        got.push(...d.push(stream.subarray(pos)));
        expect(got).toEqual(msgs);
        expect(d.buffered).toBe(0);
      }),
    );
  });

  it('decodes any chunking of a stream read through one reused buffer, and keeps nothing of that buffer', () => {
    // A dialled socket reads into a buffer that the next read overwrites (Transport.connect):
    // every value handed out, every extension payload and every piece of a frame kept for later
    // must be a copy. Values of 300 bytes span reads; a value or an extension payload above 2 KiB
    // is copied apart from the slab.
    const value = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
    const pool: Uint8Array[] = [
      ...VECTORS.map((v) => encodeMessage(v[1])),
      encodeMessage({ type: 'accept', iid: 7, ballot: 11, value: value(300) }),
      encodeMessage({ type: 'accepted', aid: 1, iid: 8, ballot: 11, valueBallot: 11, value: value(5000) }),
      encodeExtension({ type: 'hello', version: 'test', role: 'replica', id: 1, features: ['accepted-digests'] }),
      encodeExtension({ type: 'accepted_digest', aid: 2, iid: 9, ballot: 11, valueBallot: 11, size: 300, d1: 123456789, d2: 987654321 }),
      encodeExtension({ type: 'snapshot_chunk', iid: 10, sum: value(32), offset: 0, data: value(3000), gone: false }),
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: pool.length - 1 }), { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 })), (picks, cuts) => {
        const stream = Uint8Array.from(picks.flatMap((i) => [...(pool[i] as Uint8Array)]));
        const want = new FrameDecoder(1 << 20).push(Uint8Array.from(stream));
        // A socket's buffer may be a Buffer too, whose slice is a view, not a copy.
        const reused = picks.length % 2 === 0 ? new Uint8Array(4096) : Buffer.alloc(4096);
        const d = new FrameDecoder(1 << 20);
        const got: Frame[] = [];
        let pos = 0;
        const read = (n: number) => {
          const piece = stream.subarray(pos, pos + n);
          reused.set(piece);
          got.push(...d.push(reused.subarray(0, piece.length), true));
          reused.fill(0xee);
          pos += piece.length;
        };
        for (const c of cuts) read(c);
        while (pos < stream.length) read(4096);
        expect(got).toEqual(want);
        expect(got).toHaveLength(picks.length);
        expect(d.buffered).toBe(0);
      }),
    );
  });

  it('copies small values into shared slabs, kept ones apart, each its own bytes', () => {
    const source = Uint8Array.from({ length: 40 }, (_, i) => i);
    // Two copies share a slab (no ArrayBuffer per copy): checked on a fresh one, since the shared
    // short-lived slab may be too full after earlier tests to hold both.
    const fresh = new Slab();
    expect(fresh.copy(source, 0, 40).buffer).toBe(fresh.copy(source, 0, 24).buffer);
    const a = copyShortLived(source);
    const b = copyShortLived(source.subarray(0, 24));
    const k = copyKept(source);
    // The kept one lives in another slab than the short-lived ones.
    expect(k.buffer).not.toBe(a.buffer);
    for (const c of [a, b, k]) expect(c.byteOffset % 8).toBe(0);
    // Each is its own: writing into one, or into the source, changes no other.
    a.fill(0xff);
    source.fill(0xee);
    expect(b).toEqual(Uint8Array.from({ length: 24 }, (_, i) => i));
    expect(k).toEqual(Uint8Array.from({ length: 40 }, (_, i) => i));
    // A large copy gets an ArrayBuffer of its own; an empty one pins no slab.
    const big = copyShortLived(new Uint8Array(3000).fill(3));
    expect(big.buffer.byteLength).toBe(3000);
    expect(copyKept(new Uint8Array(0)).buffer.byteLength).toBe(0);
  });

  it.each([
    ['Uint8Array', hex('92 08 c4 03 68 69 00 92 08')],
    ['Buffer (as sockets deliver)', Buffer.from(hex('92 08 c4 03 68 69 00 92 08'))],
  ])('hands out values as plain Uint8Array views of the received %s, which it never writes into', (_kind, chunk) => {
    const before = Uint8Array.from(chunk);
    const d = new FrameDecoder(100);
    const [m] = d.push(chunk);
    expect(m).toEqual({ type: 'client_value', value: hi });
    const value = m?.type === 'client_value' ? m.value : new Uint8Array(0);
    // A view (no ArrayBuffer of its own per value), and a plain Uint8Array as paxos-core expects.
    expect(value.buffer).toBe(chunk.buffer);
    expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
    // The rest of the frame arrives: joined into a new array, the first chunk left as it was.
    expect(d.push(hex('c4 01 78'))).toEqual([{ type: 'client_value', value: Uint8Array.of(0x78) }]);
    expect(Uint8Array.from(chunk)).toEqual(before);
    expect(value).toEqual(hi);
  });

  it.each([
    ['a top-level integer (crashes LibPaxos3)', '01', /expected a msgpack array/],
    ['nil (crashes LibPaxos3)', 'c0', /expected a msgpack array/],
    ['a map', '81 00 00', /expected a msgpack array/],
    ['an unknown type code', '93 09 01 02', /unknown message type 9/],
    ['the wrong field count', '92 00 01', /prepare has 2 fields, got 1/],
    ['a negative iid', '93 00 ff 01', /iid must be a uint32/],
    ['an iid above uint32', '93 00 cf 00 00 00 01 00 00 00 00 01', /iid must be a uint32/],
    ['a value where an integer belongs', '93 00 c4 00 01', /iid must be a uint32, got bin/],
    ['an integer where a value belongs', '92 08 05', /value must be bin or str/],
    ['a float', '93 00 cb 00 00 00 00 00 00 00 00 01', /msgpack type 0xcb/],
    ['an absurd value length', '92 08 c6 ff ff ff ff', /exceeds the limit/],
    ['too many elements', '97 00 00 00 00 00 00 00', /2 to 6 elements, this one 7/],
  ])('refuses %s', (_name, bytes, error) => {
    expect(() => new FrameDecoder(1024).push(hex(bytes))).toThrow(WireError);
    expect(() => new FrameDecoder(1024).push(hex(bytes))).toThrow(error);
  });

  it('never throws anything but WireError, and never buffers past one frame of the limit, on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const d = new FrameDecoder(256);
        try {
          for (const c of chunks) {
            d.push(c);
            expect(d.buffered).toBeLessThanOrEqual(256 + 6 * 9 + 8);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // @msgpack/msgpack is the reference: our hand-written codec must agree with it byte for byte.
  it('encodes every message exactly as @msgpack/msgpack encodes its array, and decodes it back', () => {
    fc.assert(
      fc.property(arbitraryMessage, (msg) => {
        const ours = encodeMessage(msg);
        // Buffer.equals: vitest's deep equality is slow on 64 KiB values.
        expect(Buffer.from(ours).equals(encode(asArray(msg)))).toBe(true);
        const [back, ...more] = new FrameDecoder(1 << 20).push(ours);
        expect(more).toEqual([]);
        expect(Buffer.from(encodeMessage(back as Message)).equals(ours)).toBe(true);
        expect({ ...back, value: undefined }).toEqual({ ...msg, value: undefined });
      }),
      { numRuns: 2000 },
    );
  });

  it('reads any msgpack array @msgpack/msgpack writes as the generic decoder would, or refuses it', () => {
    const element = fc.oneof(
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom(-1, -128, -129, -32768, -32769, 127, 128, 255, 256, 65535, 65536, MAX_UINT32, MAX_UINT32 + 1, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(element, { minLength: 2, maxLength: 6 }), (fields) => {
        const bytes = encode(fields);
        const expected = referenceMessage(fields);
        let got: Frame[] | WireError;
        try {
          got = new FrameDecoder(1 << 20).push(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
          got = e as WireError;
        }
        if (expected === undefined) expect(got).toBeInstanceOf(WireError);
        else expect(got).toEqual([expected]);
        // And whatever one frame is, the decoder consumed it whole or refused it.
        expect(decode(bytes)).toEqual(fields);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads integers in every msgpack width, signed forms of positive numbers included', () => {
    const d = new FrameDecoder(100);
    expect(d.push(hex('93 00 d0 05 d1 01 2c'))).toEqual([{ type: 'prepare', iid: 5, ballot: 300 }]);
    expect(d.push(hex('93 00 d2 00 01 00 00 cf 00 00 00 00 ff ff ff ff'))).toEqual([{ type: 'prepare', iid: 65536, ballot: MAX_UINT32 }]);
    expect(d.push(hex('93 00 d3 00 00 00 00 00 00 00 07 cd 01 00'))).toEqual([{ type: 'prepare', iid: 7, ballot: 256 }]);
    expect(() => new FrameDecoder(100).push(hex('93 00 d3 ff ff ff ff ff ff ff ff 01'))).toThrow(/iid must be a uint32, got -1/);
  });
});

const uint32 = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(127, 128, 255, 256, 65535, 65536, MAX_UINT32), fc.integer({ min: 0, max: MAX_UINT32 }));
const value = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(255, 256, 65535, 65536).map((n) => new Uint8Array(n).fill(3)));
const arbitraryMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('prepare' as const), iid: uint32, ballot: uint32 }),
  fc.record({ type: fc.constantFrom('promise' as const, 'accepted' as const), aid: uint32, iid: uint32, ballot: uint32, valueBallot: uint32, value }),
  fc.record({ type: fc.constant('accept' as const), iid: uint32, ballot: uint32, value }),
  fc.record({ type: fc.constant('preempted' as const), aid: uint32, iid: uint32, ballot: uint32 }),
  fc.record({ type: fc.constant('repeat' as const), from: uint32, to: uint32 }),
  fc.record({ type: fc.constant('trim' as const), iid: uint32 }),
  fc.record({ type: fc.constant('acceptor_state' as const), aid: uint32, trimIid: uint32 }),
  fc.record({ type: fc.constant('client_value' as const), value }),
);

/** The array LibPaxos3 puts on the wire for `msg`. */
function asArray(msg: Message): unknown[] {
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

/** What a decoded array means, by LibPaxos3's field order; undefined when it is no message. */
function referenceMessage(a: unknown[]): Message | undefined {
  const type: MessageType | undefined = typeof a[0] === 'number' ? MESSAGE_TYPES[a[0]] : undefined;
  if (type === undefined) return undefined;
  const shapes: Record<MessageType, string[]> = {
    prepare: ['iid', 'ballot'],
    promise: ['aid', 'iid', 'ballot', 'valueBallot', 'value'],
    accept: ['iid', 'ballot', 'value'],
    accepted: ['aid', 'iid', 'ballot', 'valueBallot', 'value'],
    preempted: ['aid', 'iid', 'ballot'],
    repeat: ['from', 'to'],
    trim: ['iid'],
    acceptor_state: ['aid', 'trimIid'],
    client_value: ['value'],
  };
  const names = shapes[type];
  if (a.length !== names.length + 1) return undefined;
  const msg: Record<string, unknown> = { type };
  for (const [i, name] of names.entries()) {
    const v = a[i + 1];
    if (name === 'value') {
      if (v instanceof Uint8Array) msg[name] = v;
      else if (typeof v === 'string') msg[name] = new TextEncoder().encode(v);
      else return undefined;
    } else {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_UINT32) return undefined;
      msg[name] = v;
    }
  }
  return msg as unknown as Message;
}

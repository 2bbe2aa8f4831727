import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '@libpaxos/paxos-core';
import { FrameDecoder, WireError, encodeMessage } from '../src/codec.js';

const hex = (s: string) => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const hi = Uint8Array.of(0x68, 0x69, 0x00);

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
    expect(encodeMessage(msg)).toEqual(hex(bytes));
    expect(new FrameDecoder(1 << 20).push(hex(bytes))).toEqual([msg]);
  });

  it('encodes a 40-byte client value as LibPaxos3 does', () => {
    const value = new Uint8Array(40).fill(7);
    const bytes = encodeMessage({ type: 'client_value', value });
    expect([...bytes.subarray(0, 4)]).toEqual([0x92, 0x08, 0xc4, 0x28]);
    expect(bytes.length).toBe(44);
  });

  it('uses the shortest integer encodings, up to uint32', () => {
    expect(encodeMessage({ type: 'trim', iid: 0xffff_ffff })).toEqual(hex('92 06 ce ff ff ff ff'));
    expect(encodeMessage({ type: 'trim', iid: 200 })).toEqual(hex('92 06 cc c8'));
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
        const got: Message[] = [];
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

  it('copies values out of the received buffer', () => {
    const chunk = hex('92 08 c4 03 68 69 00');
    const [m] = new FrameDecoder(100).push(chunk);
    chunk.fill(0);
    expect(m).toEqual({ type: 'client_value', value: hi });
  });

  it.each([
    ['a top-level integer (crashes LibPaxos3)', '01', /expected a msgpack array/],
    ['nil (crashes LibPaxos3)', 'c0', /expected a msgpack array/],
    ['a map', '81 00 00', /expected a msgpack array/],
    ['an unknown type code', '93 09 01 02', /unknown message type 9/],
    ['the wrong field count', '92 00 01', /prepare has 2 fields, got 1/],
    ['a negative iid', '93 00 ff 01', /iid must be a uint32/],
    ['an iid above uint32', '93 00 cf 00 00 00 01 00 00 00 00 01', /iid must be a uint32/],
    ['a value where an integer belongs', '93 00 c4 00 01', /iid must be a uint32, got object/],
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
});

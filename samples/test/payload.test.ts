import { describe, expect, it } from 'vitest';
import { HEADER_SIZE, PayloadMaker, deliveryLine, isPayloadOf, makePayload, nowUs, payloadSentUs, payloadSeq, readPayload } from '../src/payload.js';

describe("the client's payload (LibPaxos3's layout)", () => {
  it('has the C struct layout: client id, pad, seconds, microseconds and size as little-endian 64-bit integers, then size − 1 of [0-9a-z] and a NUL', () => {
    const before = nowUs();
    const v = makePayload(7, 64);
    const after = nowUs();
    expect(v.length).toBe(HEADER_SIZE + 64);
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    expect(view.getInt32(0, true)).toBe(7);
    const sec = Number(view.getBigInt64(8, true));
    const usec = Number(view.getBigInt64(16, true));
    expect(usec).toBeGreaterThanOrEqual(0);
    expect(usec).toBeLessThan(1e6);
    expect(sec * 1e6 + usec).toBeGreaterThanOrEqual(before);
    expect(sec * 1e6 + usec).toBeLessThanOrEqual(after);
    expect(view.getBigUint64(24, true)).toBe(64n);
    const body = new TextDecoder().decode(v.subarray(HEADER_SIZE, HEADER_SIZE + 63));
    expect(body).toMatch(/^[0-9a-z]{63}$/);
    expect(v[HEADER_SIZE + 63]).toBe(0);
  });

  it('reads back what it wrote, and two payloads made at once differ in their bodies', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const v = makePayload(3, 64);
      const p = readPayload(v);
      expect(p?.clientId).toBe(3);
      expect(p?.size).toBe(64);
      expect(deliveryLine(v)).toMatch(/^\d+\.\d{6} \[[0-9a-z]{16}\] 64 bytes$/);
      seen.add(`${p?.sentUs}/${p?.preview}`);
    }
    expect(seen.size).toBe(2000);
  });

  it('refuses values that are not a payload: too short, or a size field that does not match, even above 2^32', () => {
    expect(readPayload(new Uint8Array(10))).toBeUndefined();
    const v = makePayload(1, 8);
    const view = new DataView(v.buffer);
    view.setUint32(24, 9, true);
    expect(readPayload(v)).toBeUndefined();
    view.setUint32(24, 8, true);
    view.setUint32(28, 1, true);
    expect(readPayload(v)).toBeUndefined();
    view.setUint32(28, 0, true);
    expect(readPayload(v)?.size).toBe(8);
  });

  it('takes a seeded random function, byte by byte, for reproducible bodies', () => {
    let x = 1;
    const seeded = () => ((x = (x * 48271) % 2147483647) / 2147483647);
    const a = makePayload(1, 32, seeded);
    x = 1;
    const b = makePayload(1, 32, seeded);
    expect(a.subarray(HEADER_SIZE)).toEqual(b.subarray(HEADER_SIZE));
  });

  it("a PayloadMaker's payloads have the same layout, a sequence number in the pad bytes, bodies of [0-9a-z] that differ, and read back", () => {
    let x = 7;
    const seeded = () => ((x = (x * 48271) % 2147483647) / 2147483647);
    for (const size of [1, 2, 64, 1024, 70_000]) {
      const maker = new PayloadMaker(2 ** 31 - 1, size, seeded);
      const bodies = new Set<string>();
      for (let i = 1; i <= 50; i++) {
        const before = nowUs();
        const v = maker.next();
        const after = nowUs();
        expect(v.length).toBe(HEADER_SIZE + size);
        // C LibPaxos3's reading of it: the client id, the time and the size where the struct has them.
        const p = readPayload(v);
        expect(p).toMatchObject({ clientId: 2 ** 31 - 1, size });
        expect(p?.sentUs).toBeGreaterThanOrEqual(before);
        expect(p?.sentUs).toBeLessThanOrEqual(after);
        expect(payloadSentUs(v)).toBe(p?.sentUs);
        expect(maker.lastSeq).toBe(i);
        expect(payloadSeq(v)).toBe(i);
        expect(isPayloadOf(v, 2 ** 31 - 1)).toBe(true);
        expect(isPayloadOf(v, 5)).toBe(false);
        const body = new TextDecoder().decode(v.subarray(HEADER_SIZE, HEADER_SIZE + size - 1));
        expect(body).toMatch(/^[0-9a-z]*$/);
        expect(v[HEADER_SIZE + size - 1]).toBe(0);
        bodies.add(body);
      }
      if (size > 16) expect(bodies.size).toBe(50);
    }
    const v = makePayload(3, 8);
    expect(isPayloadOf(v.subarray(0, 39), 3)).toBe(false);
    expect(isPayloadOf(v, 3)).toBe(true);
  });
});

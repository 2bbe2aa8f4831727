import { Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { arrayAt, valuesEnd } from '../src/msgpack-scan.js';

const encoder = new Encoder({ useBigInt64: true });
const enc = (v: unknown) => encoder.encode(v);

describe('msgpack value boundaries', () => {
  // Every msgpack format: each value's end is its encoding's length, alone and in a row.
  const values: unknown[] = [
    null, true, false, 0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
    -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 2n ** 63n - 1n, -(2n ** 63n),
    0.5, 1e300, '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(65536),
    new Uint8Array(0), new Uint8Array(255), new Uint8Array(256), new Uint8Array(65536),
    [], [1, [2, [3, []]]], Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 65536 }, () => 0),
    {}, { a: 1, b: [{ c: 'd' }] }, Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])), Object.fromEntries(Array.from({ length: 65536 }, (_, i) => [`k${i}`, null])),
    new Date(0), new Date(1_700_000_000_123), new Date(2 ** 40 * 1000),
  ];

  it('ends each value of every format where its encoding ends, alone and in a row', () => {
    for (const v of values) {
      const b = enc(v);
      expect(valuesEnd(b, 0, 1), String(v).slice(0, 40)).toBe(b.length);
    }
    const row = values.map(enc);
    const all = new Uint8Array(row.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of row) {
      all.set(b, at);
      at += b.length;
    }
    expect(valuesEnd(all, 0, values.length)).toBe(all.length);
    expect(valuesEnd(all, (row[0] as Uint8Array).length, 1)).toBe((row[0] as Uint8Array).length + (row[1] as Uint8Array).length);
  });

  it('refuses bytes that end within a value, and the byte that starts no value', () => {
    for (const v of [[1, 2, 3], 'abc', new Uint8Array(300), { a: [1] }, 70000, 0.5]) {
      const b = enc(v);
      for (const cut of [1, b.length - 1]) expect(() => valuesEnd(b.subarray(0, cut), 0, 1), `${String(v)} cut at ${cut}`).toThrow(RangeError);
    }
    expect(() => valuesEnd(Uint8Array.of(0x91, 0xc1), 0, 1)).toThrow(/byte 0xc1 at 1 starts no msgpack value/);
    expect(() => valuesEnd(Uint8Array.of(0xc4), 0, 1)).toThrow(RangeError);
  });

  it('reads array headers of each width, and nothing else as one', () => {
    expect(arrayAt(enc([1, 2]), 0)).toEqual({ count: 2, next: 1 });
    expect(arrayAt(enc(Array.from({ length: 16 }, () => 0)), 0)).toEqual({ count: 16, next: 3 });
    expect(arrayAt(enc(Array.from({ length: 65536 }, () => 0)), 0)).toEqual({ count: 65536, next: 5 });
    expect(arrayAt(enc({ a: 1 }), 0)).toBeUndefined();
    expect(arrayAt(Uint8Array.of(0xdc, 0), 0)).toBeUndefined();
    expect(arrayAt(new Uint8Array(0), 0)).toBeUndefined();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../src/index.js';

/** Values as the codec hands them out: views at any offset of a larger buffer. */
function viewOf(bytes: Uint8Array, offset: number): Uint8Array {
  const backing = new Uint8Array(offset + bytes.length + 3).fill(0xaa);
  backing.set(bytes, offset);
  return backing.subarray(offset, offset + bytes.length);
}

describe('bytesEqual', () => {
  it('is byte equality for views at any offset, short and long, whichever byte differs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 700 }),
        fc.nat(7),
        fc.nat(7),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, offA, offB, where, delta) => {
          const a = viewOf(bytes, offA);
          expect(bytesEqual(a, viewOf(bytes, offB))).toBe(true);
          if (bytes.length === 0) return;
          // One byte changed anywhere (inside the word-wise part, in its tail, in a short value).
          const changed = bytes.slice();
          const i = where % bytes.length;
          changed[i] = ((changed[i] as number) + delta) & 0xff;
          expect(bytesEqual(a, viewOf(changed, offB))).toBe(false);
          expect(bytesEqual(a, viewOf(bytes.subarray(0, bytes.length - 1), offB))).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds a difference in the last byte of a long value and in each half of an eight-byte word', () => {
    const a = new Uint8Array(1000).map((_, i) => i & 0xff);
    for (const i of [0, 3, 4, 7, 8, 255, 256, 991, 992, 999]) {
      const b = a.slice();
      b[i] = (b[i] as number) ^ 1;
      expect(bytesEqual(a, b)).toBe(false);
    }
    expect(bytesEqual(a, a.slice())).toBe(true);
  });
});

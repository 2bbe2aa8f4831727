import fc from 'fast-check';
import { expect, it } from 'vitest';
import { EventQueue } from '../src/index.js';

it('pops events by time, and in insertion order at equal times', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
      const q = new EventQueue<number>();
      times.forEach((t, i) => q.push(t, i));
      const expected = times.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const got: (readonly [number, number])[] = [];
      for (let e = q.pop(); e !== undefined; e = q.pop()) got.push([e.time, e.item]);
      expect(got).toEqual(expected);
    }),
  );
});

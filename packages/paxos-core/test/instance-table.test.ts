import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InstanceTable } from '../src/instance-table.js';
import { MAX_UINT32 } from '../src/index.js';

// Ids around page boundaries (pages hold 32), near 0 and near 2^32 − 1, where a page number or a
// slot computed wrongly would alias another id.
const iid = fc.oneof(
  fc.integer({ min: 0, max: 600 }),
  fc.integer({ min: MAX_UINT32 - 300, max: MAX_UINT32 }),
  fc.integer({ min: 0, max: MAX_UINT32 }),
);
const op = fc.oneof(
  fc.record({ op: fc.constant('set' as const), iid, value: fc.integer() }),
  fc.record({ op: fc.constant('deleteUpTo' as const), iid }),
  fc.record({ op: fc.constant('get' as const), iid }),
);

describe('instance table', () => {
  it('answers every get, set and deleteUpTo as a Map keyed by iid does', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new InstanceTable<number>();
        const model = new Map<number, number>();
        for (const o of ops) {
          switch (o.op) {
            case 'set':
              table.set(o.iid, o.value);
              model.set(o.iid, o.value);
              break;
            case 'deleteUpTo':
              table.deleteUpTo(o.iid);
              for (const k of [...model.keys()]) if (k <= o.iid) model.delete(k);
              break;
            case 'get':
              break;
          }
          expect(table.get(o.iid)).toBe(model.get(o.iid));
          expect(table.size).toBe(model.size);
        }
        for (const [k, v] of model) expect(table.get(k)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it('never finds an id that is not a uint32, and refuses to store one (it would alias a page)', () => {
    const table = new InstanceTable<string>();
    table.set(5, 'five');
    table.set(0, 'zero');
    for (const bad of [2 ** 32 + 5, 2 ** 32, -1, 5.5, Number.NaN, Infinity]) {
      expect(table.get(bad)).toBeUndefined();
      expect(() => table.set(bad, 'x')).toThrow(RangeError);
    }
    expect(() => table.deleteUpTo(2 ** 32)).toThrow(RangeError);
    expect([table.get(5), table.get(0), table.size]).toEqual(['five', 'zero', 2]);
  });

  it('trims a million dense records by dropping pages, keeping the ones above', () => {
    const table = new InstanceTable<number>();
    for (let i = 1; i <= 1_000_000; i++) table.set(i, i);
    table.deleteUpTo(999_990);
    expect(table.size).toBe(10);
    expect(table.get(999_990)).toBeUndefined();
    expect(table.get(999_991)).toBe(999_991);
    expect(table.get(1)).toBeUndefined();
  });

  it('forEachUpTo visits exactly the entries at or below an id, with their ids, near 0 and near 2^32 − 1 too', () => {
    fc.assert(
      fc.property(fc.uniqueArray(iid, { maxLength: 60 }), iid, (ids, bound) => {
        const table = new InstanceTable<number>();
        for (const id of ids) table.set(id, id);
        const seen: [number, number][] = [];
        table.forEachUpTo(bound, (value, id) => seen.push([value, id]));
        const want = ids.filter((id) => id <= bound);
        expect(seen.map(([v]) => v).sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
        for (const [v, id] of seen) expect(id).toBe(v);
      }),
    );
  });
});

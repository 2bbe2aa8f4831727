import { describe, expect, it } from 'vitest';
import { StartWindow, type AcceptorRecord } from '../src/index.js';

const rec = (iid: number, bytes: number, ballot = 11): AcceptorRecord => ({ kind: 'record', iid, ballot, valueBallot: ballot, value: new Uint8Array(bytes) });

describe('what a storage with an archive gives its acceptor at start', () => {
  it('keeps the records within the window of the highest, and says where the cut is', () => {
    const w = new StartWindow(10, 1 << 20);
    for (let iid = 1; iid <= 100; iid++) w.push(rec(iid, 1, iid === 40 ? 77 : 11));
    const r = w.result(0);
    expect(r.records.map((x) => x.iid)).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    expect(r).toMatchObject({ recordsAbove: 90, highestIid: 100, maxBallot: 77 });
  });

  it('keeps no more than the bytes, the highest always, and the cut follows', () => {
    const w = new StartWindow(1000, 250);
    for (const [iid, bytes] of [[1, 100], [2, 100], [3, 100], [4, 100], [5, 400]] as const) w.push(rec(iid, bytes));
    expect(w.result(0)).toMatchObject({ records: [rec(5, 400)], recordsAbove: 4, highestIid: 5 });
    const v = new StartWindow(1000, 250);
    for (const [iid, bytes] of [[1, 100], [2, 100], [3, 100], [7, 100]] as const) v.push(rec(iid, bytes));
    expect(v.result(0)).toMatchObject({ records: [rec(3, 100), rec(7, 100)], recordsAbove: 2 });
  });

  it('never cuts below the trim point, and gives nothing and a cut at it for no records', () => {
    const w = new StartWindow(10, 1 << 20);
    for (let iid = 51; iid <= 55; iid++) w.push(rec(iid, 1));
    expect(w.result(50)).toMatchObject({ recordsAbove: 50, highestIid: 55 });
    expect(new StartWindow(10, 100).result(7)).toEqual({ records: [], recordsAbove: 7, highestIid: 0, maxBallot: 0 });
  });

  it('streams a long log in order, keeping the same records as a cut of the whole', () => {
    const w = new StartWindow(4096, 1 << 30);
    for (let iid = 1; iid <= 100_000; iid++) w.push(rec(iid, 3));
    const r = w.result(0);
    expect(r.records).toHaveLength(4096);
    expect(r.records[0]?.iid).toBe(100_000 - 4095);
    expect(r.recordsAbove).toBe(100_000 - 4096);
  });
});

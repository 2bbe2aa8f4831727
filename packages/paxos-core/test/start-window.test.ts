import { describe, expect, it } from 'vitest';
import { Prng, StartWindow, type AcceptorRecord } from '../src/index.js';

const rec = (iid: number, bytes: number, ballot = 11): AcceptorRecord => ({ kind: 'record', iid, ballot, valueBallot: ballot, value: new Uint8Array(bytes) });

/** Pushes `records` newest first until the window says stop; returns how many it was handed. */
function feed(w: StartWindow, records: readonly AcceptorRecord[]): number {
  const down = [...records].sort((a, b) => b.iid - a.iid);
  let handed = 0;
  for (const r of down) {
    handed++;
    if (!w.push(r)) break;
  }
  return handed;
}

describe('what a storage with an archive gives its acceptor at start', () => {
  it('keeps the records within the window of the highest, says where the cut is, and stops reading there', () => {
    const w = new StartWindow(10, 1 << 20, 0);
    const log = Array.from({ length: 100 }, (_, i) => rec(i + 1, 1, i + 1 === 40 ? 77 : i + 1 === 95 ? 12 : 11));
    // The ten newest, and the one below them that says stop: the other 89 are never read.
    expect(feed(w, log)).toBe(11);
    const r = w.result();
    expect(r.records.map((x) => x.iid)).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    // The ballot of instance 40 is below the window: the archive's to give (olderMaxBallot).
    expect(r).toMatchObject({ recordsAbove: 90, highestIid: 100, maxBallot: 12 });
  });

  it('keeps no more than the bytes, the highest always, and the cut follows', () => {
    const w = new StartWindow(1000, 250, 0);
    feed(w, [rec(1, 100), rec(2, 100), rec(3, 100), rec(4, 100), rec(5, 400)]);
    expect(w.result()).toMatchObject({ records: [rec(5, 400)], recordsAbove: 4, highestIid: 5 });
    const v = new StartWindow(1000, 250, 0);
    feed(v, [rec(1, 100), rec(2, 100), rec(3, 100), rec(7, 100)]);
    expect(v.result()).toMatchObject({ records: [rec(3, 100), rec(7, 100)], recordsAbove: 2 });
  });

  it('stops at the trim point, never cuts below it, and gives nothing and a cut at it for no records', () => {
    const w = new StartWindow(10, 1 << 20, 50);
    expect(feed(w, [48, 49, 50, 51, 52, 53, 54, 55].map((iid) => rec(iid, 1)))).toBe(6);
    expect(w.result()).toMatchObject({ recordsAbove: 50, highestIid: 55 });
    expect(w.result().records.map((x) => x.iid)).toEqual([51, 52, 53, 54, 55]);
    expect(new StartWindow(10, 100, 7).result()).toEqual({ records: [], recordsAbove: 7, highestIid: 0, maxBallot: 0 });
  });

  it('takes no record once it said stop', () => {
    const w = new StartWindow(2, 1 << 20, 0);
    expect([rec(9, 1), rec(8, 1), rec(7, 1), rec(6, 1)].map((r) => w.push(r))).toEqual([true, true, false, false]);
    expect(w.result()).toMatchObject({ recordsAbove: 7, highestIid: 9 });
    expect(w.result().records.map((x) => x.iid)).toEqual([8, 9]);
  });

  it('keeps what a cut of the whole log keeps, for logs with holes, sizes and trims drawn at random', () => {
    const prng = new Prng(2026);
    for (let run = 0; run < 300; run++) {
      const window = prng.between(1, 40);
      const bytes = prng.between(1, 400);
      const trim = prng.chance(1, 3) ? prng.between(0, 60) : 0;
      const log: AcceptorRecord[] = [];
      for (let iid = 1; iid <= 120; iid++) if (prng.chance(3, 4)) log.push(rec(iid, prng.between(0, 60), prng.between(1, 50)));
      const w = new StartWindow(window, bytes, trim);
      feed(w, log);
      // The whole log read oldest first, as starts read it before: a record leaves the front as
      // it falls out of the window of the newest or past the bytes, the newest always kept.
      const expected: AcceptorRecord[] = [];
      let sum = 0;
      let cut = 0;
      for (const r of log) {
        if (r.iid <= trim) continue;
        expected.push(r);
        sum += r.value.length;
        while (expected.length > 1 && (r.iid - (expected[0] as AcceptorRecord).iid >= window || sum > bytes)) {
          const first = expected.shift() as AcceptorRecord;
          sum -= first.value.length;
          cut = first.iid;
        }
      }
      const highest = expected[expected.length - 1]?.iid ?? 0;
      expect(w.result()).toEqual({
        records: expected,
        recordsAbove: Math.max(trim, highest - window, cut),
        highestIid: highest,
        maxBallot: expected.reduce((m, r) => Math.max(m, r.ballot), 0),
      });
    }
  });
});

import { describe, expect, it } from 'vitest';
import { Acceptor, MAX_UINT32, type AcceptorArchive, type AcceptorRecord, type Effects } from '../src/index.js';
import { dec, enc, fx, msgs } from './helpers.js';

const PEER = 7;

/**
 * Storage as the acceptor sees it: records handed over (what the pump gives a commit) are
 * readable at once, as LMDB storage's pending writes are, and held.
 */
class Disk implements AcceptorArchive {
  readonly records = new Map<number, AcceptorRecord>();
  private readonly handed = new WeakSet<AcceptorRecord>();
  reads = 0;
  read(iid: number): AcceptorRecord | undefined {
    this.reads++;
    return this.records.get(iid);
  }
  holds(rec: AcceptorRecord): boolean {
    return this.handed.has(rec);
  }
  /** The pump's commit of one step's effects. */
  take(out: Effects): Effects {
    for (const r of out.persist) {
      if (r.kind !== 'record') continue;
      this.records.set(r.iid, r);
      this.handed.add(r);
    }
    return out;
  }
}

function step(a: Acceptor, msg: Parameters<Acceptor['receive']>[1]): Effects {
  const out = fx();
  a.receive(PEER, msg, out);
  return out;
}
const accept = (a: Acceptor, iid: number, ballot: number, value: string) => step(a, { type: 'accept', iid, ballot, value: enc(value) });
const prepare = (a: Acceptor, iid: number, ballot: number) => step(a, { type: 'prepare', iid, ballot });

function withArchive(window = 8): { a: Acceptor; disk: Disk } {
  const disk = new Disk();
  const a = new Acceptor({ id: 1, memoryWindow: window }, { trimIid: 0, records: [], archive: disk });
  return { a, disk };
}

describe('acceptor with an archive (LMDB storage): a bounded window in memory', () => {
  it('keeps about the newest memoryWindow records once storage holds them, and reads older ones back for prepares, accepts and repeats', () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 100; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    expect(a.recordCount).toBeLessThanOrEqual(8 + 2);
    expect(a.recordCount).toBeGreaterThanOrEqual(8);
    // Paxos P1b across the archive: the promise carries the value accepted long ago.
    const reads = disk.reads;
    const p = disk.take(prepare(a, 5, 21));
    expect(disk.reads).toBeGreaterThan(reads);
    expect(msgs(p, 'promise')).toEqual([{ type: 'promise', aid: 1, iid: 5, ballot: 21, valueBallot: 11, value: enc('v5') }]);
    // P2b: the promise read back refuses a lower ballot.
    expect(msgs(accept(a, 5, 15, 'late'), 'preempted')).toEqual([{ type: 'preempted', aid: 1, iid: 5, ballot: 21 }]);
    const r = step(a, { type: 'repeat', from: 3, to: 4 });
    expect(msgs(r, 'accepted').map((m) => [m.iid, dec(m.value)])).toEqual([
      [3, 'v3'],
      [4, 'v4'],
    ]);
    expect(a.record(2)?.value).toEqual(enc('v2'));
  });

  it('forgets no record storage was not handed: running ahead of a commit under way, it reads its own writes', () => {
    const { a, disk } = withArchive(8);
    // Nothing reaches the disk for a while (a commit under way, and the batches after it).
    const pending: Effects[] = [];
    for (let iid = 1; iid <= 60; iid++) pending.push(accept(a, iid, 11, `v${iid}`));
    expect(disk.records.size).toBe(0);
    expect(msgs(prepare(a, 3, 21), 'promise')[0]).toMatchObject({ ballot: 21, valueBallot: 11, value: enc('v3') });
    for (const out of pending) disk.take(out);
    // Held now: the next sweeps forget them.
    for (let iid = 61; iid <= 100; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    expect(a.recordCount).toBeLessThanOrEqual(8 + 2 + 1);
  });

  it('keeps a new write to an archived instance until storage holds it (the archive still has the one before)', () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 50; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    // A promise at 5 that has not reached the disk; a lower accept must still be refused.
    prepare(a, 5, 30);
    expect(disk.records.get(5)?.ballot).toBe(11);
    for (let iid = 51; iid <= 80; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    expect(msgs(accept(a, 5, 20, 'stale'), 'preempted')).toEqual([{ type: 'preempted', aid: 1, iid: 5, ballot: 30 }]);
    expect(a.record(5)?.ballot).toBe(30);
  });

  it('walks the pages it holds, not the ids, when a prepare far ahead moves the window', () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 20; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    disk.take(prepare(a, MAX_UINT32, 11));
    disk.take(prepare(a, MAX_UINT32 - 1, 11));
    expect(a.recordCount).toBeLessThanOrEqual(3);
    expect(a.record(7)?.value).toEqual(enc('v7'));
    expect(a.rejoinInfo).toEqual({ highest: MAX_UINT32, maxBallot: 11 });
  });

  it('restarts from the newest records and the archive: the rest is read back, highest and max ballot come from storage', () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 40; iid++) disk.take(accept(a, iid, iid === 3 ? 99 : 11, `v${iid}`));
    const newest = [...disk.records.values()].filter((r) => r.iid > 36);
    const b = new Acceptor({ id: 1, memoryWindow: 8 }, { trimIid: 2, records: newest, archive: disk, highestIid: 40, maxBallot: 99, recordsAbove: 36 });
    expect(b.rejoinInfo).toEqual({ highest: 40, maxBallot: 99 });
    expect(b.record(10)?.value).toEqual(enc('v10'));
    expect(b.record(2)).toBeUndefined();
    expect(msgs(accept(b, 3, 50, 'x'), 'preempted')).toEqual([{ type: 'preempted', aid: 1, iid: 3, ballot: 99 }]);
    // A trim leaves nothing at or below it readable, in memory or on disk.
    b.receive(PEER, { type: 'trim', iid: 20 }, fx());
    expect(b.record(10)).toBeUndefined();
    expect(b.record(21)?.value).toEqual(enc('v21'));
  });

  it("answers a rejoining peer only once the archive knows its older records' highest ballot, and then with the highest of all", () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 40; iid++) disk.take(accept(a, iid, iid === 3 ? 99 : 11, `v${iid}`));
    const newest = [...disk.records.values()].filter((r) => r.iid > 36);
    // A start that read only the window: its own maxBallot is the window's, the archive reads the rest.
    let older: number | undefined;
    const archive: AcceptorArchive = { read: (iid) => disk.read(iid), holds: (r) => disk.holds(r), olderMaxBallot: () => older };
    const b = new Acceptor({ id: 1, memoryWindow: 8 }, { trimIid: 0, records: newest, archive, highestIid: 40, maxBallot: 11, recordsAbove: 36 });
    expect(b.rejoinInfo).toBeUndefined();
    older = 99;
    expect(b.rejoinInfo).toEqual({ highest: 40, maxBallot: 99 });
    // A promise since the start counts as well, older ballots or not.
    disk.take(prepare(b, 41, 120));
    expect(b.rejoinInfo).toEqual({ highest: 41, maxBallot: 120 });
  });

  it('keeps memory bounded after a prepare far ahead stops the window from moving', () => {
    const { a, disk } = withArchive(8);
    disk.take(prepare(a, MAX_UINT32, 11));
    for (let iid = 1; iid <= 200; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    expect(a.recordCount).toBeLessThanOrEqual(3);
    expect(a.record(150)?.value).toEqual(enc('v150'));
  });

  it('reads older records from the archive below the cut storage gave, whatever its own window, and recovered records given once', () => {
    const { a, disk } = withArchive(8);
    for (let iid = 1; iid <= 40; iid++) disk.take(accept(a, iid, 11, `v${iid}`));
    const newest = [...disk.records.values()].filter((r) => r.iid > 36);
    // A one-shot iterator, and a cut (36) above this acceptor's window (40 − 8 = 32).
    const b = new Acceptor({ id: 1, memoryWindow: 8 }, { trimIid: 0, records: newest.values(), archive: disk, highestIid: 40, recordsAbove: 36 });
    expect(b.recordCount).toBe(4);
    expect(b.record(34)?.value).toEqual(enc('v34'));
    expect(b.record(38)?.value).toEqual(enc('v38'));
  });

  it('holds the values it keeps in memory to about memoryBytes too: large values shrink the window, and every record reads back', () => {
    const disk = new Disk();
    const a = new Acceptor({ id: 1, memoryWindow: 4096, memoryBytes: 1000 }, { trimIid: 0, records: [], archive: disk });
    const big = (iid: number) => `${iid}:`.padEnd(100, 'x');
    for (let iid = 1; iid <= 300; iid++) {
      disk.take(accept(a, iid, 11, big(iid)));
      // Ten values fill the bytes: never more than those and the one written last.
      expect(a.recordCount).toBeLessThanOrEqual(11);
    }
    expect(a.recordCount).toBeGreaterThanOrEqual(7);
    const r = step(a, { type: 'repeat', from: 1, to: 300 });
    expect(msgs(r, 'accepted').map((m) => dec(m.value))).toEqual(Array.from({ length: 300 }, (_, i) => big(i + 1)));
    // A trim takes its records' bytes with it: the window holds the newest ten again after it.
    disk.take(step(a, { type: 'trim', iid: 299 }));
    for (let iid = 301; iid <= 320; iid++) disk.take(accept(a, iid, 11, big(iid)));
    expect(a.recordCount).toBeGreaterThanOrEqual(7);
    expect(a.recordCount).toBeLessThanOrEqual(11);
  });

  it('keeps a value larger than memoryBytes alone, and the records below it readable', () => {
    const disk = new Disk();
    const a = new Acceptor({ id: 1, memoryWindow: 4096, memoryBytes: 10 }, { trimIid: 0, records: [], archive: disk });
    for (let iid = 1; iid <= 5; iid++) {
      disk.take(accept(a, iid, 11, `value ${iid} is longer than ten bytes`));
      expect(a.recordCount).toBe(1);
    }
    // Written again while it is the highest: still the only one in memory, and every one reads back.
    disk.take(accept(a, 5, 12, 'value 5 is longer than ten bytes'));
    expect(a.recordCount).toBe(1);
    for (let iid = 1; iid <= 5; iid++) expect(dec(a.record(iid)?.value ?? new Uint8Array())).toBe(`value ${iid} is longer than ten bytes`);
  });

  it('without an archive keeps every record, as before (memory storage)', () => {
    const a = new Acceptor({ id: 1, memoryWindow: 8 });
    for (let iid = 1; iid <= 100; iid++) accept(a, iid, 11, `v${iid}`);
    expect(a.recordCount).toBe(100);
  });
});

import { describe, expect, it } from 'vitest';
import type { AcceptorRecord, PersistRecord } from '@libpaxos/paxos-core';
import { DiskArchive } from '../src/disk-archive.js';

const rec = (iid: number, ballot: number, byte = 0): AcceptorRecord => ({ kind: 'record', iid, ballot, valueBallot: byte > 0 ? ballot : 0, value: byte > 0 ? Uint8Array.of(byte) : new Uint8Array(0) });

/** A disk as simulation.ts keeps one: synced records, and batches waiting for their sync. */
function disk(synced: AcceptorRecord[], pending: PersistRecord[][]) {
  return { records: new Map(synced.map((r) => [r.iid, r])), pending: pending.map((persist) => ({ persist })) };
}

describe('the simulated disk as an acceptor archive', () => {
  it('reads the newest write for an instance: the last pending batch first, the last record in a batch, then the synced one', () => {
    const d = disk([rec(1, 10, 1), rec(2, 10, 2)], [[rec(1, 11), rec(1, 12, 3)], [rec(1, 13)]]);
    const archive = new DiskArchive(d, []);
    expect(archive.read(1)).toEqual(rec(1, 13));
    d.pending.pop();
    expect(archive.read(1)).toEqual(rec(1, 12, 3));
    expect(archive.read(2)).toEqual(rec(2, 10, 2));
    expect(archive.read(3)).toBeUndefined();
    // The mutant's read: what is synced only.
    expect(archive.readSynced(1)).toEqual(rec(1, 10, 1));
  });

  it('a pending trim hides what it deletes', () => {
    const archive = new DiskArchive(disk([rec(1, 10, 1), rec(5, 10, 5)], [[{ kind: 'trim', iid: 4 }]]), []);
    expect(archive.read(1)).toBeUndefined();
    expect(archive.read(5)).toEqual(rec(5, 10, 5));
  });

  it('gives bytes of the reader’s own: writing into them changes neither the disk nor a pending write', () => {
    const pendingRec = rec(2, 10, 7);
    const archive = new DiskArchive(disk([rec(1, 10, 1)], [[pendingRec]]), []);
    for (const iid of [1, 2]) {
      const r = archive.read(iid) as AcceptorRecord;
      r.value.fill(0xff);
    }
    expect(archive.read(1)?.value).toEqual(Uint8Array.of(1));
    expect(pendingRec.value).toEqual(Uint8Array.of(7));
  });

  it('holds exactly the record objects handed over or read back at start, not equal copies of them', () => {
    const recovered = rec(1, 10, 1);
    const archive = new DiskArchive(disk([], []), [recovered]);
    const written = rec(2, 10, 2);
    expect(archive.holds(recovered)).toBe(true);
    expect(archive.holds({ ...recovered })).toBe(false);
    expect(archive.holds(written)).toBe(false);
    archive.handedOver([written, { kind: 'trim', iid: 0 }]);
    expect(archive.holds(written)).toBe(true);
    // A new incarnation's archive over the same disk holds nothing the old one was handed.
    expect(new DiskArchive(disk([], []), []).holds(written)).toBe(false);
  });
});

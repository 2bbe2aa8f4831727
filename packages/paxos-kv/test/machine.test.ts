import { Encoder, Decoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeResult, encodeRequest, encodeResult, keyToBytes, KvStateMachine, SNAPSHOT_FORMAT, type KvStoreOptions } from '../src/index.js';
import { randomRequests } from './gen.js';

const set = (key: string, value: string) => encodeRequest({ now: 1000, command: { op: 'set', key, flags: 0, exptime: 0, value: keyToBytes(value) } });

describe('the KV state machine (apply, snapshot, restore)', () => {
  it('applies encoded requests and returns encoded results', () => {
    const m = new KvStateMachine();
    expect(decodeResult(m.apply(1, 0, set('a', 'x')))).toEqual({ status: 'stored', cas: 1 });
    expect(decodeResult(m.apply(1, 1, encodeRequest({ now: 1000, command: { op: 'get', keys: ['a'] } })))).toMatchObject({ status: 'values', hits: [{ key: 'a', cas: 1 }] });
    expect(m.lastApplied).toEqual({ iid: 1, index: 1 });
  });

  it('answers a value that is not a request with "invalid" and changes nothing but its position', () => {
    const m = new KvStateMachine();
    const before = m.digest();
    const r = decodeResult(m.apply(5, 0, new Uint8Array([1, 2, 3])));
    expect(r).toMatchObject({ status: 'invalid', reason: expect.stringMatching(/KV request/) });
    expect(m.digest()).toBe(before);
    expect(m.lastApplied).toEqual({ iid: 5, index: 0 });
  });

  // The second and third settings hold about five of the generator's items, so most stores evict
  // (or, with evictions off, fail): a replica restored midway must evict what the others evict.
  const settings: readonly [string, KvStoreOptions][] = [
    ['default settings', {}],
    ['a memory limit that evicts', { itemSizeMax: 130, memoryLimit: 260 }],
    ['a memory limit without evictions (-M)', { itemSizeMax: 130, memoryLimit: 260, evictions: false }],
  ];
  it.each(settings)('replicas that apply the same log agree, results and digests; one restored from a snapshot midway too (%s)', (_name, options) => {
    let evicted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 300 }), (seed, cut) => {
        const log = randomRequests(seed, 300).map(encodeRequest);
        const a = new KvStateMachine(options);
        const b = new KvStateMachine(options);
        let c = new KvStateMachine(options);
        log.forEach((value, i) => {
          const ra = a.apply(i + 1, 0, value);
          expect(b.apply(i + 1, 0, value)).toEqual(ra);
          if (i === cut) {
            // c has applied instances 1..i: move it into a new machine through a snapshot.
            const digest = c.digest();
            const snap = c.snapshot();
            c = new KvStateMachine(options);
            c.restore(snap, i);
            expect(c.digest()).toBe(digest);
          }
          expect(c.apply(i + 1, 0, value)).toEqual(ra);
          if (decodeResult(ra).status === 'out_of_memory') refused++;
        });
        expect(b.digest()).toBe(a.digest());
        expect(c.digest()).toBe(a.digest());
        expect(c.snapshot()).toEqual(a.snapshot());
        evicted += a.store.stats().counters.evictions;
      }),
      { numRuns: 60 },
    );
    // The limits did bite (else this would check nothing beyond the default case).
    if (options.memoryLimit !== undefined) expect(options.evictions === false ? refused : evicted).toBeGreaterThan(300);
  });

  it.each(settings)('a snapshot in chunks is the state as of the call, though values are applied between its chunks (%s)', (_name, options) => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 200 }), (seed, cut) => {
        const log = randomRequests(seed, 300).map(encodeRequest);
        const m = new KvStateMachine(options);
        let taken: { chunks: Iterator<Uint8Array>; read: Uint8Array[]; items: number; digest: string; whole: Uint8Array } | undefined;
        log.forEach((value, i) => {
          m.apply(i + 1, 0, value);
          // Three items a chunk: applies come between the items' chunks too.
          if (i === cut) taken = { chunks: m.snapshotChunks(3)[Symbol.iterator](), read: [], items: m.store.size, digest: m.digest(), whole: m.snapshot() };
          // One chunk after each later apply, as a kv-server writes a checkpoint while it serves.
          const next = i > cut ? taken?.chunks.next() : undefined;
          if (next?.done === false) taken?.read.push(next.value);
        });
        const t = taken as NonNullable<typeof taken>;
        for (let c = t.chunks.next(); c.done !== true; c = t.chunks.next()) t.read.push(c.value);
        // The head, the items three at a time, the sessions.
        expect(t.read.length).toBe(2 + Math.ceil(t.items / 3));
        const joined = new Uint8Array(t.read.reduce((n, c) => n + c.length, 0));
        t.read.reduce((at, c) => (joined.set(c, at), at + c.length), 0);
        expect(joined).toEqual(t.whole);
        const restored = new KvStateMachine(options);
        restored.restore(joined, cut + 1);
        expect(restored.digest()).toBe(t.digest);
      }),
      { numRuns: 40 },
    );
  });

  it('gives different digests to different states', () => {
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    a.apply(1, 0, set('a', 'x'));
    b.apply(1, 0, set('a', 'y'));
    expect(a.digest()).not.toBe(b.digest());
    expect(a.digest()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps sessions and their remembered results across a snapshot', () => {
    const m = new KvStateMachine();
    const reg = decodeResult(m.apply(1, 0, encodeRequest({ now: 1000, command: { op: 'register' } })));
    if (reg.status !== 'session') throw new Error(reg.status);
    m.apply(2, 0, set('n', '5'));
    const incr = encodeRequest({ now: 1000, session: { id: reg.id, seq: 1, ack: 0 }, command: { op: 'incr', key: 'n', delta: 1n } });
    const first = m.apply(3, 0, incr);
    const r = new KvStateMachine();
    r.restore(m.snapshot(), 3);
    expect(r.apply(4, 0, incr)).toEqual(first);
    expect(decodeResult(r.apply(5, 0, encodeRequest({ now: 1000, command: { op: 'get', keys: ['n'] } })))).toMatchObject({ hits: [{ value: keyToBytes('6') }] });
  });

  it('refuses a snapshot in another format, from another instance, with other settings, or damaged, with a sentence', () => {
    const m = new KvStateMachine();
    m.apply(7, 0, set('a', 'x'));
    const snap = m.snapshot();
    const fresh = () => new KvStateMachine();
    const reformat = (format: unknown): Uint8Array => {
      const x = new Decoder().decode(snap) as unknown[];
      x[1] = format;
      return new Encoder().encode(x);
    };
    expect(() => fresh().restore(reformat(SNAPSHOT_FORMAT + 1), 7)).toThrow(/written by a newer paxos-kv; this build reads formats 1 to 2 only: upgrade/);
    expect(() => fresh().restore(reformat(0), 7)).toThrow(/format 0, written by an older paxos-kv/);
    expect(() => fresh().restore(snap, 6)).toThrow(/holds values of instance 7, so it is not the state as of instance 6/);
    // Labelled with a later instance (only no-ops or lease renewals after its last value): taken.
    const later = fresh();
    later.restore(snap, 8);
    expect(later.digest()).toBe(m.digest());
    expect(() => new KvStateMachine({ itemSizeMax: 2048 }).restore(snap, 7)).toThrow(/item size limit 1048576 where this replica has 2048/);
    expect(() => new KvStateMachine({ memoryLimit: 1 << 22 }).restore(snap, 7)).toThrow(/memory limit 67108864 where this replica has 4194304: give every replica the same settings/);
    expect(() => new KvStateMachine({ evictions: false }).restore(snap, 7)).toThrow(/evictions setting true where this replica has false/);
    expect(() => fresh().restore(snap.subarray(0, snap.length - 3), 7)).toThrow(/not valid msgpack|damaged/);
    expect(() => fresh().restore(encodeResult({ status: 'ok' }), 7)).toThrow(/not a paxos-kv snapshot/);
    const target = fresh();
    target.apply(1, 0, set('keep', 'me'));
    const before = target.digest();
    expect(() => target.restore(reformat(99), 7)).toThrow();
    expect(target.digest()).toBe(before);
  });
});

describe('restoring a piece at a time', () => {
  it('keeps the state as it was until the last step, then has the snapshot\'s; a restore dropped half-way or refused changes nothing', () => {
    const m = new KvStateMachine();
    for (let i = 1; i <= 9000; i++) m.apply(i, 0, set(`k${i}`, 'v'));
    const snap = m.snapshot();
    const target = new KvStateMachine();
    target.apply(1, 0, set('keep', 'me'));
    const before = target.digest();
    const steps = target.restoreSteps(snap, 9000);
    let stops = 0;
    while (steps.next().done !== true) {
      stops++;
      expect(target.digest()).toBe(before);
      expect(target.lastApplied.iid).toBe(1);
    }
    // The structure, three chunks of items decoded, two of 4,096 loaded.
    expect(stops).toBe(6);
    expect(target.digest()).toBe(m.digest());
    expect(target.lastApplied.iid).toBe(9000);
    const dropped = new KvStateMachine();
    dropped.apply(1, 0, set('keep', 'me'));
    const half = dropped.restoreSteps(snap, 9000);
    half.next();
    half.next();
    half.return(undefined);
    expect(dropped.digest()).toBe(before);
    const refused = new KvStateMachine();
    refused.apply(1, 0, set('keep', 'me'));
    const early = refused.restoreSteps(snap, 8999);
    expect(() => {
      while (early.next().done !== true);
    }).toThrow(/holds values of instance 9000, so it is not the state as of instance 8999/);
    expect(refused.digest()).toBe(before);
  });
});

describe('snapshots of format 1 (before the memory limit)', () => {
  const formatOne = (snap: Uint8Array, configFields = 4): Uint8Array => {
    const x = new Decoder().decode(snap) as unknown[];
    x[1] = 1;
    x[3] = (x[3] as unknown[]).slice(0, configFields);
    return new Encoder().encode(x);
  };

  it('restore under any memory settings (their build never evicted), and the store then evicts by its own', () => {
    const m = new KvStateMachine({ itemSizeMax: 200 });
    ['c', 'a', 'b'].forEach((k, i) => m.apply(i + 1, 0, set(k, 'x'.repeat(100))));
    const old = formatOne(m.snapshot());
    const same = new KvStateMachine({ itemSizeMax: 200 });
    same.restore(old, 3);
    expect(same.digest()).toBe(m.digest());
    // Three items of 160 bytes: over this limit from the start, so the next store evicts the
    // least recently stored (c), though the snapshot lists the items by key.
    const small = new KvStateMachine({ itemSizeMax: 200, memoryLimit: 400 });
    small.restore(old, 3);
    expect(small.store.size).toBe(3);
    small.apply(4, 0, set('d', 'x'));
    expect(small.store.image().items.map((i) => i.key)).toEqual(['a', 'b', 'd']);
    expect(() => new KvStateMachine({ itemSizeMax: 200, evictions: false }).restore(old, 3)).not.toThrow();
  });

  it('are refused with a sentence when their configuration has the wrong length', () => {
    const m = new KvStateMachine();
    m.apply(1, 0, set('a', 'x'));
    expect(() => new KvStateMachine().restore(formatOne(m.snapshot(), 6), 1)).toThrow(/damaged: its configuration has 6 fields where format 1 has 4/);
  });
});

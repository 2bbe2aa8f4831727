import { Encoder, Decoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeResult, encodeRequest, encodeResult, keyToBytes, KvStateMachine, SNAPSHOT_FORMAT } from '../src/index.js';
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

  it('replicas that apply the same log agree, results and digests; one restored from a snapshot midway too', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 300 }), (seed, cut) => {
        const log = randomRequests(seed, 300).map(encodeRequest);
        const a = new KvStateMachine();
        const b = new KvStateMachine();
        let c = new KvStateMachine();
        log.forEach((value, i) => {
          const ra = a.apply(i + 1, 0, value);
          expect(b.apply(i + 1, 0, value)).toEqual(ra);
          if (i === cut) {
            // c has applied instances 1..i: move it into a new machine through a snapshot.
            const digest = c.digest();
            const snap = c.snapshot();
            c = new KvStateMachine();
            c.restore(snap, i);
            expect(c.digest()).toBe(digest);
          }
          expect(c.apply(i + 1, 0, value)).toEqual(ra);
        });
        expect(b.digest()).toBe(a.digest());
        expect(c.digest()).toBe(a.digest());
        expect(c.snapshot()).toEqual(a.snapshot());
      }),
      { numRuns: 60 },
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
    expect(() => fresh().restore(reformat(SNAPSHOT_FORMAT + 1), 7)).toThrow(/written by a newer paxos-kv; this build reads format 1 only: upgrade/);
    expect(() => fresh().restore(reformat(0), 7)).toThrow(/format 0, written by an older paxos-kv/);
    expect(() => fresh().restore(snap, 6)).toThrow(/holds values of instance 7, so it is not the state as of instance 6/);
    // Labelled with a later instance (only no-ops or lease renewals after its last value): taken.
    const later = fresh();
    later.restore(snap, 8);
    expect(later.digest()).toBe(m.digest());
    expect(() => new KvStateMachine({ itemSizeMax: 2048 }).restore(snap, 7)).toThrow(/item size limit 1048576 where this replica has 2048/);
    expect(() => fresh().restore(snap.subarray(0, snap.length - 3), 7)).toThrow(/not valid msgpack|damaged/);
    expect(() => fresh().restore(encodeResult({ status: 'ok' }), 7)).toThrow(/not a paxos-kv snapshot/);
    const target = fresh();
    target.apply(1, 0, set('keep', 'me'));
    const before = target.digest();
    expect(() => target.restore(reformat(99), 7)).toThrow();
    expect(target.digest()).toBe(before);
  });
});

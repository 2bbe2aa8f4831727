import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest, decodeResult, encodeRequest, encodeResult, keyToBytes, KvCodecError, KvStateMachine, Rng, type KvRequest, type KvResult } from '../src/index.js';
import { randomRequests } from './gen.js';

const big = 2n ** 64n - 1n;

describe('requests and results as Paxos values (msgpack)', () => {
  it('round-trips every command, with and without a session', () => {
    for (const req of randomRequests(7, 2000)) expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });

  it('keeps uint64 fields exact above 2^53 and keys as raw bytes', () => {
    const req: KvRequest = { now: 1.5, command: { op: 'incr', key: '\u0000\u00ff\u0080 k', delta: big, initial: { value: 2n ** 53n + 1n, exptime: 0xffffffff }, cas: 2n ** 60n } };
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });

  it('round-trips every result', () => {
    const results: KvResult[] = [
      { status: 'stored', cas: 2 ** 40 },
      { status: 'not_stored' },
      { status: 'exists' },
      { status: 'not_found' },
      { status: 'deleted' },
      { status: 'touched' },
      { status: 'values', hits: [] },
      { status: 'values', hits: [{ key: 'a', flags: 0xffffffff, cas: 3, value: keyToBytes('xy') }, { key: '\u00fe', flags: 0, cas: 4, value: new Uint8Array() }] },
      { status: 'number', value: big, cas: 9 },
      { status: 'non_numeric' },
      { status: 'too_large' },
      { status: 'out_of_memory' },
      { status: 'ok' },
      { status: 'session', id: 3 },
      { status: 'session_unknown', id: 3 },
      { status: 'session_stale', id: 3, seq: 4 },
      { status: 'session_busy', id: 3, seq: 5 },
      { status: 'invalid', reason: 'why' },
    ];
    for (const r of results) expect(decodeResult(encodeResult(r))).toEqual(r);
  });

  it('is compact: a small set is a few bytes more than its key and value', () => {
    const req: KvRequest = { now: 1_700_000_000_000, command: { op: 'set', key: 'key', flags: 0, exptime: 0, value: keyToBytes('value') } };
    expect(encodeRequest(req).length).toBeLessThanOrEqual(3 + 5 + 9 + 1 + 1 + 5 + 1 + 1 + 7);
    expect(encodeResult({ status: 'stored', cas: 12 }).length).toBe(3);
  });

  it('refuses malformed bytes with a KvCodecError naming the problem, never another exception', () => {
    expect(() => decodeRequest(new Uint8Array([0xc1]))).toThrow(/not valid msgpack/);
    expect(() => decodeRequest(new Uint8Array([0x90]))).toThrow(/field 0 \(time\)/);
    expect(() => decodeRequest(new Uint8Array([0x93, 0x01, 0xc0, 0x63]))).toThrow(/field 2 \(opcode\)/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const decode of [decodeRequest, decodeResult]) {
          try {
            decode(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(KvCodecError);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('survives mutated valid values the same way', () => {
    const rng = new Rng(3);
    for (const req of randomRequests(11, 500)) {
      const b = encodeRequest(req);
      b[rng.int(b.length)] = rng.int(256);
      try {
        decodeRequest(b);
      } catch (e) {
        expect(e).toBeInstanceOf(KvCodecError);
      }
    }
  });
});

describe('register', () => {
  it('carries its nonce, so that two gateways registering at the same millisecond propose different bytes', () => {
    const a = encodeRequest({ now: 5, command: { op: 'register', nonce: 1 } });
    const b = encodeRequest({ now: 5, command: { op: 'register', nonce: 2 } });
    expect(a).not.toEqual(b);
    expect(decodeRequest(a)).toEqual({ now: 5, command: { op: 'register', nonce: 1 } });
    expect(decodeRequest(encodeRequest({ now: 5, command: { op: 'register' } }))).toEqual({ now: 5, command: { op: 'register' } });
    expect(() => decodeRequest(encodeRequest({ now: 5, command: { op: 'register', nonce: -1 } }))).toThrow(/nonce/);
  });
});

describe('get', () => {
  it('carries its nonce, so that two gateways reading the same keys at the same millisecond propose different bytes', () => {
    const a = encodeRequest({ now: 5, command: { op: 'get', keys: ['k'], nonce: 1 } });
    const b = encodeRequest({ now: 5, command: { op: 'get', keys: ['k'], nonce: 2 } });
    expect(a).not.toEqual(b);
    expect(decodeRequest(a)).toEqual({ now: 5, command: { op: 'get', keys: ['k'], nonce: 1 } });
    expect(decodeRequest(encodeRequest({ now: 5, command: { op: 'get', keys: ['k'] } }))).toEqual({ now: 5, command: { op: 'get', keys: ['k'] } });
    expect(() => decodeRequest(encodeRequest({ now: 5, command: { op: 'get', keys: ['k'], nonce: 1.5 } }))).toThrow(/nonce/);
  });

  it('with no keys changes nothing but the clock (the leader putting its time into the log)', () => {
    const sm = new KvStateMachine();
    sm.apply(1, 0, encodeRequest({ now: 1000, command: { op: 'set', key: 'k', flags: 0, exptime: 0, value: new Uint8Array([1]) } }));
    const before = sm.store.stats().counters;
    const r = decodeResult(sm.apply(2, 0, encodeRequest({ now: 9000, command: { op: 'get', keys: [], nonce: 3 } })));
    expect(r).toEqual({ status: 'values', hits: [] });
    expect(sm.store.clock).toBe(9000);
    expect(sm.store.stats().counters).toEqual(before);
  });
});

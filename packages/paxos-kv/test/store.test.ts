import { describe, expect, it } from 'vitest';
import { keyToBytes, KvStore, type KvCommand, type KvResult } from '../src/index.js';
import { str, T0 } from './harness.js';

const v = keyToBytes;
const set = (key: string, value: string, exptime = 0, flags = 0): KvCommand => ({ op: 'set', key, flags, exptime, value: v(value) });

class Driver {
  readonly store: KvStore;
  now = T0;
  constructor(options: ConstructorParameters<typeof KvStore>[0] = {}) {
    this.store = new KvStore(options);
  }
  do(command: KvCommand, at = this.now): KvResult {
    return this.store.apply({ now: at, command });
  }
  get(key: string): string | null {
    const r = this.do({ op: 'get', keys: [key] });
    if (r.status !== 'values') throw new Error(r.status);
    const hit = r.hits[0];
    return hit === undefined ? null : str(hit.value);
  }
}

describe('storage commands', () => {
  it('keeps a copy of a value that is a view into a larger buffer (a delivered batch, a socket read), not the buffer', () => {
    const d = new Driver();
    const batch = v('xxxxhello, worldyyyy');
    const value = batch.subarray(4, 16);
    expect(d.do({ op: 'set', key: 'a', flags: 0, exptime: 0, value })).toMatchObject({ status: 'stored' });
    const kept = d.store.peek('a');
    expect(kept !== undefined && str(kept.value)).toBe('hello, world');
    expect(kept?.value.buffer.byteLength).toBe(12);
    batch.fill(0);
    expect(d.get('a')).toBe('hello, world');
  });

  it('set, add, replace, append, prepend, cas: memcached outcomes and CAS uniques from a counter', () => {
    const d = new Driver();
    expect(d.do(set('a', '1'))).toEqual({ status: 'stored', cas: 1 });
    expect(d.do({ op: 'add', key: 'a', flags: 0, exptime: 0, value: v('x') })).toEqual({ status: 'not_stored' });
    expect(d.do({ op: 'add', key: 'b', flags: 0, exptime: 0, value: v('2') })).toEqual({ status: 'stored', cas: 2 });
    expect(d.do({ op: 'replace', key: 'nope', flags: 0, exptime: 0, value: v('x') })).toEqual({ status: 'not_stored' });
    expect(d.do({ op: 'replace', key: 'a', flags: 5, exptime: 0, value: v('one') })).toEqual({ status: 'stored', cas: 3 });
    expect(d.do({ op: 'append', key: 'a', flags: 9, exptime: 0, value: v('+') })).toEqual({ status: 'stored', cas: 4 });
    expect(d.do({ op: 'prepend', key: 'a', flags: 9, exptime: 0, value: v('<') })).toEqual({ status: 'stored', cas: 5 });
    expect(d.do({ op: 'append', key: 'nope', flags: 0, exptime: 0, value: v('x') })).toEqual({ status: 'not_stored' });
    expect(d.store.peek('a')).toMatchObject({ flags: 5, cas: 5 });
    expect(d.get('a')).toBe('<one+');
    expect(d.do({ op: 'cas', key: 'a', flags: 0, exptime: 0, value: v('c'), cas: 4n })).toEqual({ status: 'exists' });
    expect(d.do({ op: 'cas', key: 'a', flags: 0, exptime: 0, value: v('c'), cas: 0n })).toEqual({ status: 'exists' });
    expect(d.do({ op: 'cas', key: 'a', flags: 0, exptime: 0, value: v('c'), cas: 5n })).toEqual({ status: 'stored', cas: 6 });
    expect(d.do({ op: 'cas', key: 'nope', flags: 0, exptime: 0, value: v('c'), cas: 5n })).toEqual({ status: 'not_found' });
    const counters = d.store.stats().counters;
    expect(counters).toMatchObject({ cas_hits: 1, cas_badval: 2, cas_misses: 1 });
  });

  it('append and prepend with a CAS (binary protocol) check it', () => {
    const d = new Driver();
    d.do(set('a', 'x'));
    expect(d.do({ op: 'append', key: 'a', flags: 0, exptime: 0, value: v('y'), cas: 7n })).toEqual({ status: 'exists' });
    expect(d.do({ op: 'append', key: 'a', flags: 0, exptime: 0, value: v('y'), cas: 1n })).toEqual({ status: 'stored', cas: 2 });
  });

  it('refuses items over the size limit by memcached accounting; a refused set drops the old item', () => {
    const d = new Driver({ itemSizeMax: 100 });
    // 59 bytes of overhead + 1 key byte: 40 value bytes fit, 41 do not; flags cost 4 more.
    expect(d.do(set('k', 'x'.repeat(40)))).toMatchObject({ status: 'stored' });
    expect(d.do(set('f', 'x'.repeat(36), 0, 1))).toMatchObject({ status: 'stored' });
    expect(d.do(set('f', 'x'.repeat(37), 0, 1))).toEqual({ status: 'too_large' });
    expect(d.get('f')).toBeNull();
    expect(d.do({ op: 'add', key: 'k', flags: 0, exptime: 0, value: v('x'.repeat(41)) })).toEqual({ status: 'too_large' });
    expect(d.get('k')).toBe('x'.repeat(40));
    expect(d.do({ op: 'append', key: 'k', flags: 0, exptime: 0, value: v('y') })).toEqual({ status: 'not_stored' });
    expect(d.do({ op: 'oversized_set', key: 'k' })).toEqual({ status: 'too_large' });
    expect(d.get('k')).toBeNull();
  });

  it('refuses bad keys and flags as invalid, changing nothing', () => {
    const d = new Driver();
    expect(d.do(set('', 'x'))).toMatchObject({ status: 'invalid', reason: 'the key is empty' });
    expect(d.do(set('k'.repeat(251), 'x'))).toMatchObject({ status: 'invalid', reason: expect.stringMatching(/251 bytes/) });
    expect(d.do(set('k', 'x', 0, 2 ** 32))).toMatchObject({ status: 'invalid' });
    expect(d.do({ op: 'get', keys: ['ok', ''] })).toMatchObject({ status: 'invalid' });
    expect(d.store.size).toBe(0);
    expect(d.store.lastCas).toBe(0);
  });
});

describe('delete, touch, gat', () => {
  it('delete, with and without a CAS', () => {
    const d = new Driver();
    d.do(set('a', '1'));
    expect(d.do({ op: 'delete', key: 'a', cas: 9n })).toEqual({ status: 'exists' });
    expect(d.do({ op: 'delete', key: 'a', cas: 1n })).toEqual({ status: 'deleted' });
    expect(d.do({ op: 'delete', key: 'a' })).toEqual({ status: 'not_found' });
  });

  it('touch and gat set a new expiry from the command time and keep the CAS unique', () => {
    const d = new Driver();
    d.do(set('a', '1', 10));
    expect(d.do({ op: 'touch', key: 'a', exptime: 100 })).toEqual({ status: 'touched' });
    expect(d.do({ op: 'touch', key: 'nope', exptime: 100 })).toEqual({ status: 'not_found' });
    d.now += 50_000;
    expect(d.get('a')).toBe('1');
    const r = d.do({ op: 'gat', exptime: 1, keys: ['a', 'nope', 'a'] });
    expect(r).toMatchObject({ status: 'values', hits: [{ key: 'a', cas: 1 }, { key: 'a', cas: 1 }] });
    d.now += 1000;
    expect(d.get('a')).toBeNull();
  });
});

describe('incr and decr', () => {
  it('count in 64 bits: wrap on incr, floor at 0 on decr, pad in place, grow otherwise', () => {
    const d = new Driver();
    d.do(set('n', '10'));
    expect(d.do({ op: 'decr', key: 'n', delta: 1n })).toEqual({ status: 'number', value: 9n, cas: 2 });
    expect(d.get('n')).toBe('9 ');
    expect(d.do({ op: 'incr', key: 'n', delta: 991n })).toEqual({ status: 'number', value: 1000n, cas: 3 });
    expect(d.get('n')).toBe('1000');
    expect(d.do({ op: 'decr', key: 'n', delta: 5000n })).toMatchObject({ value: 0n });
    d.do(set('w', '18446744073709551615'));
    expect(d.do({ op: 'incr', key: 'w', delta: 2n })).toMatchObject({ value: 1n });
    expect(d.get('w')).toBe('1'.padEnd(20, ' '));
  });

  it('refuse non-numbers and missing items; seed a missing item when asked (binary)', () => {
    const d = new Driver();
    d.do(set('s', 'abc'));
    d.do(set('e', ''));
    expect(d.do({ op: 'incr', key: 's', delta: 1n })).toEqual({ status: 'non_numeric' });
    expect(d.do({ op: 'incr', key: 'e', delta: 1n })).toEqual({ status: 'non_numeric' });
    expect(d.do({ op: 'incr', key: 'nope', delta: 1n })).toEqual({ status: 'not_found' });
    expect(d.do({ op: 'decr', key: 'nope', delta: 1n, initial: { value: 42n, exptime: 0 } })).toMatchObject({ status: 'number', value: 42n });
    expect(d.get('nope')).toBe('42');
    expect(d.do({ op: 'incr', key: 'nope', delta: 1n, cas: 1n })).toEqual({ status: 'exists' });
    expect(d.store.stats().counters).toMatchObject({ incr_misses: 1, decr_misses: 0, decr_hits: 0 });
  });

  it('keep the item flags and expiry', () => {
    const d = new Driver();
    d.do(set('n', '7', 10, 42));
    d.do({ op: 'incr', key: 'n', delta: 100n });
    expect(d.store.peek('n')).toMatchObject({ flags: 42, expiresAt: T0 + 10_000 });
  });
});

describe('time comes from the commands', () => {
  it('relative up to 30 days, absolute beyond, negative already expired', () => {
    const d = new Driver();
    d.do(set('rel', 'x', 2_592_000));
    d.do(set('abs-past', 'x', 2_592_001));
    d.do(set('abs-future', 'x', T0 / 1000 + 5));
    d.do(set('neg', 'x', -1));
    expect(d.store.peek('rel')?.expiresAt).toBe(T0 + 2_592_000_000);
    expect(d.get('abs-past')).toBeNull();
    expect(d.get('neg')).toBeNull();
    expect(d.get('abs-future')).toBe('x');
    d.now += 5000;
    expect(d.get('abs-future')).toBeNull();
    expect(d.store.lastCas).toBe(4); // expired items were still stored, and took their uniques
  });

  it('never runs backwards: an older time in a later command does not revive items', () => {
    const d = new Driver();
    d.do(set('k', 'x', 1));
    d.now += 2000;
    expect(d.get('k')).toBeNull();
    expect(d.do({ op: 'get', keys: ['k'] }, T0)).toEqual({ status: 'values', hits: [] });
    expect(d.store.clock).toBe(T0 + 2000);
  });

  it('drops expired items from memory at the next command, not only from view', () => {
    const d = new Driver();
    for (let i = 0; i < 100; i++) d.do(set(`k${i}`, 'x', 1 + (i % 3)));
    d.do(set('keep', 'x'));
    expect(d.store.size).toBe(101);
    d.now += 2000;
    d.do({ op: 'get', keys: [] });
    // Expiring after 1 and 2 seconds are gone (34 + 33), after 3 seconds not yet (33).
    expect(d.store.size).toBe(1 + 33);
    d.now += 2000;
    d.do({ op: 'get', keys: [] });
    expect(d.store.size).toBe(1);
    expect(d.store.stats().bytes).toBe(59 + 4 + 1);
  });

  it('keeps the expiry bookkeeping bounded by the items when one key is touched over and over', () => {
    const d = new Driver();
    d.do(set('hot', 'x', 1000));
    for (let i = 0; i < 10_000; i++) d.do({ op: 'touch', key: 'hot', exptime: 1000 + (i % 7) });
    expect(d.store.pendingExpiries).toBeLessThanOrEqual(2 * d.store.size + 1025);
    d.now += 1_007_000;
    expect(d.get('hot')).toBeNull();
  });

  it('a read outside the log (a lease read) judges expiry at its own time and changes nothing', () => {
    const d = new Driver();
    d.do(set('k', 'x', 1));
    expect(d.store.read(['k'], T0 + 500)).toHaveLength(1);
    expect(d.store.read(['k'], T0 + 1000)).toHaveLength(0);
    expect(d.store.read(['k'], T0 - 10_000)).toHaveLength(1);
    expect(d.store.size).toBe(1);
  });

  it('flush_all with a delay removes, at its deadline, every item stored until then', () => {
    const d = new Driver();
    d.do(set('before', 'x'));
    expect(d.do({ op: 'flush_all', delay: 3 })).toEqual({ status: 'ok' });
    d.now += 1500;
    d.do(set('during', 'x'));
    expect(d.get('before')).toBe('x');
    // memcached's deadline is one second before the delay ends.
    expect(d.store.read(['before', 'during'], T0 + 2000)).toHaveLength(0);
    d.now = T0 + 2000;
    d.do(set('after', 'x'));
    expect([d.get('before'), d.get('during'), d.get('after')]).toEqual([null, null, 'x']);
    expect(d.store.size).toBe(1);
  });

  it('flush_all at once takes a CAS unique and cancels a pending flush', () => {
    const d = new Driver();
    d.do(set('a', 'x'));
    d.do({ op: 'flush_all', delay: 10 });
    d.do({ op: 'flush_all', delay: 0 });
    expect(d.do(set('b', 'y'))).toEqual({ status: 'stored', cas: 3 });
    d.now += 20_000;
    expect(d.get('b')).toBe('y');
    expect(d.store.stats().counters.cmd_flush).toBe(2);
  });
});

describe('exactly-once sessions', () => {
  const incr = { op: 'incr', key: 'n', delta: 1n } as const;
  function open(d: Driver): number {
    const r = d.do({ op: 'register' });
    if (r.status !== 'session') throw new Error(r.status);
    return r.id;
  }
  const req = (d: Driver, id: number, seq: number, ack: number, command: KvCommand, now = d.now): KvResult =>
    d.store.apply({ now, session: { id, seq, ack }, command });

  it('applies a retried request once and answers it with its first result', () => {
    const d = new Driver();
    d.do(set('n', '0'));
    const s = open(d);
    expect(req(d, s, 1, 0, incr)).toMatchObject({ value: 1n });
    expect(req(d, s, 2, 0, incr)).toMatchObject({ value: 2n });
    expect(req(d, s, 1, 0, incr)).toMatchObject({ value: 1n });
    expect(req(d, s, 2, 1, incr)).toMatchObject({ value: 2n });
    expect(d.get('n')).toBe('2');
  });

  it('forgets acknowledged results and refuses their retries without applying them', () => {
    const d = new Driver();
    d.do(set('n', '0'));
    const s = open(d);
    req(d, s, 1, 0, incr);
    req(d, s, 2, 1, incr);
    expect(req(d, s, 1, 1, incr)).toEqual({ status: 'session_stale', id: s, seq: 1 });
    expect(d.get('n')).toBe('2');
  });

  it('refuses requests in a session it does not know, expired by command time or evicted', () => {
    const d = new Driver({ sessionTtlMs: 60_000, maxSessions: 2 });
    d.do(set('n', '0'));
    expect(req(d, 99, 1, 0, incr)).toEqual({ status: 'session_unknown', id: 99 });
    const a = open(d);
    d.now += 30_000;
    const b = open(d);
    req(d, a, 1, 0, incr); // a is now the most recently active
    const c = open(d); // evicts b
    expect(req(d, b, 1, 0, incr)).toEqual({ status: 'session_unknown', id: b });
    d.now += 60_000;
    expect(req(d, a, 2, 1, incr)).toEqual({ status: 'session_unknown', id: a });
    expect(req(d, c, 1, 0, incr)).toEqual({ status: 'session_unknown', id: c });
    expect(d.get('n')).toBe('1');
    expect(d.store.stats().sessions).toBe(0);
  });

  it('bounds unacknowledged results per session', () => {
    const d = new Driver({ maxPendingPerSession: 2 });
    const s = open(d);
    req(d, s, 1, 0, set('a', '1'));
    req(d, s, 2, 0, set('a', '2'));
    expect(req(d, s, 3, 0, set('a', '3'))).toEqual({ status: 'session_busy', id: s, seq: 3 });
    expect(req(d, s, 3, 2, set('a', '3'))).toMatchObject({ status: 'stored' });
    expect(d.get('a')).toBe('3');
  });

  it('runs a retried get again rather than keeping its values', () => {
    const d = new Driver({ maxPendingPerSession: 1 });
    const s = open(d);
    d.do(set('a', '1'));
    expect(req(d, s, 1, 0, { op: 'get', keys: ['a'] })).toMatchObject({ hits: [{ key: 'a' }] });
    d.do(set('a', '2'));
    const again = req(d, s, 1, 0, { op: 'get', keys: ['a'] });
    expect(again.status === 'values' && str(again.hits[0]?.value ?? new Uint8Array())).toBe('2');
    expect(req(d, s, 2, 0, set('b', 'x'))).toMatchObject({ status: 'stored' });
  });
});

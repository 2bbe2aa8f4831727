import { describe, expect, it } from 'vitest';
import { itemSize, keyToBytes, KvStore, storeConfig, type KvCommand, type KvResult } from '../src/index.js';
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

describe('the memory limit (memcached -m and -M)', () => {
  // Items of a one-letter key and a 10-byte value: 70 bytes each by memcached's accounting, so a
  // 210-byte limit holds three of them.
  const size = itemSize(1, 0, 10);
  const ten = (c: string): string => c.repeat(10);
  const evictions = (d: Driver): number => d.store.stats().counters.evictions;

  it('evicts the least recently stored items when a store would pass the limit; reads and touches do not count as use', () => {
    const d = new Driver({ itemSizeMax: 100, memoryLimit: 3 * size });
    for (const k of ['a', 'b', 'c']) expect(d.do(set(k, ten(k)))).toMatchObject({ status: 'stored' });
    // memcached would bump a on these; a read here may be served by one replica without the log,
    // so only stores order the items, the same on every replica.
    expect(d.get('a')).toBe(ten('a'));
    expect(d.do({ op: 'touch', key: 'a', exptime: 100 })).toEqual({ status: 'touched' });
    expect(d.do(set('d', ten('d')))).toMatchObject({ status: 'stored' });
    expect([d.get('a'), d.get('b'), d.get('c'), d.get('d')]).toEqual([null, ten('b'), ten('c'), ten('d')]);
    expect(evictions(d)).toBe(1);
    // Storing b again makes it the most recent: c goes next.
    d.do(set('b', ten('B')));
    d.do(set('e', ten('e')));
    expect([d.get('b'), d.get('c'), d.get('d'), d.get('e')]).toEqual([ten('B'), null, ten('d'), ten('e')]);
    expect(d.store.stats()).toMatchObject({ bytes: 3 * size, curr_items: 3, limit_maxbytes: 3 * size, counters: { evictions: 2 } });
  });

  it('counts the bytes of the item a store replaces as free, and evicts as many as a larger item needs', () => {
    const d = new Driver({ itemSizeMax: 100, memoryLimit: 3 * size });
    for (const k of ['a', 'b', 'c']) d.do(set(k, ten(k)));
    expect(d.do(set('a', ten('A')))).toMatchObject({ status: 'stored' });
    expect(d.do({ op: 'append', key: 'b', flags: 0, exptime: 0, value: v('') })).toMatchObject({ status: 'stored' });
    expect(evictions(d)).toBe(0);
    // 30 bytes more than a 10-byte value: c and a (the two least recently stored) make room.
    expect(d.do(set('f', 'f'.repeat(40)))).toMatchObject({ status: 'stored' });
    expect([d.get('a'), d.get('b'), d.get('c'), d.get('f')]).toEqual([null, ten('b'), null, 'f'.repeat(40)]);
    expect(evictions(d)).toBe(2);
    expect(d.store.stats().bytes).toBe(size + itemSize(1, 0, 40));
  });

  it('appends and growing counters are stores: they evict when they need room; a counter rewritten in place needs none', () => {
    const d = new Driver({ itemSizeMax: 140, memoryLimit: 4 * size });
    d.do(set('n', '1'.repeat(10)));
    for (const k of ['a', 'b', 'c']) d.do(set(k, ten(k)));
    expect(d.do({ op: 'decr', key: 'n', delta: 1n })).toMatchObject({ status: 'number', value: 1111111110n });
    expect(evictions(d)).toBe(0);
    // The decrement rewrote n in place with a new CAS unique, so n is now the most recent; a
    // longer number is a new item, 3 bytes larger: a goes.
    expect(d.do({ op: 'incr', key: 'n', delta: 10n ** 12n })).toMatchObject({ status: 'number', value: 1001111111110n });
    expect([d.get('a'), d.get('b')]).toEqual([null, ten('b')]);
    // 68 more bytes for c: b (the least recently stored now) goes, n stays.
    expect(d.do({ op: 'append', key: 'c', flags: 0, exptime: 0, value: v('x'.repeat(68)) })).toMatchObject({ status: 'stored' });
    expect([d.get('b'), d.get('c'), d.get('n')]).toEqual([null, ten('c') + 'x'.repeat(68), '1001111111110']);
    expect(evictions(d)).toBe(2);
  });

  it('with evictions off (-M), a store that does not fit fails as memcached fails an allocation and changes nothing, but a failed set drops the old item', () => {
    const d = new Driver({ itemSizeMax: 100, memoryLimit: 3 * size, evictions: false });
    for (const k of ['a', 'b', 'c']) d.do(set(k, ten(k)));
    expect(d.do(set('d', ten('d')))).toEqual({ status: 'out_of_memory' });
    expect(d.do({ op: 'add', key: 'd', flags: 0, exptime: 0, value: v('x') })).toEqual({ status: 'out_of_memory' });
    // The same size again fits: the old item's bytes are free for it.
    expect(d.do(set('a', ten('A')))).toMatchObject({ status: 'stored' });
    expect(d.do({ op: 'replace', key: 'b', flags: 0, exptime: 0, value: v(ten('B') + 'x') })).toEqual({ status: 'out_of_memory' });
    expect(d.get('b')).toBe(ten('b'));
    expect(d.do({ op: 'append', key: 'b', flags: 0, exptime: 0, value: v('x') })).toEqual({ status: 'not_stored' });
    expect(d.get('b')).toBe(ten('b'));
    expect(d.do(set('b', ten('B') + 'x'))).toEqual({ status: 'out_of_memory' });
    expect(d.get('b')).toBe(null);
    d.do(set('n', '9'.repeat(10)));
    expect(d.do({ op: 'incr', key: 'n', delta: 1n })).toEqual({ status: 'out_of_memory' });
    expect(d.get('n')).toBe('9'.repeat(10));
    expect(d.do({ op: 'decr', key: 'n', delta: 1n })).toMatchObject({ status: 'number', value: 9999999998n });
    expect(d.do({ op: 'incr', key: 'm', delta: 1n, initial: { value: 5n, exptime: 0 } })).toEqual({ status: 'out_of_memory' });
    expect(d.store.stats()).toMatchObject({ curr_items: 3, counters: { evictions: 0 } });
    d.do({ op: 'delete', key: 'a' });
    expect(d.do(set('d', ten('d')))).toMatchObject({ status: 'stored' });
  });

  it('refuses a limit under twice the item size limit, as memcached refuses -I above half of -m', () => {
    expect(() => storeConfig({ itemSizeMax: 1024, memoryLimit: 2047 })).toThrow(/memoryLimit 2047 must be at least twice itemSizeMax 1024/);
    expect(storeConfig({})).toMatchObject({ memoryLimit: 64 * 1024 * 1024, evictions: true, itemSizeMax: 1024 * 1024 });
  });

  it('evicts in the order items were stored after an image that lists them by key (an older build wrote those) is loaded', () => {
    const d = new Driver({ itemSizeMax: 100, memoryLimit: 3 * size });
    for (const k of ['c', 'a', 'b']) d.do(set(k, ten(k)));
    const copy = new Driver({ itemSizeMax: 100, memoryLimit: 3 * size });
    const img = d.store.image();
    copy.store.load({ ...img, items: [...img.items].sort((x, y) => (x.key < y.key ? -1 : 1)) });
    expect(copy.store.image()).toEqual(img);
    for (const x of [d, copy]) {
      x.do(set('d', ten('d')));
      expect([x.get('a'), x.get('b'), x.get('c')]).toEqual([ten('a'), ten('b'), null]);
    }
  });

  it('keeps evicting in order over many stores, deletes and expiries (no item is skipped or left behind)', () => {
    const d = new Driver({ itemSizeMax: 100, memoryLimit: 10 * size });
    const stored: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const key = String.fromCharCode(33 + ((i * 37) % 90));
      if (i % 7 === 3) d.do({ op: 'delete', key });
      else d.do(set(key, ten('v'), i % 11 === 0 ? 1 : 0), (d.now += 100));
      const at = stored.indexOf(key);
      if (at >= 0) stored.splice(at, 1);
      if (i % 7 !== 3 && i % 11 !== 0) stored.push(key);
    }
    // Whatever is held is the most recently stored of the keys not deleted or expired since.
    const held = d.store.image().items.map((i) => i.key);
    expect(held.length).toBeGreaterThan(5);
    expect(new Set(held)).toEqual(new Set(stored.slice(-held.length)));
    expect(d.store.stats().bytes).toBeLessThanOrEqual(10 * size);
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

import { Decoder, Encoder } from '@msgpack/msgpack';
import { arrayAt, valuesEnd } from '../src/msgpack-scan.js';
import { describe, expect, it } from 'vitest';
import { decodeResult, decodeSnapshot, decodeSnapshotSteps, digestBytes, digestChunks, digestChunksAsync, encodeRequest, encodeSnapshot, encodeSnapshotChunks, keyToBytes, KvStateMachine, KvStore, type ImageItem, type StoreImage } from '../src/index.js';

function storeOf(items: number, valueBytes: number): KvStore {
  const s = new KvStore({ memoryLimit: 1 << 30 });
  for (let i = 0; i < items; i++) {
    const value = new Uint8Array(valueBytes).fill(i & 0xff);
    s.apply({ now: 1000 + i, command: { op: 'set', key: `k${(i * 7919) % 100_003}`, flags: i, exptime: i % 3 === 0 ? 0 : 3600, value } });
  }
  s.apply({ now: 5000, command: { op: 'register' } });
  return s;
}

function joined(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0));
  list.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

describe('KV snapshots in chunks', () => {
  // 6 fields an item: 2 items fit msgpack's one-byte array header, 3 need the 16-bit one, 11,000
  // (66,000 elements) the 32-bit one.
  it.each([0, 1, 2, 3, 11_000])('are the same bytes as one piece, whatever the chunk size, and decode to the image (%i items)', (n) => {
    const img: StoreImage = storeOf(n, 5).image();
    const meta = { iid: 42, index: 3 };
    const whole = encodeSnapshot(img, meta);
    for (const size of [1, 7, 4096]) expect(joined(encodeSnapshotChunks(img, meta, size))).toEqual(whole);
    // One msgpack value, no bytes left over: the item list's header counts what follows it.
    const top = new Decoder().decode(whole) as unknown[];
    expect(top).toHaveLength(11);
    expect(top[9]).toHaveLength(6 * n);
    const back = decodeSnapshot(whole);
    expect(back.meta).toEqual(meta);
    expect(back.image.items).toEqual(img.items);
    expect(back.image.sessions).toEqual(img.sessions);
    expect(back.image.casCounter).toBe(img.casCounter);
  });

  it('digest to the digest of their bytes joined (digestChunks is digestBytes without the join)', async () => {
    const bytes = encodeSnapshot(storeOf(50, 5).image(), { iid: 0, index: 0 });
    const cuts = [0, 1, 7, 300, bytes.length];
    const pieces = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end));
    expect(digestChunks(pieces)).toBe(digestBytes(bytes));
    expect(digestChunks([])).toBe(digestBytes(new Uint8Array(0)));
    expect(digestChunks([bytes.subarray(1)])).not.toBe(digestBytes(bytes));
    // And a piece at a time from an asynchronous source (a kv-server's `stats paxos`).
    const source = async function* () {
      yield* pieces;
    };
    await expect(digestChunksAsync(source())).resolves.toBe(digestBytes(bytes));
  });

  it('decode a piece at a time to what one decode gives, stopping after the structure and after each chunk of items', () => {
    const img = storeOf(11_000, 5).image();
    const whole = encodeSnapshot(img, { iid: 42, index: 3 });
    const once = decodeSnapshot(whole);
    expect(once.image.items).toHaveLength(11_000);
    for (const [chunkItems, stops] of [[4096, 1 + 3], [1000, 1 + 11], [11_000, 1 + 1], [1, 1 + 11_000]] as const) {
      const steps = decodeSnapshotSteps(whole, chunkItems);
      let stopped = 0;
      let step = steps.next();
      for (; step.done !== true; step = steps.next()) stopped++;
      expect(stopped, `chunks of ${chunkItems}`).toBe(stops);
      expect(step.value).toEqual(once);
    }
    const none = encodeSnapshot(new KvStore().image(), { iid: 0, index: 0 });
    expect([...(function* () {
      const s = decodeSnapshotSteps(none);
      while (s.next().done !== true) yield 1;
    })()]).toHaveLength(1);
  });

  it('are refused as not msgpack, before anything else, when damaged anywhere or followed by more bytes', () => {
    const whole = encodeSnapshot(storeOf(5000, 5).image(), { iid: 1, index: 0 });
    const tail = new Uint8Array(whole.length + 1);
    tail.set(whole);
    expect(() => decodeSnapshot(tail)).toThrow(/the KV snapshot is not valid msgpack \(Extra 1 of \d+ byte\(s\) found at buffer\[\d+\]\); it is damaged or not a paxos-kv snapshot/);
    expect(() => decodeSnapshot(whole.subarray(0, whole.length - 1))).toThrow(/not valid msgpack/);
    // A byte that starts no msgpack value, deep in the last chunk of items: refused at the first step.
    const bad = whole.slice();
    const fields = valuesEnd(bad, 1, 9);
    const items = arrayAt(bad, fields) as { count: number; next: number };
    const at = valuesEnd(bad, items.next, items.count - 6);
    expect(bad[at]).toBe(0xc4); // the last item's key, a bin
    bad[at] = 0xc1;
    const steps = decodeSnapshotSteps(bad);
    expect(() => steps.next()).toThrow(/not valid msgpack \(byte 0xc1 at/);
  });

  it('are refused, with the sentences of one decode, when a field is missing or extra, or the items are not a list of sixes', () => {
    const whole = encodeSnapshot(storeOf(20, 5).image(), { iid: 1, index: 0 });
    const edit = (change: (x: unknown[]) => void): Uint8Array => {
      const x = new Decoder().decode(whole) as unknown[];
      change(x);
      return new Encoder().encode(x);
    };
    expect(() => decodeSnapshot(edit((x) => x.push(0)))).toThrow('the KV snapshot is damaged: it has 12 fields where format 2 has 11');
    expect(() => decodeSnapshot(edit((x) => x.pop()))).toThrow('the KV snapshot is damaged: it has 10 fields where format 2 has 11');
    expect(() => decodeSnapshot(edit((x) => (x[9] = 5)))).toThrow('the KV snapshot is damaged: the items should be an array');
    expect(() => decodeSnapshot(edit((x) => (x[9] = (x[9] as unknown[]).slice(0, 5))))).toThrow('the KV snapshot is damaged: the item list is cut short');
    expect(() => decodeSnapshot(edit((x) => (x[10] = 'none')))).toThrow('the KV snapshot is damaged: the sessions should be an array');
    expect(() => decodeSnapshot(new Encoder().encode({ a: 1 }))).toThrow('these bytes are not a paxos-kv snapshot (no "paxos-kv snapshot" header)');
    expect(() => decodeSnapshot(new Encoder().encode([]))).toThrow('these bytes are not a paxos-kv snapshot (no "paxos-kv snapshot" header)');
  });

  it('end a chunk once its values pass 1 MiB, so large items do not make a large chunk', () => {
    const img = storeOf(12, 300 * 1024).image();
    const chunks = [...encodeSnapshotChunks(img, { iid: 1, index: 0 })];
    // The head, items in chunks of four (1.2 MiB of values each), the sessions.
    expect(chunks.map((c) => Math.round(c.length / (300 * 1024)))).toEqual([0, 4, 4, 4, 0]);
  });

  it('are refused, with a sentence, when they list a key twice or an item CAS above the counter', () => {
    const img = storeOf(3, 5).image();
    const meta = { iid: 1, index: 0 };
    const [a, b] = img.items as [ImageItem, ImageItem];
    expect(() => decodeSnapshot(encodeSnapshot({ ...img, items: [a, { ...b, key: a.key }] }, meta))).toThrow(/the KV snapshot is damaged: item 1 repeats a key listed before it/);
    expect(() => decodeSnapshot(encodeSnapshot({ ...img, casCounter: 2 }, meta))).toThrow(/the KV snapshot is damaged: item 2 has CAS unique 3, above the CAS counter 2/);
  });

  it('decode into bytes of their own, items and remembered results alike (a view would keep the snapshot alive)', () => {
    const m = new KvStateMachine();
    const reg = decodeResult(m.apply(1, 0, encodeRequest({ now: 1000, command: { op: 'register' } })));
    if (reg.status !== 'session') throw new Error(reg.status);
    m.apply(2, 0, encodeRequest({ now: 1000, command: { op: 'set', key: 'k', flags: 0, exptime: 0, value: keyToBytes('value') } }));
    m.apply(3, 0, encodeRequest({ now: 1000, session: { id: reg.id, seq: 1, ack: 0 }, command: { op: 'gat', keys: ['k'], exptime: 0 } }));
    const { image } = decodeSnapshot(m.snapshot());
    const owned = (v: Uint8Array) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
    expect(image.items.map((i) => owned(i.value))).toEqual([true]);
    const remembered = image.sessions[0]?.results[0]?.[1];
    expect(remembered?.status === 'values' ? remembered.hits.map((h) => owned(h.value)) : remembered).toEqual([true]);
  });

  it('list the items in the order they were stored (CAS order), not by key', () => {
    const s = new KvStore();
    for (const k of ['c', 'a', 'b', 'a']) s.apply({ now: 1000, command: { op: 'set', key: k, flags: 0, exptime: 0, value: new Uint8Array(1) } });
    expect(s.image().items.map((i) => [i.key, i.cas])).toEqual([['c', 1], ['b', 3], ['a', 4]]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryProtocol, ByteWriter, keyToBytes, Opcode, Rng, Status, type BinaryRequest } from '../src/index.js';
import { OneNode, str } from './harness.js';

interface Req {
  key?: string;
  extras?: Uint8Array;
  value?: string | Uint8Array;
  opaque?: number;
  cas?: bigint;
  magic?: number;
  keylen?: number;
  bodylen?: number;
}

function pkt(opcode: number, r: Req = {}): Uint8Array {
  const key = keyToBytes(r.key ?? '');
  const extras = r.extras ?? new Uint8Array();
  const value = typeof r.value === 'string' ? keyToBytes(r.value) : (r.value ?? new Uint8Array());
  return new ByteWriter()
    .u8(r.magic ?? 0x80)
    .u8(opcode)
    .u16(r.keylen ?? key.length)
    .u8(extras.length)
    .u8(0)
    .u16(0)
    .u32(r.bodylen ?? extras.length + key.length + value.length)
    .u32(r.opaque ?? 0xdeadbeef)
    .u64(r.cas ?? 0n)
    .bytes(extras)
    .bytes(key)
    .bytes(value)
    .done();
}
const u32 = (...xs: number[]) => xs.reduce((w, x) => w.u32(x), new ByteWriter()).done();
const arith = (delta: bigint, initial: bigint, exp: number) => new ByteWriter().u64(delta).u64(initial).u32(exp).done();
const cat = (...ps: Uint8Array[]) => ps.reduce((w, p) => w.bytes(p), new ByteWriter()).done();

interface Res {
  magic: number;
  opcode: number;
  keylen: number;
  extlen: number;
  datatype: number;
  status: number;
  opaque: number;
  cas: bigint;
  extras: Uint8Array;
  key: string;
  value: string;
}

function responses(b: Uint8Array): Res[] {
  const out: Res[] = [];
  let i = 0;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (i < b.length) {
    const keylen = dv.getUint16(i + 2);
    const extlen = dv.getUint8(i + 4);
    const body = dv.getUint32(i + 8);
    out.push({
      magic: dv.getUint8(i),
      opcode: dv.getUint8(i + 1),
      keylen,
      extlen,
      datatype: dv.getUint8(i + 5),
      status: dv.getUint16(i + 6),
      opaque: dv.getUint32(i + 12),
      cas: dv.getBigUint64(i + 16),
      extras: b.slice(i + 24, i + 24 + extlen),
      key: str(b.slice(i + 24 + extlen, i + 24 + extlen + keylen)),
      value: str(b.slice(i + 24 + extlen + keylen, i + 24 + body)),
    });
    i += 24 + body;
  }
  return out;
}

const node = () => new OneNode({ protocol: 'binary' });
const ask = (n: OneNode, ...ps: Uint8Array[]) => responses(n.send(cat(...ps)));
const setP = (key: string, value: string, o: Req & { flags?: number; exp?: number } = {}, op: number = Opcode.SET) =>
  pkt(op, { key, value, extras: u32(o.flags ?? 0, o.exp ?? 0), ...o });

describe('binary protocol: replies as memcapable checks them', () => {
  it('success replies: magic, echoed opcode and opaque, datatype 0, CAS set where a version was made', () => {
    const n = node();
    const [set, add, replace, append, prepend, incr, get, getk, del, flush, noop, version] = ask(
      n,
      setP('a', '1', { opaque: 1 }),
      setP('b', '2', { opaque: 2 }, Opcode.ADD),
      setP('a', '3', { opaque: 3 }, Opcode.REPLACE),
      pkt(Opcode.APPEND, { key: 'a', value: '4', opaque: 4 }),
      pkt(Opcode.PREPEND, { key: 'a', value: '2', opaque: 5 }),
      pkt(Opcode.INCREMENT, { key: 'a', extras: arith(1n, 0n, 0), opaque: 6 }),
      pkt(Opcode.GET, { key: 'a', opaque: 7 }),
      pkt(Opcode.GETK, { key: 'a', opaque: 8 }),
      pkt(Opcode.DELETE, { key: 'b', opaque: 9 }),
      pkt(Opcode.FLUSH, { opaque: 10 }),
      pkt(Opcode.NOOP, { opaque: 11 }),
      pkt(Opcode.VERSION, { opaque: 12 }),
    );
    const all = [set, add, replace, append, prepend, incr, get, getk, del, flush, noop, version] as Res[];
    all.forEach((r, i) => expect(r).toMatchObject({ magic: 0x81, datatype: 0, status: 0, opaque: i + 1 }));
    for (const r of [set, add, replace, append, prepend] as Res[]) expect(r).toMatchObject({ keylen: 0, extlen: 0, value: '' });
    for (const r of [set, add, replace, append, prepend, incr, get, getk] as Res[]) expect(r.cas).not.toBe(0n);
    for (const r of [del, flush, noop, version] as Res[]) expect(r.cas).toBe(0n);
    expect(incr?.value).toBe('\0\0\0\0\0\0\x00\xeb'); // "234" + 1 as a u64
    expect(get).toMatchObject({ extlen: 4, keylen: 0, value: '235' });
    expect(getk).toMatchObject({ extlen: 4, key: 'a', value: '235' });
    expect(version?.value).toBe('1.6.18');
  });

  it('error replies: status, CAS 0, no extras, no key (but a GETK miss names its key), a message', () => {
    const n = node();
    const rs = ask(
      n,
      pkt(Opcode.GET, { key: 'nope' }),
      pkt(Opcode.GETK, { key: 'nope' }),
      setP('a', 'x'),
      setP('a', 'y', {}, Opcode.ADD),
      setP('nope', 'y', {}, Opcode.REPLACE),
      pkt(Opcode.APPEND, { key: 'nope', value: 'x' }),
      pkt(Opcode.INCREMENT, { key: 'a', extras: arith(1n, 0n, 0) }),
      pkt(Opcode.DELETE, { key: 'a', cas: 99n }),
      pkt(Opcode.INCREMENT, { key: 'nope', extras: arith(1n, 0n, 0xffffffff) }),
    );
    expect(rs.map((r) => [r.status, r.value])).toEqual([
      [Status.KEY_ENOENT, 'Not found'],
      [Status.KEY_ENOENT, ''],
      [0, ''],
      [Status.KEY_EEXISTS, 'Data exists for key.'],
      [Status.KEY_ENOENT, 'Not found'],
      [Status.NOT_STORED, 'Not stored.'],
      [Status.DELTA_BADVAL, 'Non-numeric server-side value for incr or decr'],
      [Status.KEY_EEXISTS, 'Data exists for key.'],
      [Status.KEY_ENOENT, 'Not found'],
    ]);
    for (const r of rs.filter((r) => r.status !== 0)) expect(r).toMatchObject({ cas: 0n, extlen: 0 });
    expect(rs[1]).toMatchObject({ keylen: 4, key: 'nope' });
  });

  it('quiet commands say nothing on success, answer failures, and NOOP closes the batch', () => {
    const n = node();
    const rs = ask(
      n,
      setP('a', '1', {}, Opcode.SETQ),
      setP('a', '2', {}, Opcode.ADDQ),
      pkt(Opcode.GETQ, { key: 'a' }),
      pkt(Opcode.GETKQ, { key: 'nope' }),
      pkt(Opcode.INCREMENTQ, { key: 'n', extras: arith(1n, 5n, 0) }),
      pkt(Opcode.DELETEQ, { key: 'nope' }),
      pkt(Opcode.FLUSHQ),
      pkt(Opcode.NOOP),
    );
    expect(rs.map((r) => [r.opcode, r.status])).toEqual([
      [Opcode.ADDQ, Status.KEY_EEXISTS],
      [Opcode.GETQ, 0],
      [Opcode.DELETEQ, Status.KEY_ENOENT],
      [Opcode.NOOP, 0],
    ]);
  });

  it('touch and gat: flags and CAS in the reply; gatk with the key; quiet misses silent', () => {
    const n = node();
    const rs = ask(n, setP('a', 'v', { flags: 9 }), pkt(Opcode.TOUCH, { key: 'a', extras: u32(10) }), pkt(Opcode.GATK, { key: 'a', extras: u32(10) }), pkt(Opcode.GATQ, { key: 'x', extras: u32(1) }), pkt(Opcode.NOOP));
    expect(rs[1]).toMatchObject({ status: 0, extlen: 4, value: '', cas: 1n });
    expect([...(rs[1]?.extras ?? [])]).toEqual([0, 0, 0, 9]);
    expect(rs[2]).toMatchObject({ key: 'a', value: 'v' });
    expect(rs.length).toBe(4);
  });

  it('stats: one packet per statistic, then one with no key; an unknown group is KEY_ENOENT', () => {
    const n = node();
    const rs = ask(n, pkt(Opcode.STAT));
    expect(rs.length).toBeGreaterThan(10);
    expect(rs.at(-1)).toMatchObject({ keylen: 0, value: '', status: 0 });
    for (const r of rs) expect(r).toMatchObject({ opcode: Opcode.STAT, cas: 0n, extlen: 0 });
    expect(rs.find((r) => r.key === 'curr_items')?.value).toBe('0');
    expect(ask(n, pkt(Opcode.STAT, { key: 'slabs' }))[0]).toMatchObject({ status: Status.KEY_ENOENT });
  });

  it('quit replies then closes; quitq closes silently', () => {
    const a = node();
    expect(ask(a, pkt(Opcode.QUIT), pkt(Opcode.NOOP)).map((r) => r.opcode)).toEqual([Opcode.QUIT]);
    expect(a.closed).toBe(true);
    const b = node();
    expect(ask(b, pkt(Opcode.QUITQ), pkt(Opcode.NOOP))).toEqual([]);
    expect(b.closed).toBe(true);
  });
});

describe('binary protocol: bad packets', () => {
  it.each([
    ['set without its extras', pkt(Opcode.SET, { key: 'a', extras: u32(0), value: 'x' }), Status.EINVAL],
    ['get with a value', pkt(Opcode.GET, { key: 'a', value: 'x' }), Status.EINVAL],
    ['get without a key', pkt(Opcode.GET), Status.EINVAL],
    ['incr with short extras', pkt(Opcode.INCREMENT, { key: 'a', extras: u32(1, 2) }), Status.EINVAL],
    ['noop with a body', pkt(Opcode.NOOP, { value: 'x' }), Status.EINVAL],
    ['stat with a value', pkt(Opcode.STAT, { key: 'a', value: 'x' }), Status.EINVAL],
    ['a key over 250 bytes', pkt(Opcode.GET, { key: 'k'.repeat(251) }), Status.EINVAL],
    ['a key longer than the body', pkt(Opcode.GET, { key: 'abc', keylen: 5, bodylen: 3 }), Status.UNKNOWN_COMMAND],
  ])('%s: an error reply, then the connection closes', (_name, bad, status) => {
    const n = node();
    const rs = ask(n, pkt(Opcode.NOOP), bad, pkt(Opcode.NOOP));
    expect(rs.map((r) => r.status)).toEqual([0, status]);
    expect(n.closed).toBe(true);
  });

  it('a bad magic byte closes at once, without a reply', () => {
    const n = node();
    expect(ask(n, pkt(Opcode.NOOP), pkt(Opcode.NOOP, { magic: 0x81 }), pkt(Opcode.NOOP)).length).toBe(1);
    expect(n.closed).toBe(true);
  });

  it('an unknown opcode is answered and exactly its body skipped (memcached would skip extras and key twice)', () => {
    const n = node();
    const rs = ask(n, pkt(0x50, { key: 'abc', extras: u32(1), value: 'xyz' }), pkt(0x1b, { extras: u32(1) }), pkt(Opcode.NOOP));
    expect(rs.map((r) => [r.opcode, r.status, r.value])).toEqual([
      [0x50, Status.UNKNOWN_COMMAND, 'Unknown command'],
      [0x1b, Status.UNKNOWN_COMMAND, 'Unknown command'],
      [Opcode.NOOP, 0, ''],
    ]);
    expect(n.closed).toBe(false);
  });

  it('out of memory with evictions off (-M): ENOMEM, for a store and a counter seed', () => {
    const n = new OneNode({ protocol: 'binary', itemSizeMax: 100, memoryLimit: 200, evictions: false });
    ask(n, setP('a', 'x'.repeat(40)), setP('b', 'x'.repeat(40)));
    expect(ask(n, setP('c', 'x'.repeat(40)))).toMatchObject([{ status: Status.ENOMEM, value: 'Out of memory' }]);
    // An increment of a missing key with an initial value (exptime not 0xffffffff) seeds an item.
    expect(ask(n, pkt(Opcode.INCREMENT, { key: 'n', extras: arith(1n, 5n, 0) }))).toMatchObject([{ status: Status.ENOMEM }]);
    expect(ask(n, pkt(Opcode.INCREMENT, { key: 'n', extras: arith(1n, 5n, 0xffffffff) }))).toMatchObject([{ status: Status.KEY_ENOENT }]);
  });

  it('a value over the limit: E2BIG without buffering it; a set drops the old item', () => {
    const n = node();
    ask(n, setP('k', 'old'));
    const head = setP('k', 'x'.repeat(2 << 20)).subarray(0, 24 + 8 + 1);
    expect(responses(n.send(head))).toMatchObject([{ status: Status.E2BIG, value: 'Too large.' }]);
    for (let i = 0; i < 32; i++) expect(n.send(new Uint8Array(65536))).toEqual(new Uint8Array());
    expect(ask(n, pkt(Opcode.GET, { key: 'k' }))).toMatchObject([{ status: Status.KEY_ENOENT }]);
  });

  it('encodes the server’s own failures with statuses beyond memcached 1.6’s', () => {
    const p = new BinaryProtocol();
    const req: BinaryRequest = { command: { op: 'delete', key: 'k' }, opcode: Opcode.DELETEQ, loud: Opcode.DELETE, quiet: true, opaque: 5, key: keyToBytes('k') };
    expect(responses(p.encode(req, { status: 'session_busy', id: 1, seq: 2 }))).toMatchObject([{ status: Status.ETMPFAIL, opaque: 5, opcode: Opcode.DELETEQ }]);
    expect(responses(p.encode(req, { status: 'session_unknown', id: 1 }))).toMatchObject([{ status: Status.EINTERNAL }]);
    expect(responses(p.encode(req, { status: 'invalid', reason: 'bad' }))).toMatchObject([{ status: Status.EINVAL, value: 'bad' }]);
    expect(p.encode(req, { status: 'deleted' })).toEqual(new Uint8Array());
  });
});

describe('binary protocol: chunking', () => {
  it('gives the same replies whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 30 }), (seed, sizes) => {
        const rng = new Rng(seed);
        const ps: Uint8Array[] = [];
        for (let i = 0; i < 40; i++) {
          const k = `k${rng.int(3)}`;
          ps.push(
            rng.pick([
              setP(k, 'v'.repeat(rng.int(30)), { flags: rng.int(3) }),
              setP(k, 'w', {}, Opcode.SETQ),
              pkt(Opcode.GET, { key: k }),
              pkt(Opcode.GETKQ, { key: k }),
              pkt(Opcode.INCREMENT, { key: k, extras: arith(2n, 7n, 0) }),
              pkt(Opcode.APPENDQ, { key: k, value: 'a' }),
              pkt(Opcode.DELETE, { key: k }),
              pkt(0x60, { key: 'zz', value: 'q' }),
              pkt(Opcode.NOOP),
            ]),
          );
        }
        const input = cat(...ps);
        const whole = node().send(input);
        const n = node();
        const parts: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; at < input.length; i++) {
          const size = sizes[i % sizes.length] as number;
          parts.push(n.send(input.subarray(at, at + size)));
          at += size;
        }
        expect(cat(...parts)).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });
});

describe("binary protocol: the server's own failures", () => {
  it('answer any request, quiet ones too, with ETMPFAIL (temporary) or EINTERNAL, the opaque echoed and the message as the value', () => {
    const p = new BinaryProtocol();
    const items = p.push(cat(setP('k', 'v', { opaque: 7 }, Opcode.SETQ), pkt(Opcode.GETQ, { key: 'k', opaque: 8 }), pkt(Opcode.STAT, { opaque: 9 })));
    const reqs = items.flatMap((it) => (it.type === 'request' ? [it.request] : []));
    expect(reqs).toHaveLength(3);
    const [a, b, c] = reqs as [BinaryRequest, BinaryRequest, BinaryRequest];
    const [ra] = responses(p.encode(a, { kind: 'server_error', message: 'no quorum', temporary: true }));
    expect(ra).toMatchObject({ magic: 0x81, opcode: Opcode.SETQ, status: Status.ETMPFAIL, opaque: 7, cas: 0n, value: 'no quorum' });
    const [rb] = responses(p.encode(b, { kind: 'server_error', message: 'broken', temporary: false }));
    expect(rb).toMatchObject({ opcode: Opcode.GETQ, status: Status.EINTERNAL, opaque: 8, value: 'broken' });
    expect(responses(p.encode(c, { kind: 'server_error', message: 'x', temporary: true }))).toHaveLength(1);
  });
});

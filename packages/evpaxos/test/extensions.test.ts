import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Encoder, encode } from '@msgpack/msgpack';
import { digestOf, type AcceptedMsg, type Message } from '@libpaxos/paxos-core';
import { FrameDecoder, WireError, encodeMessage, type Frame } from '../src/codec.js';
import { ExtensionError, decodeExtension, encodeExtension, type ExtensionMessage, type HelloMsg } from '../src/extensions.js';
import { VERSION, silentLogger } from '../src/index.js';
import { Network } from '../src/network.js';
import { waitFor, withFreePorts } from './ports.js';

const sum = Uint8Array.of(1, 2, 3, 4);
const EXAMPLES: ExtensionMessage[] = [
  { type: 'hello', version: '0.1.0', role: 'replica', id: 2, features: ['snapshots'] },
  { type: 'snapshot_query', need: 17, resume: undefined },
  { type: 'snapshot_query', need: 17, resume: { iid: 9, size: 100, sum } },
  { type: 'snapshot_offer', iid: 4_000_000_000, size: 5 * 2 ** 30, sum, reports: [[0, 10], [2, 4_000_000_000]] },
  // With leadership on, leadership's state as of the checkpoint (no master after a resignation).
  { type: 'snapshot_offer', iid: 90, size: 10, sum, reports: [], master: { lastOp: 88, version: 80, master: 2, maxOpenLimit: 130 } },
  { type: 'snapshot_offer', iid: 90, size: 10, sum, reports: [], master: { lastOp: 88, version: 88, master: undefined, maxOpenLimit: 130 } },
  { type: 'snapshot_get', iid: 9, sum, offset: 2 ** 33, length: 1 << 20 },
  { type: 'snapshot_chunk', iid: 9, sum, offset: 0, data: new Uint8Array(1 << 20).fill(9), gone: false },
  { type: 'snapshot_chunk', iid: 9, sum, offset: 0, data: new Uint8Array(0), gone: true },
  { type: 'accepted_digest', aid: 2, iid: 4_000_000_000, ballot: 4_294_967_295, valueBallot: 4_294_967_290, size: 1 << 20, d1: 0xffff_ffff, d2: 0 },
];

function frames(bytes: Uint8Array, max = 16 << 20): Frame[] {
  return new FrameDecoder(max).push(bytes);
}

function decoded(f: Frame): ExtensionMessage | Message | undefined {
  return f.type === 'extension' ? decodeExtension(f.code, f.payload) : f;
}

/** Large byte fields as hex digests: vitest compares big arrays element by element, slowly. */
function comparable(m: ExtensionMessage | Message | undefined): unknown {
  if (m === undefined) return m;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v instanceof Uint8Array && v.length > 64 ? `${v.length} bytes ${Buffer.from(v).toString('base64').length}:${fnv(v)}` : v;
  return out;
}

function fnv(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}

describe('extension messages: [code ≥ 16, payload map], msgpack-encoded, versioned', () => {
  it.each(EXAMPLES.map((m) => [m.type, m] as const))('%s goes through the frame decoder and back', (_t, msg) => {
    const got = frames(encodeExtension(msg));
    expect(got).toHaveLength(1);
    expect(comparable(decoded(got[0] as Frame))).toEqual(comparable(msg));
  });

  it('mixed with LibPaxos3 messages, any chunking of the stream decodes the same', () => {
    const nine: Message[] = [
      { type: 'prepare', iid: 1, ballot: 10 },
      { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: Uint8Array.of(1, 2, 3) },
      { type: 'client_value', value: new Uint8Array(3000).fill(5) },
    ];
    const all: (Message | ExtensionMessage)[] = [...nine, ...EXAMPLES.filter((m) => m.type !== 'snapshot_chunk' || m.data.length < 1000)];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: all.length - 1 }), { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 20 }), (picks, cuts) => {
        const msgs = picks.map((i) => all[i] as Message | ExtensionMessage);
        const parts = msgs.map((m) => ('version' in m || m.type.startsWith('snapshot') || m.type === 'accepted_digest' ? encodeExtension(m as ExtensionMessage) : encodeMessage(m as Message)));
        const stream = Uint8Array.from(parts.flatMap((p) => [...p]));
        const d = new FrameDecoder(1 << 20);
        const got: Frame[] = [];
        let pos = 0;
        for (const c of cuts) {
          got.push(...d.push(stream.subarray(pos, pos + c)));
          pos = Math.min(stream.length, pos + c);
        }
        got.push(...d.push(stream.subarray(pos)));
        expect(got.map((f) => comparable(decoded(f)))).toEqual(msgs.map(comparable));
        expect(d.buffered).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('a 4 MiB chunk arriving in 64 KiB pieces decodes whole, holding only what arrived', () => {
    const msg: ExtensionMessage = { type: 'snapshot_chunk', iid: 1, sum, offset: 0, data: new Uint8Array(4 << 20).fill(7), gone: false };
    const bytes = encodeExtension(msg);
    const d = new FrameDecoder(8 << 20);
    const got: Frame[] = [];
    for (let at = 0; at < bytes.length; at += 65536) {
      got.push(...d.push(bytes.subarray(at, at + 65536)));
      if (got.length === 0) expect(d.buffered).toBe(Math.min(bytes.length, at + 65536));
    }
    expect(got.map((f) => comparable(decoded(f)))).toEqual([comparable(msg)]);
    expect(d.buffered).toBe(0);
  });

  it('still closes the connection on garbage: maps anywhere else, wrong shapes, deep nesting, oversize', () => {
    const bad: [string, Uint8Array, RegExp][] = [
      ['a map inside one of the nine', encode([3, { v: 1 }]), /only an extension message/],
      ['a map as the type code', encode([{ v: 1 }, 1]), /only an extension message/],
      ['our code without a map', encode([16, 5]), /unknown message type 16/],
      ['an extension frame with 3 elements', encode([17, { v: 1 }, 1]), /only an extension message/],
      ['a map nested 20 deep', encode([17, JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) as object]), /nests deeper/],
      ['an oversized bin inside', encode([20, { v: 1, data: new Uint8Array(2000) }]), /exceeds the limit/],
      ['a top-level map', encode({ v: 1 }), /expected a msgpack array/],
    ];
    for (const [what, bytes, re] of bad) {
      let error: unknown;
      try {
        new FrameDecoder(1000).push(bytes);
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(WireError);
      expect((error as Error).message, what).toMatch(re);
    }
  });

  it('an unknown extension code (a newer peer) is skipped; a format this build does not read is refused with a sentence', () => {
    const [f] = frames(encode([99, { v: 7, anything: [1, { deep: new Uint8Array(3) }] }]));
    expect(f).toMatchObject({ type: 'extension', code: 99 });
    expect(decodeExtension(99, (f as { payload: Uint8Array }).payload)).toBeUndefined();
    const newer = frames(encode([19, { v: 2, iid: 1 }]))[0] as { code: number; payload: Uint8Array };
    expect(() => decodeExtension(newer.code, newer.payload)).toThrow(ExtensionError);
    expect(() => decodeExtension(newer.code, newer.payload)).toThrow(/snapshot_get in format 2, newer than this build reads \(1–1\): upgrade this process/);
    const older = frames(encode([19, { v: 0, iid: 1 }]))[0] as { code: number; payload: Uint8Array };
    expect(() => decodeExtension(older.code, older.payload)).toThrow(/format 0, older than this build reads \(1–1\): upgrade that peer/);
    const wrong = frames(encode([19, { v: 1, iid: -1, sum, offset: 0, length: 1 }]))[0] as { code: number; payload: Uint8Array };
    expect(() => decodeExtension(wrong.code, wrong.payload)).toThrow(/'iid' must be a whole number/);
    // Leadership's state in an offer is checked field by field.
    const offer = { v: 1, iid: 9, size: 1, sum, reports: [] };
    for (const [master, re] of [
      ['x', /'master' must be a map/],
      [{ lastOp: 5, version: 6, master: 1, maxOpenLimit: 0 }, /'master' has version 6 after its last operation 5/],
      [{ lastOp: 5, version: 5, master: 300, maxOpenLimit: 0 }, /'master\.master' must be a proposer id from 0 to 255 or nil/],
      [{ lastOp: 5, version: 5, master: 1 }, /'maxOpenLimit' must be a whole number/],
    ] as const) {
      const f = frames(encode([18, { ...offer, master }]))[0] as { code: number; payload: Uint8Array };
      expect(() => decodeExtension(f.code, f.payload)).toThrow(re);
    }
    // An offer of a build before leadership's state (or with leadership off) has none.
    const plain = frames(encode([18, offer]))[0] as { code: number; payload: Uint8Array };
    expect(decodeExtension(plain.code, plain.payload)).not.toHaveProperty('master');
  });
});

describe('accepted_digest from hostile bytes', () => {
  const good = { v: 1, aid: 1, iid: 7, b: 21, vb: 21, n: 64, d1: 123, d2: 456 };
  const decodeFrame = (payload: object) => {
    const f = frames(encode([23, payload]))[0] as { code: number; payload: Uint8Array };
    return decodeExtension(f.code, f.payload);
  };

  it('decodes a well-formed digest vote with its fields named as the core names them', () => {
    expect(decodeFrame(good)).toEqual({ type: 'accepted_digest', aid: 1, iid: 7, ballot: 21, valueBallot: 21, size: 64, d1: 123, d2: 456 });
  });

  it.each([
    ['an acceptor id past 255', { aid: 256 }, /'aid' must be a whole number from 0 to 255/],
    ['a negative acceptor id', { aid: -1 }, /'aid' must be a whole number/],
    ['instance 0', { iid: 0 }, /'iid' must be a whole number from 1 to 4294967295/],
    ['an instance past uint32', { iid: 2 ** 32 }, /'iid' must be a whole number/],
    ['a value ballot 0 (nothing accepted)', { vb: 0 }, /'vb' must be a whole number from 1/],
    ['a ballot past uint32', { b: 2 ** 32 }, /'b' must be a whole number/],
    ['a fractional size', { n: 1.5 }, /'n' must be a whole number/],
    ['a digest half as bytes', { d1: new Uint8Array(4) }, /'d1' must be a whole number/],
    ['a digest half past uint32', { d2: 2 ** 32 }, /'d2' must be a whole number/],
    ['a missing digest half', { d2: undefined }, /'d2' must be a whole number/],
    ['a string as instance', { iid: '7' }, /'iid' must be a whole number/],
    ['a nil as acceptor', { aid: null }, /'aid' must be a whole number/],
  ] as const)('refuses %s with a sentence naming the field', (_what, change, re) => {
    expect(() => decodeFrame({ ...good, ...change })).toThrow(ExtensionError);
    expect(() => decodeFrame({ ...good, ...change })).toThrow(re);
  });

  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const digestVote = fc.record({ aid: fc.integer({ min: 0, max: 255 }), iid: fc.integer({ min: 1, max: 0xffff_ffff }), ballot: u32, valueBallot: fc.integer({ min: 1, max: 0xffff_ffff }), size: u32, d1: u32, d2: u32 });

  it('is written byte for byte as @msgpack/msgpack writes its map, and read back whatever the order of its keys', () => {
    fc.assert(
      fc.property(digestVote, fc.integer({ min: 0, max: 7 }), (f, turn) => {
        const msg: ExtensionMessage = { type: 'accepted_digest', ...f };
        const map = { v: 1, aid: f.aid, iid: f.iid, b: f.ballot, vb: f.valueBallot, n: f.size, d1: f.d1, d2: f.d2 };
        expect(encodeExtension(msg)).toEqual(encode([23, map]));
        // Another writer may put the keys in another order.
        const entries = Object.entries(map);
        expect(decodeFrame(Object.fromEntries([...entries.slice(turn), ...entries.slice(0, turn)]))).toEqual(msg);
      }),
      { numRuns: 500 },
    );
  });

  it('a vote in another layout than ours (a key more, a float, a uint64) is read the generic way, with the same result or the same sentence', () => {
    const f = frames(encode([23, { ...good, x: 1 }]))[0] as { code: number; payload: Uint8Array };
    expect(decodeExtension(f.code, f.payload)).toEqual(decodeFrame(good));
    // 7 as a uint64 (0xcf) and as a float64 that is a whole number: msgpack, not our layout.
    const floats = new Encoder({ forceIntegerToFloat: true }).encode(good);
    expect(floats[3]).toBe(0xcb); // after the map header and the key "v"
    expect(decodeExtension(23, floats)).toEqual(decodeFrame(good));
    const wide = encode(good, { useBigInt64: true });
    const uint64 = encode({ ...good, iid: 7n }, { useBigInt64: true });
    expect(uint64.length).toBeGreaterThan(wide.length);
    expect(decodeExtension(23, uint64)).toEqual(decodeFrame(good));
  });

  it('reads any payload exactly as the generic path does: the same vote, or the same sentence', () => {
    // With a key of no meaning added, a payload always goes the generic way (our layout has eight keys).
    const outcome = (payload: Uint8Array): unknown => {
      try {
        return decodeExtension(23, payload);
      } catch (e) {
        return e instanceof ExtensionError ? e.message : e;
      }
    };
    const field = fc.oneof(u32, fc.integer({ min: -5, max: 300 }), fc.constant(2 ** 32), fc.double(), fc.constant(null), fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('v', 'aid', 'iid', 'b', 'vb', 'n', 'd1', 'd2'), field), fc.boolean(), (d, valid) => {
        const m: Record<string, unknown> = valid ? { ...good, ...Object.fromEntries(Object.entries(d).filter(([, x]) => typeof x === 'number' && Number.isInteger(x))) } : d;
        expect(outcome(encode(m))).toEqual(outcome(encode({ ...m, zz: 0 })));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a newer format, and a payload without a format version', () => {
    expect(() => decodeFrame({ ...good, v: 2 })).toThrow(/accepted_digest in format 2, newer than this build reads/);
    expect(() => decodeFrame({ ...good, v: undefined })).toThrow(/no format version 'v'/);
  });

  it('never throws anything but ExtensionError on arbitrary payloads', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('v', 'aid', 'iid', 'b', 'vb', 'n', 'd1', 'd2', 'x'), fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.uint8Array({ maxLength: 8 }))), (payload) => {
        try {
          decodeFrame(payload);
        } catch (e) {
          if (!(e instanceof ExtensionError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});

it('one shared encoder and decoder: each encoded message keeps its own bytes, and a payload refused halfway does not spoil the next decode', () => {
  // The generic encoder and the digest vote's scratch: the next message is built where the first was.
  for (const [a, b] of [
    [EXAMPLES[0], { type: 'hello', version: '9.9.9', role: 'client', id: -1, features: ['x'] }],
    [EXAMPLES.find((m) => m.type === 'accepted_digest'), { type: 'accepted_digest', aid: 0, iid: 1, ballot: 1, valueBallot: 1, size: 0, d1: 1, d2: 1 }],
  ] as [ExtensionMessage, ExtensionMessage][]) {
    const first = encodeExtension(a);
    const copy = first.slice();
    encodeExtension(b);
    expect(first).toEqual(copy);
    expect(decoded(frames(first)[0] as Frame)).toEqual(a);
  }
  // A map cut off in its middle: msgpack refuses it, and the generic decoder must start afresh next time.
  const whole = encode({ v: 1, aid: 2, iid: 3, b: 4, vb: 4, n: 5, d1: 6, d2: 7, zz: 0 });
  expect(() => decodeExtension(23, whole.subarray(0, whole.length - 3))).toThrow(ExtensionError);
  expect(decodeExtension(23, whole)).toEqual({ type: 'accepted_digest', aid: 2, iid: 3, ballot: 4, valueBallot: 4, size: 5, d1: 6, d2: 7 });
});

it('hello carries the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(VERSION).toBe(pkg.version);
});

describe('hello negotiation', () => {
  const servers: Server[] = [];
  const nets: Network[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(nets.splice(0).map((n) => n.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  const hello = (role: HelloMsg['role'], id: number): HelloMsg => ({ type: 'hello', version: 'test', role, id, features: ['snapshots'] });

  it('two libpaxos-ts processes greet each other, then exchange extension messages both ways', async () => {
    const got: [string, ExtensionMessage][] = [];
    const [a, b] = await withFreePorts(1, async ([port]) => {
      const addr = { host: '127.0.0.1', port: port as number, where: 'test', name: 'replica-0' };
      const listener = new Network({ listen: addr, nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, log: silentLogger, onMessage: () => undefined, hello: hello('replica', 0), onExtension: (from, m) => got.push([`listener from ${from}`, m]) });
      await listener.start();
      nets.push(listener);
      const dialler = new Network({ dial: [addr], nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, log: silentLogger, onMessage: () => undefined, hello: hello('learner', -1), onExtension: (from, m) => got.push([`dialler from ${from}`, m]) });
      await dialler.start();
      nets.push(dialler);
      return [listener, dialler];
    });
    await waitFor(() => b?.extensionPeers('snapshots').length === 1, 5000, 'the listener’s hello');
    const query: ExtensionMessage = { type: 'snapshot_query', need: 3, resume: undefined };
    expect(b?.toPeerExtension(0, query)).toBe(true);
    await waitFor(() => got.length === 1, 5000, 'the query');
    const [who, msg] = got[0] as [string, ExtensionMessage];
    expect(msg).toEqual(query);
    const incoming = Number(/from (\d+)/.exec(who)?.[1]);
    expect(a?.toPeerExtension(incoming, { type: 'snapshot_offer', iid: 0, size: 0, sum, reports: [] })).toBe(true);
    await waitFor(() => got.length === 2, 5000, 'the offer');
    expect(got[1]?.[0]).toBe('dialler from 0');
  }, 15_000);

  it('an acceptor sends its accepted as a digest only to peers whose hello offers accepted-digests, and only from accepted-digests-min-value-size up; others get LibPaxos3 bytes, and a digest on an incoming connection is dropped', async () => {
    const ext: ExtensionMessage[] = [];
    const { net, port } = await withFreePorts(1, async ([p]) => {
      const n = new Network({
        listen: { host: '127.0.0.1', port: p as number, where: 't', name: 'acceptor-0' },
        nodelay: true,
        maxValueSize: 1 << 20,
        maxQueuedBytes: 1 << 24,
        log: silentLogger,
        onMessage: () => undefined,
        hello: { type: 'hello', version: 'test', role: 'acceptor', id: 0, features: [] },
        acceptedDigests: true,
        acceptedDigestsMinValueSize: 100,
        onExtension: (_from, m) => ext.push(m),
      });
      await n.start();
      nets.push(n);
      return { net: n, port: p as number };
    });
    const peer = (first?: HelloMsg) => {
      const c = createConnection({ host: '127.0.0.1', port });
      sockets.push(c);
      const bytes: Buffer[] = [];
      c.on('data', (d: Buffer) => bytes.push(d));
      if (first !== undefined) c.write(encodeExtension(first));
      return { c, frames: () => new FrameDecoder(1 << 20).push(Buffer.concat(bytes)), raw: () => Buffer.concat(bytes) };
    };
    const cPeer = peer();
    const plain = peer({ type: 'hello', version: 'test', role: 'learner', id: -1, features: [] });
    const taker = peer({ type: 'hello', version: 'test', role: 'replica', id: 1, features: ['accepted-digests'] });
    // Both hellos answered: the acceptor knows who takes digests.
    await waitFor(() => plain.frames().length === 1 && taker.frames().length === 1 && net.incomingCount === 3, 5000, 'the hellos');
    // One byte under the threshold (whole to everyone), then at it (a digest to the taker).
    const small: AcceptedMsg = { type: 'accepted', aid: 0, iid: 8, ballot: 21, valueBallot: 21, value: new Uint8Array(99).fill(2) };
    const accepted: AcceptedMsg = { type: 'accepted', aid: 0, iid: 9, ballot: 21, valueBallot: 21, value: new Uint8Array(100).fill(3) };
    net.toSubscribers(small);
    net.toSubscribers(accepted);
    net.flush();
    await waitFor(() => cPeer.raw().length >= encodeMessage(small).length + encodeMessage(accepted).length && plain.frames().length === 3 && taker.frames().length === 3, 5000, 'the accepted');
    // The C-style peer: LibPaxos3's accepted, byte for byte, and nothing else.
    expect(cPeer.raw()).toEqual(Buffer.concat([encodeMessage(small), encodeMessage(accepted)]));
    expect(plain.frames().slice(1)).toEqual([small, accepted]);
    expect(taker.frames()[1]).toEqual(small);
    const got = taker.frames()[2] as Frame;
    expect(got.type === 'extension' ? decodeExtension(got.code, got.payload) : got).toEqual(digestOf(accepted));
    // A digest vote names an acceptor: on a connection this process did not dial to it, it is dropped.
    taker.c.write(encodeExtension(digestOf(accepted)));
    await waitFor(() => net.stats().impostors === 1, 5000, 'the impostor to be counted');
    expect(ext).toEqual([]);
  }, 15_000);

  it('says when the connection to an acceptor comes up, and again when it comes back after a loss (a learner asks it for what it missed)', async () => {
    let last: Socket | undefined;
    let accepted = 0;
    const port = await withFreePorts(1, async ([p]) => {
      const server = createServer((s) => {
        sockets.push(s);
        last = s;
        accepted++;
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      return p as number;
    });
    const up: number[] = [];
    const addr = { host: '127.0.0.1', port, where: 't', name: 'acceptor-0' };
    const net = new Network({ dial: [addr], proposers: [addr], nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, redial: { firstMs: 20, maxMs: 100 }, log: silentLogger, onMessage: () => undefined, onAcceptorConnected: (peer) => up.push(peer) });
    await net.start();
    nets.push(net);
    await waitFor(() => up.length === 1, 5000, 'the connection');
    expect(up).toEqual([0]);
    last?.destroy(); // the acceptor drops it: the network redials
    await waitFor(() => up.length === 2, 5000, 'the connection again');
    expect(up).toEqual([0, 0]);
    // A connection dialled to a proposer (leadership's forwarding) is not an acceptor's.
    net.toProposer(0, { type: 'client_value', value: Uint8Array.of(1) });
    await waitFor(() => accepted === 3, 5000, 'the proposer connection');
    await new Promise((r) => setTimeout(r, 50));
    expect(up).toEqual([0, 0]);
  }, 15_000);

  it('a peer that does not say hello (C LibPaxos3) never receives an extension message, and our hello does not disturb it', async () => {
    // A stand-in for a C acceptor: it records every byte and answers nothing.
    const received: Buffer[] = [];
    const port = await withFreePorts(1, async ([p]) => {
      const server = createServer((s) => {
        sockets.push(s);
        s.on('data', (d: Buffer) => received.push(d));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      return p as number;
    });
    const net = new Network({ dial: [{ host: '127.0.0.1', port, where: 't', name: 'acceptor-0' }], nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, log: silentLogger, onMessage: () => undefined, hello: hello('learner', -1) });
    await net.start();
    nets.push(net);
    await waitFor(() => net.isUp(0), 5000, 'the connection');
    net.toAcceptors({ type: 'repeat', from: 1, to: 5 });
    net.flush();
    expect(net.toPeerExtension(0, { type: 'snapshot_query', need: 1, resume: undefined })).toBe(false);
    expect(net.extensionPeers()).toEqual([]);
    await waitFor(() => Buffer.concat(received).length >= encodeExtension(hello('learner', -1)).length + 4, 5000, 'bytes at the peer');
    const frames = new FrameDecoder(1 << 20).push(Buffer.concat(received));
    // Exactly our hello (which C LibPaxos3 ignores), then LibPaxos3's repeat: nothing else of ours.
    expect(frames.map((f) => (f.type === 'extension' ? `ext ${f.code}` : f.type))).toEqual(['ext 16', 'repeat']);

    // And a C-style client dialling one of ours (no hello) gets no extension message from it either.
    const got: number[] = [];
    const listener = await withFreePorts(1, async ([p]) => {
      const n = new Network({ listen: { host: '127.0.0.1', port: p as number, where: 't', name: 'replica-0' }, nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, log: silentLogger, onMessage: (from) => got.push(from), hello: hello('replica', 0) });
      await n.start();
      nets.push(n);
      return { n, port: p as number };
    });
    const c = createConnection({ host: '127.0.0.1', port: listener.port });
    sockets.push(c);
    const back: Buffer[] = [];
    c.on('data', (d: Buffer) => back.push(d));
    c.write(encodeMessage({ type: 'client_value', value: Uint8Array.of(1) }));
    await waitFor(() => got.length === 1, 5000, 'the client value');
    expect(listener.n.toPeerExtension(got[0] as number, { type: 'snapshot_offer', iid: 0, size: 0, sum, reports: [] })).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(back).length).toBe(0);
  }, 15_000);
});

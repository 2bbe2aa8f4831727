import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '@libpaxos/paxos-core';
import { parseConfig, silentLogger, startAcceptor, startLearner, startReplica, type Logger, type PaxosHandle } from '../src/index.js';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameDecoder, encodeMessage } from '../src/codec.js';
import { SUBMIT_ONLY_FEATURE, encodeExtension } from '../src/extensions.js';
import { DIGEST_MIN_VALUE_BYTES } from '../src/config.js';
import { Backoff, Network } from '../src/network.js';
import { tlsTransport } from '../src/transport.js';
import { TestCerts } from './certs.js';
import { ports, waitFor, withFreePorts } from './ports.js';

const handles: PaxosHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = performance.now();
  const stamp = (level: string, t: string) => lines.push(`${level} +${Math.round(performance.now() - at)}ms ${t}`);
  return { lines, log: { error: (t) => stamp('E', t), info: (t) => stamp('I', t), debug: () => undefined } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The CA, certificate and key `certs` made for `file`, as the TLS options take them. */
function material(certs: TestCerts, file: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path(`${file}.crt`)), key: readFileSync(certs.path(`${file}.key`)) };
}

/** What every Network of these tests shares. */
const BASE = { nodelay: true, maxValueSize: 1 << 20, maxQueuedBytes: 1 << 24, log: silentLogger, onMessage: () => undefined } as const;

/** Starts `server` on 127.0.0.1:`port`. */
function listenOn(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** A plain server on a free port of this worker's range (retried on EADDRINUSE); resolves to the port. */
function listenOnFreePort(server: Server): Promise<number> {
  return withFreePorts(1, async ([p]) => {
    await listenOn(server, p as number);
    return p as number;
  });
}

describe('redial', () => {
  it('starts at 50 ms and doubles up to LibPaxos3’s 2 s; a success starts over', () => {
    const b = new Backoff(50, 2000);
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('a learner started before its acceptor connects soon after the acceptor is up, not up to 2 s later', async () => {
    const { log, lines } = capture();
    await withFreePorts(1, async ([port]) => {
      const config = parseConfig(`acceptor 0 127.0.0.1 ${port}\nverbosity error`, 'test.conf');
      const learner = await startLearner({ config, log, onDeliver: () => undefined });
      handles.push(learner);
      // The first attempts fail; with LibPaxos3's fixed 2 s the next one would come at 2 s.
      await sleep(300);
      handles.push(await startAcceptor({ id: 0, config }));
    });
    await waitFor(() => lines.some((l) => /Connected to acceptor 0/.test(l)), 5000, 'the learner to connect');
    const ms = Number(/\+(\d+)ms Connected/.exec(lines.find((l) => /Connected/.test(l)) ?? '')?.[1]);
    expect(ms, lines.join('\n')).toBeLessThan(1500);
  }, 15_000);

  it('a replica that another replica dials and greets dials it back at once, not after its backoff', async () => {
    // Replicas started together dial each other before all listen; a refused dial used to wait
    // out its backoff (50, 100, 200, 400 ms…), and the leader's first instances with it.
    const replica = (id: number, p: number[], firstMs: number) =>
      new Network({
        ...BASE,
        self: id,
        listen: { host: '127.0.0.1', port: p[id] as number, where: `test:${id + 1}`, name: `replica-${id}` },
        dial: p.map((port, k) => ({ host: '127.0.0.1', port, where: `test:${k + 1}`, name: `replica-${k}` })),
        redial: { firstMs, maxMs: 2 * firstMs },
        hello: { type: 'hello', version: 'test', role: 'replica', id, features: [] },
      });
    const nets: Network[] = [];
    try {
      const early = await withFreePorts(2, async (p) => {
        // Replica 0 starts alone: its dial to replica 1 is refused and waits 30 s for the next
        // (longer than the test: only replica 1's hello can explain a dial within it).
        const r0 = replica(0, p, 30_000);
        const r1 = replica(1, p, 30_000);
        try {
          await r0.start();
          await sleep(300);
          await r1.start();
        } catch (e) {
          // Ports taken: both closed, and withFreePorts tries others.
          await Promise.all([r0.close(), r1.close()]);
          throw e;
        }
        nets.push(r0, r1);
        return r0;
      });
      const started = performance.now();
      await waitFor(() => early.isUp(1), 3000, 'replica 0 to dial replica 1 again well before its 30 s backoff');
      expect(performance.now() - started).toBeLessThan(3000);
      expect(nets[1]?.isUp(0)).toBe(true);
    } finally {
      await Promise.all(nets.map((n) => n.close()));
    }
  }, 15_000);
});

/**
 * Replica 0 of two, alone: its dial to replica 1's port is refused and waits for a 30 s backoff
 * (longer than any test here: a dial within one is a hello's doing).
 * `before(greet, port1)` runs once it is up (inside the port retry: a taken port starts again);
 * then a plain server may take replica 1's port (`listen`) and count the connections replica 0
 * makes to it (a TLS dial counts too: its handshake then hangs, as the server never answers), and `greet`
 * says hello to replica 0 as replica 1 or a learner, on a socket of its own. With `tls`, replica 0
 * speaks mutual TLS, and `greet` connects with the certificate `tls.certs` made for `as`.
 */
async function aloneReplicaZero(
  before: (greet: (role: 'learner' | 'replica') => Promise<void>, listen: () => Promise<void>, dialledEarly: () => Promise<void>) => Promise<void>,
  tls?: { readonly certs: TestCerts; readonly as: () => string },
) {
  // Replica 0's debug lines: it says so right before it dials early (the dial's connect() follows
  // in a nextTick, before any timer or read of the test's can run).
  const debug: string[] = [];
  const log = { error: () => undefined, info: () => undefined, debug: (t: string) => debug.push(t) };
  const dialledEarly = async (): Promise<void> => {
    for (let i = 0; i < 2000 && !debug.some((t) => t.includes('dialled this process: dialling it now')); i++) await sleep(1);
    expect(debug.join('\n')).toContain('dialled this process: dialling it now');
  };
  const accepted: Socket[] = [];
  /** When each connection to replica 1's port was accepted (`performance.now()`). */
  const acceptedAt: number[] = [];
  const server = createServer((s) => {
    accepted.push(s);
    acceptedAt.push(performance.now());
    s.on('error', () => undefined);
  });
  const greeters: Socket[] = [];
  const greetAt = (port: number, role: 'learner' | 'replica') =>
    new Promise<void>((resolve, reject) => {
      const hello = () => {
        s.write(encodeExtension({ type: 'hello', version: 'test', role, id: 1, features: [] }));
        resolve();
      };
      const s =
        tls === undefined
          ? connect(port, '127.0.0.1', hello)
          : tlsConnect({ host: '127.0.0.1', port, ...material(tls.certs, tls.as()), checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, hello);
      s.on('error', reject);
      greeters.push(s);
    });
  const { net, ports } = await withFreePorts(2, async (p) => {
    const n = new Network({
      ...BASE,
      log,
      self: 0,
      listen: { host: '127.0.0.1', port: p[0] as number, where: 'test:1', name: 'replica-0' },
      dial: p.map((port, k) => ({ host: '127.0.0.1', port, where: `test:${k + 1}`, name: `replica-${k}` })),
      redial: { firstMs: 30_000, maxMs: 60_000 },
      hello: { type: 'hello', version: 'test', role: 'replica', id: 0, features: [] },
      ...(tls !== undefined ? { transport: tlsTransport({ name: 'replica-0', ...material(tls.certs, 'replica-0') }, new Set(['replica-0', 'replica-1', 'learner', 'client'])) } : {}),
    });
    try {
      await n.start();
      await sleep(200);
      await before(
        (role) => greetAt(p[0] as number, role),
        () => listenOn(server, p[1] as number),
        dialledEarly,
      );
    } catch (e) {
      // A port taken: withFreePorts tries others (anything else fails the test, all closed).
      for (const s of greeters.splice(0)) s.destroy();
      await n.close();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
      throw e;
    }
    return { net: n, ports: p };
  });
  return {
    r0: net,
    accepted,
    acceptedAt,
    greet: (role: 'learner' | 'replica') => greetAt(ports[0] as number, role),
    close: async () => {
      for (const s of [...greeters, ...accepted]) s.destroy();
      await net.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('dialling back at once', () => {
  it('only for a hello that says replica: one from a learner leaves the backoff as it is', async () => {
    const f = await aloneReplicaZero((_greet, listen) => listen());
    try {
      await f.greet('learner');
      await sleep(700);
      expect(f.accepted).toHaveLength(0);
      await f.greet('replica');
      await waitFor(() => f.accepted.length === 1 && f.r0.isUp(1), 2000, 'replica 0 to dial replica 1 on its hello');
    } finally {
      await f.close();
    }
  }, 15_000);

  it('under TLS, only on a connection whose certificate names that replica: a learner\'s saying it is replica 1 is ignored', async () => {
    const certs = new TestCerts().make('replica-0', 'replica-0').make('replica-1', 'replica-1').make('learner', 'learner');
    let as = 'learner';
    try {
      const f = await aloneReplicaZero((_greet, listen) => listen(), { certs, as: () => as });
      try {
        await f.greet('replica');
        await sleep(700);
        expect(f.accepted).toHaveLength(0);
        as = 'replica-1';
        await f.greet('replica');
        await waitFor(() => f.accepted.length === 1, 3000, "replica 0 to dial replica 1 on the hello of replica 1's certificate");
      } finally {
        await f.close();
      }
    } finally {
      certs.remove();
    }
  }, 20_000);

  it('hellos over and over make it dial no more often than every 50 ms', async () => {
    // Replica 1's port takes each dial and drops it at once: every dial is counted, the backoff
    // (30 s after a success) never fires in the test, and only hellos make replica 0 dial.
    const f = await aloneReplicaZero((_greet, listen) => listen());
    try {
      const started = performance.now();
      let hellos = 0;
      for (let i = 0; i < 40 && performance.now() - started < 2000; i++, hellos++) {
        for (const s of f.accepted) s.destroy();
        await f.greet('replica');
        await sleep(5);
      }
      await sleep(100);
      const ms = performance.now() - started;
      for (const s of f.accepted) s.destroy();
      expect(hellos).toBeGreaterThan(10);
      // One dial per 50 ms at most, the first at once; without the limit each hello would dial.
      expect(f.accepted.length).toBeGreaterThanOrEqual(2);
      expect(f.accepted.length).toBeLessThanOrEqual(Math.floor(ms / 50) + 1);
    } finally {
      await f.close();
    }
  }, 15_000);

  it('a hello just after such a dial was refused makes the next dial come 50 ms after it, not after the backoff', async () => {
    let firstHello = 0;
    const f = await aloneReplicaZero(async (greet, listen, dialledEarly) => {
      // Replica 1's hello while nothing listens on its port yet: replica 0 dials at once, is
      // refused, and its backoff says 30 s.
      await greet('replica');
      firstHello = performance.now();
      await dialledEarly();
      await listen();
    });
    try {
      // A second hello, most likely within 50 ms of that dial: the next comes 50 ms after it.
      await f.greet('replica');
      const secondHello = performance.now();
      await waitFor(() => f.accepted.length === 1 && f.r0.isUp(1), 3000, 'replica 0 to dial replica 1 again about 50 ms after its last dial');
      // Not at once (the dial before it began after the first hello was sent): a dial at the second
      // hello would come well within 50 ms of the first. Only a machine too slow to send the second
      // hello within 45 ms leaves nothing to tell apart.
      if (secondHello - firstHello < 45) expect(f.acceptedAt[0] as number).toBeGreaterThanOrEqual(firstHello + 45);
    } finally {
      await f.close();
    }
  }, 15_000);
});

describe('connection log lines', () => {
  it('a learner with no acceptor up says why once per peer, and once that none is reachable', async () => {
    const { log, lines } = capture();
    // Ports nothing listens on (taken from this worker's range, never started).
    const p = ports(3);
    const config = parseConfig(p.map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
    handles.push(await startLearner({ config, log, onDeliver: () => undefined }));
    await sleep(4500);
    for (let k = 0; k < 3; k++) {
      const about = lines.filter((l) => l.includes(`acceptor ${k} (127.0.0.1:${p[k]})`));
      expect(about, lines.join('\n')).toHaveLength(1);
      expect(about[0]).toMatch(new RegExp(`^I \\+\\d+ms Cannot connect to acceptor ${k} \\(127\\.0\\.0\\.1:${p[k]}\\): connection refused: nothing listens at that address \\(ECONNREFUSED\\); retrying every 2 s at most$`));
    }
    expect(lines.filter((l) => /No acceptor is reachable \(none of the 3 in the config answers\)/.test(l))).toHaveLength(1);
    expect(lines).toHaveLength(4);
  }, 15_000);

  it('an orderly close logs nothing alarming; the peer says it lost the connection once', async () => {
    const logs = [capture(), capture()];
    const [r0, r1] = await withFreePorts(2, async (p) => {
      const config = parseConfig(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
      const started = [];
      for (let id = 0; id < 2; id++) started.push(await startReplica({ id, config, log: (logs[id] as ReturnType<typeof capture>).log }));
      return started;
    });
    if (r0 === undefined || r1 === undefined) throw new Error('replicas did not start');
    handles.push(r1);
    await waitFor(() => logs.every((l) => l.lines.some((x) => /Connected to acceptor/.test(x))), 5000, 'both replicas to connect');
    r0.submit(new TextEncoder().encode('one value'));
    const before = logs[0]?.lines.length ?? 0;
    await r0.close();
    await sleep(300);
    // (A count of start-up timeouts may still be written: a summary, not an alarm.)
    const after = logs[0]?.lines.slice(before) ?? [];
    expect(after.filter((l) => l.startsWith('E ') || /lost|Cannot connect|reconnect|retry|fail/i.test(l))).toEqual([]);
    // The replica left behind reports the loss, then stays quiet while it redials (under 1 s).
    expect(logs[1]?.lines.filter((l) => /lost|Cannot connect/.test(l))).toHaveLength(1);
    expect(logs[1]?.lines.find((l) => /lost/.test(l))).toMatch(/Connection to acceptor 0 \(127\.0\.0\.1:\d+\) lost \(closed by the peer\); reconnecting/);
  }, 15_000);
});

describe('write queue', () => {
  it('writes what was queued in order: the hello first on every connect, then what waited, then each turn in one write', async () => {
    const received: string[][] = [];
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      const frames: string[] = [];
      received.push(frames);
      sockets.push(s);
      const decoder = new FrameDecoder(1 << 20);
      s.on('data', (chunk) => {
        for (const f of decoder.push(chunk)) frames.push(f.type === 'extension' ? `ext ${f.code}` : f.type === 'prepare' ? `prepare ${f.iid}` : f.type === 'accept' ? `accept ${f.iid} ${f.value.length}` : f.type);
      });
      s.on('error', () => undefined);
    });
    const port = await listenOnFreePort(server);
    const net = new Network({
      ...BASE,
      dial: [{ host: '127.0.0.1', port, where: 'test:1', name: 'acceptor-0' }],
      redial: { firstMs: 20, maxMs: 50 },
      hello: { type: 'hello', version: 'test', role: 'proposer', id: 0, features: [] },
    });
    try {
      // Queued while connecting: kept, and written after the hello.
      await net.start();
      for (let iid = 1; iid <= 3; iid++) net.toAcceptors({ type: 'prepare', iid, ballot: 11 });
      await waitFor(() => (received[0]?.length ?? 0) >= 4, 5000, 'the first connection to get 4 frames');
      // One turn's messages, of mixed sizes, in one flush (emptied slots reused).
      net.toAcceptors({ type: 'accept', iid: 1, ballot: 11, value: new Uint8Array(5000).fill(7) });
      net.toAcceptors({ type: 'prepare', iid: 4, ballot: 11 });
      net.toAcceptors({ type: 'accept', iid: 2, ballot: 11, value: new Uint8Array(3) });
      net.flush();
      await waitFor(() => (received[0]?.length ?? 0) >= 7, 5000, 'the first connection to get 7 frames');
      expect(received[0]).toEqual(['ext 16', 'prepare 1', 'prepare 2', 'prepare 3', 'accept 1 5000', 'prepare 4', 'accept 2 3']);
      // The peer drops the connection; what is queued while redialling goes after the new hello.
      sockets[0]?.destroy();
      await waitFor(() => !net.isUp(0), 5000, 'the connection to be seen down');
      net.toAcceptors({ type: 'prepare', iid: 5, ballot: 11 });
      await waitFor(() => (received[1]?.length ?? 0) >= 2, 5000, 'the second connection to get 2 frames');
      expect(received[1]).toEqual(['ext 16', 'prepare 5']);
    } finally {
      await net.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 15_000);
});

describe('broadcasts', () => {
  it('leave out a connection whose hello says it only submits values; every other connection still gets them', async () => {
    const acceptor = (port: number) =>
      new Network({
        ...BASE,
        listen: { host: '127.0.0.1', port, where: 'test:1', name: 'acceptor-0' },
        hello: { type: 'hello', version: 'test', role: 'acceptor', id: 0, features: [] },
        acceptedDigests: true,
      });
    let port = 0;
    const net = await withFreePorts(1, async ([p]) => {
      const n = acceptor(p as number);
      try {
        await n.start();
      } catch (e) {
        await n.close();
        throw e;
      }
      port = p as number;
      return n;
    });
    const sockets: Socket[] = [];
    /** A peer that dials the acceptor, says hello with `features`, and notes the frames it gets. */
    const peer = (features: string[]) => {
      const frames: string[] = [];
      const s = connect({ host: '127.0.0.1', port });
      sockets.push(s);
      s.on('error', () => undefined);
      s.write(encodeExtension({ type: 'hello', version: 'test', role: 'client', id: -1, features }));
      const decoder = new FrameDecoder(1 << 20);
      s.on('data', (chunk) => {
        for (const f of decoder.push(chunk)) frames.push(f.type === 'extension' ? `ext ${f.code}` : `${f.type} ${f.type === 'accepted' ? f.iid : ''}`);
      });
      return frames;
    };
    try {
      const submitter = peer([SUBMIT_ONLY_FEATURE]);
      const learner = peer(['accepted-digests']);
      const c = peer([]);
      // Each hello is answered: then the acceptor has read it.
      await waitFor(() => submitter.length >= 1 && learner.length >= 1 && c.length >= 1, 5000, 'the three hellos to be answered');
      // One value large enough to go as a digest to a peer that takes digests, one that goes whole to all.
      net.toSubscribers({ type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: new Uint8Array(DIGEST_MIN_VALUE_BYTES).fill(1) });
      net.toSubscribers({ type: 'accepted', aid: 0, iid: 2, ballot: 11, valueBallot: 11, value: new Uint8Array(64).fill(2) });
      net.flush();
      await waitFor(() => c.length >= 3 && learner.length >= 3, 5000, 'the other two to get both accepted');
      // Round trips on the other connections took place; one more turn for anything late.
      await sleep(50);
      expect(submitter).toEqual(['ext 16']);
      expect(c).toEqual(['ext 16', 'accepted 1', 'accepted 2']);
      // The digest path leaves it out too: the learner that takes digests gets one.
      expect(learner).toEqual(['ext 16', 'ext 23', 'accepted 2']);
    } finally {
      for (const s of sockets) s.destroy();
      await net.close();
    }
  }, 15_000);
});

describe('redialled connection', () => {
  it('starts decoding afresh: a frame cut off when the last connection died is not glued to the next', async () => {
    const accepted = (iid: number, size: number): Message => ({ type: 'accepted', aid: 0, iid, ballot: 11, valueBallot: 11, value: new Uint8Array(size).fill(iid) });
    const sockets: Socket[] = [];
    let connections = 0;
    // The acceptor's first connection dies in the middle of a frame; the second sends whole ones.
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      if (++connections === 1) {
        const bytes = encodeMessage(accepted(1, 3000));
        s.write(bytes.subarray(0, 40), () => s.destroy());
      } else {
        s.write(encodeMessage(accepted(2, 3000)));
        s.write(encodeMessage(accepted(3, 20)));
      }
    });
    const port = await listenOnFreePort(server);
    const got: Message[] = [];
    const { log, lines } = capture();
    const net = new Network({
      ...BASE,
      dial: [{ host: '127.0.0.1', port, where: 'test:1', name: 'acceptor-0' }],
      redial: { firstMs: 20, maxMs: 50 },
      log,
      onMessage: (_from, msg) => got.push(msg),
    });
    try {
      await net.start();
      await waitFor(() => got.length >= 2, 5000, 'the second connection’s two messages');
      expect(got).toEqual([accepted(2, 3000), accepted(3, 20)]);
      expect(lines.filter((l) => l.startsWith('E '))).toEqual([]);
    } finally {
      await net.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 15_000);
});

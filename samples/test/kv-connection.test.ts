/**
 * The memcached front end alone: real sockets into a KvServer whose backend is a state machine in
 * this process (no log). What a connection must keep whatever the backend does: replies in
 * order, per-key order of pipelined requests, noreply and quiet commands, never a dropped
 * connection for a bad line, limits with memcached's replies, flow control.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvStore, Rng, TextProtocol, type GetCommand, type TextRequest } from '@libpaxos/paxos-kv';
import { KvUnavailable, type KvBackend, type KvChannel } from '../src/kv/backend.js';
import { LocalBackend } from '../src/kv/local-backend.js';
import type { KvServer } from '../src/kv/server.js';
import { RawClient, latin1, startKvServer, str } from './kv-helpers.js';

const open: { servers: KvServer[]; clients: RawClient[] } = { servers: [], clients: [] };
afterEach(async () => {
  for (const c of open.clients.splice(0)) c.destroy();
  await Promise.all(open.servers.splice(0).map((s) => s.close(100)));
});

async function serve(backend: KvBackend = new LocalBackend(), extra: Partial<Parameters<typeof startKvServer>[0]> = {}): Promise<KvServer> {
  const s = await startKvServer({ backend, ...extra });
  open.servers.push(s);
  return s;
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  open.clients.push(c);
  return c;
}

/** What one memcached executing `input` one request after another would answer. */
function sequential(input: string): string {
  const p = new TextProtocol();
  const store = new KvStore();
  let out = '';
  for (const item of p.push(latin1(input))) {
    if (item.type === 'reply') out += str(item.bytes);
    else if (item.type === 'request') {
      const req = item.request as TextRequest;
      if (req.command.op === 'version' || req.command.op === 'verbosity' || req.command.op === 'stats' || req.command.op === 'noop' || req.command.op === 'quit') continue;
      out += str(p.encode(req, store.apply({ now: 1_700_000_000_000, command: req.command })));
    }
  }
  return out;
}

describe('kv-server front end: text protocol over a socket', () => {
  it('answers a pipelined burst in order, in one write or a byte at a time', async () => {
    const s = await serve();
    const input = 'set a 0 0 1\r\n1\r\nget a b\r\nincr a 5\r\nappend a 0 0 1\r\nx\r\nget a\r\ndelete a\r\nget a\r\nversion\r\n';
    const want = `${sequential(input)}VERSION 1.6.18-paxos-kv\r\n`;
    const c = await client(s.ports.port);
    expect(await c.ask(input, /VERSION .*\r\n$/)).toBe(want);
    const d = await client(s.ports.port);
    for (const ch of input) d.send(ch);
    expect(str(await d.until((b) => /VERSION .*\r\n$/.test(str(b))))).toBe(want);
  });

  it('keeps the order of pipelined requests on a key although the backend completes them out of order', async () => {
    // Every request takes 0–20 ms: without per-key order a later set could land first, or a get
    // could run before the set sent ahead of it.
    const rng = new Rng(7);
    const s = await serve(new LocalBackend({ latency: () => rng.int(20) }));
    let input = '';
    for (let i = 0; i < 300; i++) {
      const k = `k${rng.int(4)}`;
      const pick = rng.int(6);
      if (pick === 0) input += `set ${k} 0 0 ${String(i).length}\r\n${i}\r\n`;
      else if (pick === 1) input += `incr ${k} 3\r\n`;
      else if (pick === 2) input += `append ${k} 0 0 1\r\n7\r\n`;
      else if (pick === 3) input += `get ${k} k0 k3\r\n`;
      else if (pick === 4) input += `delete ${k}\r\n`;
      else input += rng.int(20) === 0 ? 'flush_all\r\n' : `add ${k} 0 0 1\r\n5\r\n`;
    }
    input += 'get k0 k1 k2 k3\r\nversion\r\n';
    const c = await client(s.ports.port);
    expect(await c.ask(input, /VERSION .*\r\n$/, 20_000)).toBe(`${sequential(input)}VERSION 1.6.18-paxos-kv\r\n`);
  });

  it('noreply: nothing comes back for a write, errors included, and the next request is answered', async () => {
    const s = await serve();
    const c = await client(s.ports.port);
    expect(await c.ask('set k 0 0 1 noreply\r\nv\r\nincr k 1 noreply\r\nget k\r\n', /END\r\n$/)).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
  });

  it('never drops the connection for bad input: unknown commands, bad numbers, long lines, oversized values', async () => {
    const s = await serve(undefined, { codec: { itemSizeMax: 2048 } });
    const c = await client(s.ports.port);
    expect(await c.ask('bogus\r\n')).toBe('ERROR\r\n');
    expect(await c.ask('set k abc 0 1\r\nv\r\n', /\r\n$/)).toMatch(/^CLIENT_ERROR bad command line format\r\n/);
    expect(await c.ask(`get ${'x'.repeat(251)}\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
    expect(await c.ask(`${'y'.repeat(5000)}\r\n`)).toBe('CLIENT_ERROR line too long\r\n');
    expect(await c.ask(`set big 0 0 4000\r\n${'z'.repeat(4000)}\r\n`)).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.ask('set k 0 0 1\r\nvv\r\n', /\r\n$/)).toMatch(/^CLIENT_ERROR bad data chunk\r\n/);
    expect(await c.ask('\x00\x01\xff\r\n')).toBe('ERROR\r\n');
    expect(await c.ask('set k 0 0 2\r\nok\r\nget k\r\n', /END\r\n$/)).toBe('STORED\r\nVALUE k 0 2\r\nok\r\nEND\r\n');
    expect(c.closed).toBe(false);
  });

  it('quit closes after the replies before it; a client that stops sending still gets every reply', async () => {
    const s = await serve();
    const c = await client(s.ports.port);
    c.send('set k 0 0 1\r\nv\r\nget k\r\nquit\r\nget k\r\n');
    expect(await c.closedByServer()).toBe('STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n');
    const d = await client(s.ports.port);
    d.send('get k\r\nset j 0 0 1\r\nw\r\n');
    d.end();
    expect(await d.closedByServer()).toBe('VALUE k 0 1\r\nv\r\nEND\r\nSTORED\r\n');
  });

  it('a client that sends without reading is throttled (the server stops reading), then answered in full', async () => {
    const s = await serve(new LocalBackend(), { maxInFlight: 8, maxUnsentBytes: 256 * 1024 });
    const c = await client(s.ports.port);
    const value = 'v'.repeat(100);
    const n = 200_000; // 1.4 MB of requests, 24 MB of replies: more than the kernel's buffers hold
    c.socket.pause();
    c.send(`set k 0 0 ${value.length}\r\n${value}\r\n`);
    const gets = 'get k\r\n'.repeat(n);
    c.send(gets);
    await new Promise((r) => setTimeout(r, 500));
    const sent = `set k 0 0 ${value.length}\r\n`.length + value.length + 2 + gets.length;
    expect(s.counters.bytes_read).toBeLessThan(sent);
    c.socket.resume();
    const reply = `VALUE k 0 ${value.length}\r\n${value}\r\nEND\r\n`;
    const got = str(await c.until((b) => b.length >= 8 + n * reply.length, 30_000, `${n} replies`));
    expect(got.length).toBe(8 + n * reply.length);
    expect(got.startsWith(`STORED\r\n${reply}`) && got.endsWith(reply)).toBe(true);
    expect(s.counters.bytes_read).toBe(sent);
  });

  it('answers SERVER_ERROR in its turn when the backend cannot carry a request out, and goes on', async () => {
    const failing: KvBackend = {
      status: () => new LocalBackend().status(),
      open: (): KvChannel => ({
        write: () => Promise.reject(new KvUnavailable('no quorum answered within 30 s; the request may or may not take effect', true)),
        read: (cmd: GetCommand) => ({ result: { status: 'values', hits: cmd.keys.map((key) => ({ key, flags: 0, cas: 1, value: latin1('x') })) }, local: true }),
        close: () => undefined,
      }),
    };
    const s = await serve(failing);
    const c = await client(s.ports.port);
    expect(await c.ask('set k 0 0 1 noreply\r\nv\r\nget k\r\n', /END\r\n$/)).toBe(
      'SERVER_ERROR no quorum answered within 30 s; the request may or may not take effect\r\nVALUE k 0 1\r\nx\r\nEND\r\n',
    );
  });

  it('refuses connections beyond --max-connections with memcached\'s line, and counts them', async () => {
    const s = await serve(undefined, { maxConnections: 2 });
    const a = await client(s.ports.port);
    const b = await client(s.ports.port);
    expect(await a.ask('version\r\n')).toMatch(/^VERSION/);
    expect(await b.ask('version\r\n')).toMatch(/^VERSION/);
    const c = await client(s.ports.port);
    expect(await c.closedByServer()).toBe('ERROR Too many open connections\r\n');
    const stats = await a.ask('stats\r\n', /END\r\n$/);
    expect(stats).toContain('STAT rejected_connections 1\r\n');
    expect(stats).toContain('STAT curr_connections 2\r\n');
    expect(stats).toContain('STAT max_connections 2\r\n');
  });

  it('stats: memcached\'s standard fields with real counts', async () => {
    const s = await serve();
    const c = await client(s.ports.port);
    await c.ask('set a 0 0 3\r\nabc\r\nset b 0 0 1\r\nx\r\nget a b c\r\ndelete b\r\nincr a 1\r\n', /\r\n(CLIENT_ERROR[^\r]*|\d+)\r\n$/);
    const stats = Object.fromEntries(
      (await c.ask('stats\r\n', /END\r\n$/))
        .split('\r\n')
        .filter((l) => l.startsWith('STAT '))
        .map((l) => l.slice(5).split(' ', 2) as [string, string]),
    );
    for (const k of ['pid', 'uptime', 'time', 'version', 'pointer_size', 'rusage_user', 'rusage_system', 'max_connections', 'curr_connections', 'total_connections', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'bytes_read', 'bytes_written', 'limit_maxbytes', 'threads', 'bytes', 'curr_items', 'total_items', 'evictions', 'paxos_leader', 'paxos_last_applied']) {
      expect(stats, k).toHaveProperty(k);
    }
    expect(stats.pid).toBe(String(process.pid));
    expect(Math.abs(Number(stats.time) - Date.now() / 1000)).toBeLessThan(5);
    expect(stats.version).toBe('1.6.18-paxos-kv');
    expect(stats).toMatchObject({ cmd_get: '3', get_hits: '2', get_misses: '1', cmd_set: '2', curr_items: '1', total_items: '2', delete_hits: '1', incr_misses: '0', curr_connections: '1', total_connections: '1' });
    expect(Number(stats.bytes)).toBeGreaterThan(3);
    expect(Number(stats.bytes_read)).toBeGreaterThan(60);
    expect(await c.ask('stats reset\r\n')).toBe('RESET\r\n');
    expect(await c.ask('stats nonesuch\r\n')).toBe('ERROR\r\n');
    expect(await c.ask('stats settings\r\n', /END\r\n$/)).toContain('STAT item_size_max 1048576\r\n');
  });
});

describe('kv-server front end: stats paxos on a large store', () => {
  /** A backend whose digest takes a while (a large store's is taken a chunk an event-loop turn). */
  class SlowDigest extends LocalBackend {
    constructor(private readonly digestOf: () => Promise<string>) {
      super();
    }
    override status(): ReturnType<LocalBackend['status']> {
      return { ...super.status(), digest: this.digestOf };
    }
  }

  it('answers stats paxos once its digest is done, and the pipelined replies after it wait their turn', async () => {
    const s = await serve(new SlowDigest(() => new Promise((r) => setTimeout(() => r('0123456789abcdef'), 100))));
    const c = await client(s.ports.port);
    const out = await c.ask('stats paxos\r\nset a 0 0 1\r\n1\r\nget a\r\nversion\r\n', /VERSION .*\r\n$/);
    expect(out).toMatch(/^STAT paxos_replica 0\r\nSTAT paxos_leader_id 0\r\nSTAT paxos_clock_ms \d+\r\nSTAT paxos_last_applied 0\r\nSTAT paxos_leader 1\r\nSTAT paxos_digest 0123456789abcdef\r\nEND\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nVERSION \S+\r\n$/);
  });

  it('a digest that fails is SERVER_ERROR in its turn, and the connection goes on', async () => {
    const s = await serve(new SlowDigest(() => Promise.reject(new Error('no digest today'))));
    const c = await client(s.ports.port);
    expect(await c.ask('stats paxos\r\nversion\r\n', /VERSION .*\r\n$/)).toMatch(/^SERVER_ERROR internal error: no digest today\r\nVERSION \S+\r\n$/);
  });
});

describe('kv-server front end: binary protocol over a socket', () => {
  const header = (opcode: number, key: string, extras: number[], value: string, opaque: number, cas = 0n): Uint8Array => {
    const k = latin1(key);
    const v = latin1(value);
    const b = new Uint8Array(24 + extras.length + k.length + v.length);
    const dv = new DataView(b.buffer);
    dv.setUint8(0, 0x80);
    dv.setUint8(1, opcode);
    dv.setUint16(2, k.length);
    dv.setUint8(4, extras.length);
    dv.setUint32(8, extras.length + k.length + v.length);
    dv.setUint32(12, opaque);
    dv.setBigUint64(16, cas);
    b.set(extras, 24);
    b.set(k, 24 + extras.length);
    b.set(v, 24 + extras.length + k.length);
    return b;
  };
  const parse = (b: Uint8Array) => {
    const out: { opcode: number; status: number; opaque: number; value: string }[] = [];
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i + 24 <= b.length; ) {
      const body = dv.getUint32(i + 8);
      const ext = dv.getUint8(i + 4);
      const kl = dv.getUint16(i + 2);
      out.push({ opcode: dv.getUint8(i + 1), status: dv.getUint16(i + 6), opaque: dv.getUint32(i + 12), value: str(b.subarray(i + 24 + ext + kl, i + 24 + body)) });
      i += 24 + body;
    }
    return out;
  };
  const complete = (n: number) => (b: Uint8Array) => parse(b).length >= n;

  it('quiet commands stay silent on success, NOOP answers after them, opaques are echoed in order', async () => {
    const s = await serve(new LocalBackend({ latency: (op) => (op === 'set' ? 15 : 1) }));
    const c = await client(s.ports.port);
    const zero8 = [0, 0, 0, 0, 0, 0, 0, 0];
    c.send(header(0x11, 'k', zero8, 'v1', 1)); // SETQ
    c.send(header(0x09, 'missing', [], '', 2)); // GETQ miss: silent
    c.send(header(0x00, 'k', [], '', 3)); // GET after the SETQ on k
    c.send(header(0x0a, '', [], '', 4)); // NOOP
    const replies = parse(await c.until(complete(2)));
    expect(replies).toEqual([
      { opcode: 0x00, status: 0, opaque: 3, value: 'v1' },
      { opcode: 0x0a, status: 0, opaque: 4, value: '' },
    ]);
  });

  it('a packet with a bad magic closes the connection, as memcached does', async () => {
    const s = await serve();
    const c = await client(s.ports.port);
    c.send(header(0x0a, '', [], '', 1));
    expect(parse(await c.until(complete(1)))).toHaveLength(1);
    const bad = header(0x0a, '', [], '', 2);
    bad[0] = 0x42;
    c.send(bad);
    await c.closedByServer();
    expect(c.closed).toBe(true);
  });
});

describe('kv-server front end: read modes', () => {
  it('gets on the main port ask for linearizable reads, on the stale port for stale ones', async () => {
    const modes: string[] = [];
    const inner = new LocalBackend();
    const spy: KvBackend = {
      status: () => inner.status(),
      open: () => {
        const ch = inner.open();
        return { ...ch, read: (cmd, mode) => (modes.push(mode), ch.read(cmd, mode)) };
      },
    };
    const s = await serve(spy, { stale: true });
    expect(s.ports.stalePort).toBeDefined();
    const a = await client(s.ports.port);
    const b = await client(s.ports.stalePort as number);
    await a.ask('get x\r\n');
    await b.ask('get x\r\n');
    expect(modes).toEqual(['linearizable', 'stale']);
    expect(await b.ask('stats settings\r\n', /END\r\n$/)).toContain(`STAT paxos_stale_port ${s.ports.stalePort}\r\n`);
  });
});

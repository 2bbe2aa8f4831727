/**
 * kv-server as users run it: three replica processes on 127.0.0.1 driven by real memcached
 * clients (the npm `memcached` client on the text protocol, `memjs` on the binary one, and
 * libmemcached's conformance test `memccapable`), through a leader failure, a client connection
 * that drops mid-request, replicas whose clocks disagree, and bad input.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Memcached from 'memcached';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from './kv-helpers.js';
import { Proc, cleanUp, sleep, startListening, tempDir, writeConfig } from './procs.js';

afterAll(cleanUp);

interface Replica {
  readonly id: number;
  readonly proc: Proc;
  readonly port: number;
  readonly stalePort: number;
  /** Its command line (to start it again). */
  readonly argv: readonly string[];
}

/** Three kv-servers on fresh ports, each with a stale-read port; `args[i]` are extra flags of replica i. */
async function kvCluster(args: string[][] = [], conf: readonly string[] = []): Promise<Replica[]> {
  const dir = tempDir();
  const replicas = await startListening(
    9,
    (p) => {
      const path = writeConfig(dir, [...[0, 1, 2].map((i) => `replica ${i} 127.0.0.1 ${p[i]}`), 'leader yes', 'proposer-batch-max-values 1024', ...conf, ''].join('\n'));
      const value = [0, 1, 2].map((i) => {
        const port = p[3 + i] as number;
        const stalePort = p[6 + i] as number;
        const argv = [String(i), path, '--port', String(port), '--stale-port', String(stalePort), ...(args[i] ?? [])];
        return { id: i, port, stalePort, argv, proc: new Proc('kv-server', argv) };
      });
      return { procs: value.map((r) => r.proc), value };
    },
    (p) => /ready: memcached on/.test(p.stdout),
  );
  // Every replica knows the leader before a test starts (the first election takes a lease or so).
  for (const r of replicas) await until(async () => Number((await stats(r.port)).paxos_leader_id) >= 0, 15_000, `replica ${r.id} to know the leader`);
  return replicas;
}

/** Polls an async condition every 50 ms until true, failing after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** `stats` (or `stats <group>`) of a server, as a record. */
async function stats(port: number, group = ''): Promise<Record<string, string>> {
  const c = await RawClient.connect(port);
  try {
    const text = await c.ask(`stats${group === '' ? '' : ` ${group}`}\r\n`, /END\r\n$/, 5000);
    return Object.fromEntries(
      text
        .split('\r\n')
        .filter((l) => l.startsWith('STAT '))
        .map((l) => {
          const [, k, ...v] = l.split(' ');
          return [k as string, v.join(' ')];
        }),
    );
  } finally {
    c.destroy();
  }
}

async function leaderOf(replicas: readonly Replica[]): Promise<Replica> {
  let leader: Replica | undefined;
  await until(
    async () => {
      for (const r of replicas) if ((await stats(r.port, 'paxos')).paxos_leader === '1') leader = r;
      return leader !== undefined;
    },
    15_000,
    'a leader',
  );
  return leader as Replica;
}

/** One text request on a fresh connection; waits for a reply that matches `end`. */
async function once(port: number, request: string, end: RegExp = /\r\n$/): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    return await c.ask(request, end, 20_000);
  } finally {
    c.destroy();
  }
}

/** `get` of `keys` on a fresh connection, as "key=value" pairs in the order returned. */
async function values(port: number, keys: readonly string[]): Promise<string[]> {
  const text = await once(port, `get ${keys.join(' ')}\r\n`, /(^|\r\n)END\r\n$/);
  const out: string[] = [];
  const lines = text.split('\r\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^VALUE (\S+) \d+ \d+$/.exec(lines[i] as string);
    if (m !== null) out.push(`${m[1]}=${lines[++i]}`);
  }
  return out;
}

/** Runs a callback-style client call as a promise. */
function call<T>(fn: (done: (err: unknown, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(v))));
}

const quiet = { log: () => undefined };

describe('kv-server: a 3-replica cluster and real memcached clients', () => {
  let cluster: Replica[];
  let leader: Replica;
  let follower: Replica;
  let other: Replica;
  /** The replica a test's client talks to, and the two others. */
  const entry = (via: 'follower' | 'leader') => (via === 'leader' ? leader : follower);
  const others = (r: Replica) => cluster.filter((x) => x !== r);

  beforeAll(async () => {
    cluster = await kvCluster();
    leader = await leaderOf(cluster);
    [follower, other] = others(leader) as [Replica, Replica];
  }, 60_000);

  for (const via of ['follower', 'leader'] as const) {
    it(`the npm memcached client (text protocol) through the ${via}: every command, expiry and flush_all; the other replicas read each write at once`, async () => {
      const at = entry(via);
      const m = new Memcached(`127.0.0.1:${at.port}`, { retries: 0, timeout: 10_000, poolSize: 4 });
      const readers = others(at).map((r) => new Memcached(`127.0.0.1:${r.port}`, { retries: 0, timeout: 10_000 }));
      const everywhere = async (key: string) => Promise.all(readers.map((r) => call<unknown>((d) => r.get(key, d))));
      try {
        // 3 seconds, not 1: a loaded CI machine can take more than a second to answer the two reads
        // below (one of them through the log), and the item must still be alive when they run.
        expect(await call<boolean>((d) => m.set('ttl', 'short-lived', 3, d))).toBe(true);
        const ttlSet = Date.now();
        expect(await everywhere('ttl')).toEqual(['short-lived', 'short-lived']);
        expect(await call<boolean>((d) => m.set('greeting', 'hello', 0, d))).toBe(true);
        expect(await everywhere('greeting')).toEqual(['hello', 'hello']);
        await expect(call<boolean>((d) => m.add('greeting', 'again', 0, d))).rejects.toThrow(/Item is not stored/);
        expect(await call<boolean>((d) => m.append('greeting', ' world', d))).toBe(true);
        expect(await call<boolean>((d) => m.prepend('greeting', '> ', d))).toBe(true);
        expect(await everywhere('greeting')).toEqual(['> hello world', '> hello world']);
        const gets = await call<{ cas: string; greeting: string }>((d) => m.gets('greeting', d as never));
        expect(gets.greeting).toBe('> hello world');
        expect(await call<boolean>((d) => m.cas('greeting', 'swapped', gets.cas, 0, d))).toBe(true);
        // The same CAS unique again: the item changed since, so the compare-and-set is refused.
        expect(await call<boolean>((d) => m.cas('greeting', 'stale cas', gets.cas, 0, d))).toBe(false);
        expect(await everywhere('greeting')).toEqual(['swapped', 'swapped']);
        expect(await call<boolean>((d) => m.replace('greeting', 'replaced', 0, d))).toBe(true);
        expect(await call<boolean>((d) => m.set('n', 10, 0, d))).toBe(true);
        expect(await call<number | boolean>((d) => m.incr('n', 5, d))).toBe(15);
        expect(await call<number | boolean>((d) => m.decr('n', 20, d))).toBe(0);
        expect(await call<number | boolean>((d) => m.incr('missing-counter', 1, d))).toBe(false);
        expect(await call<boolean>((d) => m.touch('n', 100, ((err: unknown, v: boolean) => d(err, v)) as never))).toBe(true);
        // Pipelined on the client's pool: 50 writes at once, then one multi-get from another replica.
        await Promise.all(Array.from({ length: 50 }, (_, i) => call<boolean>((d) => m.set(`k${i}`, `v${i}`, 0, d))));
        const multi = await call<Record<string, unknown>>((d) => (readers[0] as Memcached).getMulti([...Array.from({ length: 50 }, (_, i) => `k${i}`), 'missing'], d));
        expect(Object.keys(multi)).toHaveLength(50);
        expect(multi.k42).toBe('v42');
        expect(await call<boolean>((d) => m.del('k42', d))).toBe(true);
        expect(await everywhere('k42')).toEqual([undefined, undefined]);
        // The 3-second item is gone everywhere once 3 s and a lease read's clock slack have passed.
        await sleep(Math.max(0, ttlSet + 4500 - Date.now()));
        expect(await call<unknown>((d) => m.get('ttl', d))).toBeUndefined();
        expect(await everywhere('ttl')).toEqual([undefined, undefined]);
        expect(await everywhere('greeting')).toEqual(['replaced', 'replaced']);
        expect(await call<boolean>((d) => m.flush(d as never))).toEqual([true]);
        expect(await everywhere('greeting')).toEqual([undefined, undefined]);
        expect(await call<Record<string, unknown>>((d) => m.getMulti(['n', 'k1', 'k49'], d))).toEqual({});
      } finally {
        m.end();
        for (const r of readers) r.end();
      }
    }, 60_000);

    it(`memjs (binary protocol) through the ${via}: set, get, add, replace, append, increment with an initial value, decrement, touch, delete, expiry, flush, stats`, async () => {
      const at = entry(via);
      const b = memjs.Client.create(`127.0.0.1:${at.port}`, { retries: 0, timeout: 10, logger: quiet });
      const readers = others(at).map((r) => memjs.Client.create(`127.0.0.1:${r.port}`, { retries: 0, timeout: 10, logger: quiet }));
      const everywhere = async (key: string) => Promise.all(readers.map(async (r) => (await r.get(key)).value?.toString() ?? null));
      try {
        expect(await b.set('bttl', 'brief', { expires: 1 })).toBe(true);
        const ttlSet = Date.now();
        expect(await b.set('bin', 'value', { expires: 0 })).toBe(true);
        expect(await everywhere('bin')).toEqual(['value', 'value']);
        expect(await b.add('bin', 'other')).toBe(false);
        expect(await b.replace('bin', 'replaced')).toBe(true);
        expect(await b.replace('nowhere', 'x')).toBe(false);
        expect(await b.append('bin', '!')).toBe(true);
        // Not memjs's prepend: memjs 1.3.2 sends it with append's opcode (0x0e). memccapable -b checks
        // binary prepend below.
        expect(await everywhere('bin')).toEqual(['replaced!', 'replaced!']);
        expect(await b.increment('counter', 3, { initial: 10 })).toEqual({ success: true, value: 10 });
        expect(await (readers[0] as memjs.Client).increment('counter', 3, {})).toEqual({ success: true, value: 13 });
        expect(await b.decrement('counter', 20, {})).toEqual({ success: true, value: 0 });
        expect(await b.touch('bin', 100)).toBe(true);
        expect(await b.touch('nowhere', 100)).toBe(false);
        expect(await b.delete('bin')).toBe(true);
        expect(await b.delete('bin')).toBe(false);
        expect(await everywhere('bin')).toEqual([null, null]);
        await sleep(Math.max(0, ttlSet + 2500 - Date.now()));
        expect((await b.get('bttl')).value).toBeNull();
        expect(await everywhere('bttl')).toEqual([null, null]);
        expect(await b.set('gone', 'soon')).toBe(true);
        expect(Object.values(await b.flush())).toEqual([true]);
        expect(await everywhere('gone')).toEqual([null, null]);
        expect(await everywhere('counter')).toEqual([null, null]);
        const st = await new Promise<Record<string, string> | null>((res) => b.stats((_e, _s, s) => res(s)));
        expect(st?.version).toBe('1.6.18-paxos-kv');
        expect(st?.paxos_leader).toBe(via === 'leader' ? '1' : '0');
        expect(Number(st?.paxos_last_applied)).toBeGreaterThan(0);
        expect(Number(st?.cmd_set)).toBeGreaterThan(0);
      } finally {
        b.close();
        for (const r of readers) r.close();
      }
    }, 60_000);
  }

  it('stale-port reads: served by that replica alone, at once for its own writes, soon for the others\'; the main port is linearizable', async () => {
    expect(await once(follower.port, 'set fresh 0 0 2\r\nok\r\n')).toBe('STORED\r\n');
    // The replica that took the write applied it before answering: its own stale read sees it.
    expect(await values(follower.stalePort, ['fresh'])).toEqual(['fresh=ok']);
    // Another replica's linearizable port sees it at once; its stale port once it has applied it.
    expect(await values(other.port, ['fresh'])).toEqual(['fresh=ok']);
    await until(async () => (await values(other.stalePort, ['fresh'])).length === 1, 5000, 'the stale read to see the write');
    expect((await stats(other.stalePort, 'settings')).paxos_stale_port).toBe(String(other.stalePort));
    // A stale read is this replica's alone; a linearizable get at a follower goes through the log,
    // which every replica applies (and counts).
    const gets = async () => Promise.all(cluster.map(async (r) => Number((await stats(r.port)).cmd_get)));
    const before = await gets();
    expect(await values(other.stalePort, ['fresh', 'nothing'])).toEqual(['fresh=ok']);
    const afterStale = await gets();
    expect(afterStale.map((n, i) => n - (before[i] as number))).toEqual(cluster.map((r) => (r === other ? 2 : 0)));
    expect(await values(other.port, ['fresh'])).toEqual(['fresh=ok']);
    await until(async () => (await gets()).every((n, i) => n - (afterStale[i] as number) === 1), 5000, 'every replica to apply the get');
    // Writes on the stale port still go through the log.
    expect(await once(other.stalePort, 'incr nothing 1\r\nset w 0 0 1\r\nx\r\n', /STORED\r\n$/)).toBe('NOT_FOUND\r\nSTORED\r\n');
    expect(await values(leader.port, ['w'])).toEqual(['w=x']);
  });

  it("version, verbosity, stats, quit as memcached answers them; the stats counters are real", async () => {
    const c = await RawClient.connect(follower.port);
    try {
      expect(await c.ask('version\r\n')).toBe('VERSION 1.6.18-paxos-kv\r\n');
      expect(await c.ask('verbosity 1\r\n')).toBe('OK\r\n');
      expect(await c.ask('verbosity\r\n')).toBe('ERROR\r\n');
      const st = await stats(follower.port);
      for (const k of ['pid', 'uptime', 'curr_connections', 'total_connections', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'bytes', 'curr_items', 'paxos_leader', 'paxos_leader_id', 'paxos_last_applied']) {
        expect(st[k], k).toMatch(/^\d+$/);
      }
      expect(st.paxos_leader_id).toBe(String(leader.id));
      expect(Number(st.curr_connections)).toBeGreaterThanOrEqual(2);
      const settings = await stats(follower.port, 'settings');
      expect(settings.item_size_max).toBe(String(1024 * 1024));
      expect(await c.ask('stats nonsense\r\n')).toBe('ERROR\r\n');
      c.send('quit\r\n');
      expect(await c.closedByServer()).toBe('');
    } finally {
      c.destroy();
    }
  });

  it("bad input gets memcached's errors and harms nobody: the connection and the other clients go on", async () => {
    const bad = await RawClient.connect(follower.port);
    const good = await RawClient.connect(follower.port);
    try {
      // Each reply is what memcached 1.6.18 answers (paxos-kv's fixtures were recorded from it); a
      // set refused for its key does not swallow its data line, which memcached then reads as a
      // command (ERROR).
      const cases: [string, string][] = [
        ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n', 'ERROR\r\n'],
        ['bogus command\r\n', 'ERROR\r\n'],
        [`set ${'k'.repeat(251)} 0 0 1\r\nx\r\n`, 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
        [`get ${'k'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
        [`set ${'k'.repeat(250)} 0 0 1\r\nx\r\n`, 'STORED\r\n'],
        ['incr\r\n', 'ERROR\r\n'],
        ['set k 0 0 -1\r\n', 'CLIENT_ERROR bad command line format\r\n'],
        ['set k 0 0 2\r\ntoolong\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
        ['incr k abc\r\n', 'CLIENT_ERROR invalid numeric delta argument\r\n'],
        [`${'x'.repeat(10_000)}\r\n`, 'CLIENT_ERROR line too long\r\n'],
        // Over the 1 MiB item limit, then a value memcached still stores.
        [`set big 0 0 ${2 * 1024 * 1024}\r\n${'b'.repeat(2 * 1024 * 1024)}\r\n`, 'SERVER_ERROR object too large for cache\r\n'],
        [`set big 0 0 ${1024 * 1024 - 100}\r\n${'b'.repeat(1024 * 1024 - 100)}\r\n`, 'STORED\r\n'],
      ];
      for (const [request, reply] of cases) {
        // Sent with a `version` behind it, so the whole reply is read, and nothing after it is left.
        expect(await bad.ask(`${request}version\r\n`, /VERSION \S+\r\n$/), JSON.stringify(request.slice(0, 40))).toBe(`${reply}VERSION 1.6.18-paxos-kv\r\n`);
      }
      expect(await good.ask('set g 0 0 1\r\n1\r\nget g\r\n', /END\r\n$/)).toBe('STORED\r\nVALUE g 0 1\r\n1\r\nEND\r\n');
      expect(await bad.ask('get g\r\n', /END\r\n$/)).toBe('VALUE g 0 1\r\n1\r\nEND\r\n');
      // Binary: a value too large is refused and the connection goes on; a key over 250 bytes is
      // answered "Invalid arguments" and the connection closed, as memcached does (its framing can
      // no longer be trusted).
      const b = memjs.Client.create(`127.0.0.1:${follower.port}`, { retries: 0, timeout: 10, logger: quiet });
      try {
        await expect(b.set('bigbin', 'x'.repeat(2 * 1024 * 1024))).rejects.toThrow(/Value too large/);
        expect(await b.set('smallbin', 'x')).toBe(true);
        await expect(b.set('k'.repeat(300), 'x')).rejects.toThrow(/Invalid arguments/);
      } finally {
        b.close();
      }
      // memjs does not notice that the server closed (it hangs on its next request, against a real
      // memcached too): a new client.
      const b2 = memjs.Client.create(`127.0.0.1:${follower.port}`, { retries: 0, timeout: 10, logger: quiet });
      try {
        expect(await b2.set('again', 'x')).toBe(true);
        expect((await b2.get('smallbin')).value?.toString()).toBe('x');
      } finally {
        b2.close();
      }
      // A binary packet whose lengths contradict each other: answered, then closed, as memcached does.
      const broken = new Uint8Array(24);
      broken.set([0x80, 0x01, 0x00, 0x05, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02]);
      const bin = await RawClient.connect(follower.port);
      bin.send(broken);
      await bin.closedByServer();
      bin.destroy();
      expect(await good.ask('version\r\n')).toMatch(/^VERSION 1\.6\.18/);
      expect(follower.proc.exitCode).toBeUndefined();
    } finally {
      bad.destroy();
      good.destroy();
    }
  }, 30_000);

  const memccapable = '/usr/bin/memccapable';
  const haveMemccapable = existsSync(memccapable);
  if (!haveMemccapable) {
    const msg = `memccapable is not installed (${memccapable}): run 'bash scripts/install-system-deps.sh' (the README's test command does) to run libmemcached's conformance test against kv-server`;
    if (process.env.CI !== undefined) throw new Error(`${msg}; CI must have it`);
    console.warn(`\n*** SKIPPING the memccapable tests: ${msg} ***\n`);
  }
  // Every test memccapable has for the mode runs (27 each in libmemcached 1.1.4), none skipped.
  for (const mode of ['-a', '-b'] as const) {
    it.skipIf(!haveMemccapable)(`memccapable ${mode} (libmemcached's conformance test, ${mode === '-a' ? 'ASCII' : 'binary'}) passes against a follower`, async () => {
      const out = await new Promise<{ code: number; text: string }>((resolve) =>
        execFile(memccapable, ['-h', '127.0.0.1', '-p', String(follower.port), '-t', '20', mode], { timeout: 120_000 }, (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, text: stdout + stderr }),
        ),
      );
      expect(out.text).toMatch(/All tests passed/);
      expect(out.text).not.toMatch(/\[(fail|skip)/);
      expect(out.code).toBe(0);
      const ran = out.text.match(/^(ascii|binary) .*\[pass\]$/gm) ?? [];
      expect(ran).toHaveLength(27);
      expect(ran.every((l) => l.startsWith(mode === '-a' ? 'ascii' : 'binary'))).toBe(true);
    }, 150_000);
  }

  it('SIGTERM: a replica answers what is due, exits 0, and the others go on', async () => {
    const c = await RawClient.connect(other.port);
    expect(await c.ask('set bye 0 0 1\r\nx\r\n')).toBe('STORED\r\n');
    other.proc.child.kill('SIGTERM');
    expect(await other.proc.exit).toBe(0);
    expect(other.proc.stderr).toMatch(/Caught signal 15/);
    c.destroy();
    expect(await values(follower.port, ['bye'])).toEqual(['bye=x']);
  }, 30_000);
});

/**
 * A client that sends `incr <key> 1` one at a time and reconnects to the next replica when its
 * connection fails or a reply takes longer than `replyMs` (its server was killed). Counts the
 * increments acknowledged, and those whose reply never came (each applied once or not at all).
 */
class IncrementingClient {
  acked = 0;
  unknown = 0;
  replies: number[] = [];
  reconnects = 0;
  readonly done: Promise<void>;

  constructor(
    readonly key: string,
    private readonly ports: readonly number[],
    start: number,
    count: number,
    private readonly replyMs = 20_000,
  ) {
    this.done = this.run(start, count);
  }

  private async run(start: number, count: number): Promise<void> {
    let at = start;
    let c: RawClient | undefined;
    const next = async () => {
      c?.destroy();
      c = undefined;
      at++;
      if (++this.reconnects > 10) throw new Error(`${this.key}: no replica answered after ${this.reconnects} connections`);
      await sleep(100);
    };
    for (let i = 0; i < count; ) {
      try {
        c ??= await RawClient.connect(this.ports[at % this.ports.length] as number);
      } catch {
        await next(); // nothing was sent: the same increment, at the next replica
        continue;
      }
      let text: string;
      try {
        text = await c.ask(`incr ${this.key} 1\r\n`, /\r\n$/, this.replyMs);
      } catch {
        text = '';
      }
      i++;
      if (text === '' || c.closed) {
        // Sent, and no reply: its server died. It was applied once or not at all; the client goes
        // on with the next increment (memcached has no request ids, so resending it would be a
        // second request, not a retry of the first).
        this.unknown++;
        await next();
        continue;
      }
      if (!/^\d+\r\n$/.test(text)) throw new Error(`${this.key}: unexpected reply ${JSON.stringify(text)}`);
      this.replies.push(Number(text));
      this.acked++;
    }
    c?.destroy();
  }
}

describe('kv-server: failover', () => {
  it('the leader is killed mid-load: clients at every replica go on (those at the leader reconnect), and no increment is applied twice', async () => {
    const cluster = await kvCluster();
    const leader = await leaderOf(cluster);
    const [f1, f2] = cluster.filter((r) => r !== leader) as [Replica, Replica];
    const ports = [leader.port, f1.port, f2.port];
    expect(await once(f1.port, ['a', 'b', 'l1', 'l2', 'd', 'm'].map((k) => `set ${k} 0 0 1\r\n0\r\n`).join(''), /(STORED\r\n){6}$/)).toBe('STORED\r\n'.repeat(6));
    // Sequential incrs through each follower and (two) through the leader, which reconnect to a
    // follower once it dies; a pipelined connection at a follower keeps 10 in flight throughout; and
    // the npm memcached client at the other follower.
    // The clients at the leader have more to do, so that they are still at it when it dies (on a
    // loaded machine the followers' clients, whose writes are forwarded, can be much slower).
    const clients = [new IncrementingClient('a', ports, 1, 60), new IncrementingClient('b', ports, 2, 60), new IncrementingClient('l1', ports, 0, 300), new IncrementingClient('l2', ports, 0, 300)];
    const p = await RawClient.connect(f1.port);
    const pipelined = (async () => {
      let last = 0;
      for (let round = 0; round < 8; round++) {
        const text = await p.ask('incr d 1\r\n'.repeat(10), /^(\d+\r\n){10}$/, 30_000);
        expect(text.trim().split('\r\n').map(Number)).toEqual(Array.from({ length: 10 }, (_, i) => last + i + 1));
        last += 10;
      }
      return last;
    })();
    const m = new Memcached(`127.0.0.1:${f2.port}`, { retries: 0, timeout: 20_000 });
    const npm = (async () => {
      const got: unknown[] = [];
      for (let i = 0; i < 40; i++) got.push(await call<number | boolean>((d) => m.incr('m', 1, d)));
      return got;
    })();
    await until(async () => clients.every((c) => c.acked >= 10) || clients.slice(2).some((c) => c.acked >= 200), 20_000, 'every client to get going');
    await leader.proc.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.done));
    expect(await pipelined).toBe(80);
    expect(await npm).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    m.end();
    p.destroy();
    const finals = await values(f2.port, ['a', 'b', 'l1', 'l2', 'd', 'm']);
    const count = (k: string) => Number(finals.find((f) => f.startsWith(`${k}=`))?.slice(k.length + 1));
    for (const c of clients) {
      // Every reply is one more than the one before, except where an unanswered request (lost with
      // the leader) took effect in between: never a number twice or out of order.
      for (let i = 1; i < c.replies.length; i++) expect((c.replies[i] as number) - (c.replies[i - 1] as number), `${c.key}: ${c.replies.join(' ')}`).toBeGreaterThanOrEqual(1);
      const applied = count(c.key);
      expect(applied, `${c.key}: ${c.acked} acknowledged, ${c.unknown} unanswered`).toBeGreaterThanOrEqual(c.acked);
      expect(applied, `${c.key}: ${c.acked} acknowledged, ${c.unknown} unanswered`).toBeLessThanOrEqual(c.acked + c.unknown);
    }
    // The clients at the followers lost nothing and saw every number once.
    for (const c of clients.slice(0, 2)) {
      expect(c.unknown).toBe(0);
      expect(c.replies).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    }
    // Those at the leader did reconnect.
    for (const c of clients.slice(2)) expect(c.reconnects).toBeGreaterThanOrEqual(1);
    expect(count('d')).toBe(80);
    expect(count('m')).toBe(40);
    // Both survivors hold the same state.
    let digests: string[] = [];
    await until(
      async () => {
        const st = await Promise.all([f1, f2].map((r) => stats(r.port, 'paxos')));
        digests = st.map((x) => `${x.paxos_last_applied} ${x.paxos_digest}`);
        return new Set(digests).size === 1;
      },
      5000,
      'the survivors to agree',
    ).catch(() => undefined);
    expect(new Set(digests).size, digests.join(' | ')).toBe(1);
    for (const r of cluster) await r.proc.kill();
  }, 120_000);

  it('a connection that drops while the cluster has no leader: the writes it sent are carried through once, never twice', async () => {
    const cluster = await kvCluster();
    const leader = await leaderOf(cluster);
    const [f1, f2] = cluster.filter((r) => r !== leader) as [Replica, Replica];
    const keys = Array.from({ length: 20 }, (_, i) => `drop${i}`);
    expect(await once(f1.port, keys.map((k) => `set ${k} 0 0 1\r\n0\r\n`).join(''), /(STORED\r\n){20}$/)).toBe('STORED\r\n'.repeat(20));
    await leader.proc.kill('SIGKILL');
    const c = await RawClient.connect(f1.port);
    c.send(keys.map((k) => `incr ${k} 1\r\n`).join(''));
    await sleep(300); // the requests are in; no leader can decide them yet (its lease has not run out)
    c.destroy();
    // A new leader takes over; the gateway of f1 proposes the writes again to it, each with its
    // session and seq, and the state machine applies each once.
    await until(async () => (await values(f2.port, keys)).filter((v) => v.endsWith('=1')).length === 20, 30_000, 'every write to be applied');
    await sleep(3500); // longer than the gateway's resend interval: a second application would show now
    expect(await values(f2.port, keys)).toEqual(keys.map((k) => `${k}=1`));
    for (const r of cluster) await r.proc.kill();
  }, 90_000);
});

describe('kv-server: checkpoints (the store as the replica\'s state machine)', () => {
  it("a replica killed and restarted restores its newest checkpoint and learns only what came after; one whose disk was wiped, behind the acceptors' trim, installs a peer's checkpoint; both then hold every key", async () => {
    const dir = tempDir();
    const ck = join(dir, 'ck');
    const cluster = await kvCluster(
      [],
      ['storage-backend lmdb', `lmdb-env-path ${join(dir, 'acceptor')}`, `checkpoint-dir ${ck}`, 'checkpoint-instances 20', 'checkpoint-trim yes', 'checkpoint-trim-hold 5'],
    );
    const leader = await leaderOf(cluster);
    const [f1, f2] = cluster.filter((r) => r !== leader) as [Replica, Replica];
    const checkpoints = (r: Replica) => (existsSync(`${ck}_${r.id}`) ? readdirSync(`${ck}_${r.id}`).filter((f) => f.endsWith('.ckpt')) : []);
    /** `n` sets one at a time through `r` (so that each takes an instance of its own), keys `prefix0`…. */
    const sets = async (r: Replica, prefix: string, n: number) => {
      const c = await RawClient.connect(r.port);
      try {
        for (let i = 0; i < n; i++) expect(await c.ask(`set ${prefix}${i} 0 0 ${String(i).length}\r\n${i}\r\n`)).toBe('STORED\r\n');
      } finally {
        c.destroy();
      }
    };
    const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const expected = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}=${i}`);
    await sets(f1, 'a', 100);
    await until(async () => cluster.every((r) => checkpoints(r).length > 0), 15_000, 'every replica to write a checkpoint');

    // Killed (no chance to write anything more), 60 writes go on without it, and it starts again.
    await f2.proc.kill('SIGKILL');
    await sets(f1, 'b', 60);
    const again = new Proc('kv-server', [...f2.argv]);
    await until(async () => /ready: memcached on/.test(again.stdout), 15_000, 'the restarted replica to serve');
    const restored = /Restored the checkpoint of instance (\d+) .*; learning from instance (\d+)/.exec(again.stderr);
    expect(restored, again.stderr).not.toBeNull();
    expect(Number(restored?.[1])).toBeGreaterThanOrEqual(20);
    // Its stale port reads its own state: everything, once it has learned what it missed.
    await until(async () => (await values(f2.stalePort, [...keys('a', 100), ...keys('b', 60)])).length === 160, 15_000, 'the restarted replica to learn the missed writes');
    expect(await values(f2.stalePort, [...keys('a', 100), ...keys('b', 60)])).toEqual([...expected('a', 100), ...expected('b', 60)]);

    // Wiped: its acceptor storage and checkpoints are gone, and the acceptors are trimmed past what it
    // needs (the others' checkpoints move on while it is away), so it must take a peer's checkpoint.
    await again.kill('SIGKILL');
    rmSync(`${join(dir, 'acceptor')}_${f2.id}`, { recursive: true, force: true });
    rmSync(`${ck}_${f2.id}`, { recursive: true, force: true });
    await sets(f1, 'c', 60);
    const wiped = new Proc('kv-server', [...f2.argv, '--rejoin']);
    await until(async () => /ready: memcached on/.test(wiped.stdout), 20_000, 'the wiped replica to serve');
    await until(async () => /Installed the checkpoint of instance \d+/.test(wiped.stderr), 20_000, "the wiped replica to install a peer's checkpoint");
    const all = [...keys('a', 100), ...keys('b', 60), ...keys('c', 60)];
    await until(async () => (await values(f2.stalePort, all)).length === all.length, 15_000, 'the wiped replica to hold every key');
    expect(await values(f2.stalePort, all)).toEqual([...expected('a', 100), ...expected('b', 60), ...expected('c', 60)]);
    // And it goes on with the others: a write through it, read everywhere; the three agree.
    expect(await once(f2.port, 'set after 0 0 4\r\nwipe\r\n')).toBe('STORED\r\n');
    for (const r of [leader, f1]) expect(await values(r.port, ['after'])).toEqual(['after=wipe']);
    let digests: string[] = [];
    await until(
      async () => {
        const st = await Promise.all([leader, f1, f2].map((r) => stats(r.port, 'paxos')));
        digests = st.map((x) => `${x.paxos_last_applied} ${x.paxos_digest}`);
        return new Set(digests).size === 1;
      },
      10_000,
      'the replicas to agree',
    ).catch(() => undefined);
    expect(new Set(digests).size, digests.join(' | ')).toBe(1);
    await wiped.kill();
    for (const r of cluster) await r.proc.kill();
  }, 120_000);
});

describe('kv-server: time comes from the leader', () => {
  it("replicas whose clocks disagree by a minute: only the leader's clock stamps the log, and items expire at the same point of the log everywhere", async () => {
    // Two replicas' wall clocks are a minute off, one ahead and one behind; whichever leads, the
    // followers' clocks must not matter.
    const offsets = [0, 60_000, -60_000];
    const cluster = await kvCluster(offsets.map((o) => (o === 0 ? [] : ['--clock-offset', String(o)])));
    const leader = await leaderOf(cluster);
    const leaderClock = () => Date.now() + (offsets[leader.id] as number);
    // A 30-second item written through each replica lives 30 s by the leader's clock, everywhere.
    for (const r of cluster) expect(await once(r.port, `set temp${r.id} 0 30 1\r\nt\r\nset keep${r.id} 0 0 1\r\nk\r\n`, /STORED\r\nSTORED\r\n$/)).toBe('STORED\r\nSTORED\r\n');
    const all = cluster.flatMap((r) => [`temp${r.id}`, `keep${r.id}`]);
    for (const r of cluster) {
      expect(await values(r.port, all)).toHaveLength(6);
      await until(async () => (await values(r.stalePort, all)).length === 6, 5000, `replica ${r.id}'s stale read to see every write`);
      const clock = Number((await stats(r.port, 'paxos')).paxos_clock_ms);
      expect(Math.abs(clock - leaderClock()), `replica ${r.id}'s log clock against the leader's`).toBeLessThan(5000);
    }
    // A 2-second item, set through a follower: gone on every replica, by the log's clock, at once.
    const f = cluster.find((r) => r !== leader) as Replica;
    expect(await once(f.port, 'set brief 0 2 1\r\nb\r\n')).toBe('STORED\r\n');
    expect(await values(leader.port, ['brief'])).toEqual(['brief=b']);
    await sleep(3200);
    for (const r of cluster) expect(await values(r.port, ['brief', 'keep0'])).toEqual(['keep0=k']);
    // An absolute exptime (a unix time) 2 s ahead of the leader's clock, set through the other follower.
    const g = cluster.find((r) => r !== leader && r !== f) as Replica;
    const at = Math.floor(leaderClock() / 1000) + 3;
    expect(await once(g.port, `set abs 0 ${at} 1\r\na\r\n`)).toBe('STORED\r\n');
    expect(await values(f.port, ['abs'])).toEqual(['abs=a']);
    await until(async () => (await values(g.port, ['abs'])).length === 0, 6000, 'the absolute exptime to pass');
    for (const r of cluster) expect(await values(r.port, ['abs', 'temp0'])).toEqual(['temp0=t']);
    let digests: string[] = [];
    await until(
      async () => {
        const st = await Promise.all(cluster.map((r) => stats(r.port, 'paxos')));
        digests = st.map((s) => `${s.paxos_last_applied} ${s.paxos_clock_ms} ${s.paxos_digest}`);
        return new Set(digests).size === 1;
      },
      10_000,
      'the replicas to reach the same state',
    ).catch(() => undefined);
    expect(new Set(digests).size, digests.join(' | ')).toBe(1);
    for (const r of cluster) await r.proc.kill();
  }, 60_000);
});

describe('kv-server: the command line', () => {
  it('refuses bad flags and configs with a sentence, and a port in use with the port named', async () => {
    const dir = tempDir();
    const bad = new Proc('kv-server', ['0', writeConfig(dir, 'replica 0 127.0.0.1 1\n'), '--port', 'abc']);
    expect(await bad.exit).toBe(1);
    expect(bad.stderr).toMatch(/--port must be a whole number from 1 to 65535, got 'abc'/);
    const split = new Proc('kv-server', ['0', writeConfig(dir, 'acceptor 0 127.0.0.1 1\nproposer 0 127.0.0.1 2\n', 'split.conf')]);
    expect(await split.exit).toBe(1);
    expect(split.stderr).toMatch(/a kv-server is a replica/);
    const size = new Proc('kv-server', ['0', writeConfig(dir, 'replica 0 127.0.0.1 1\n', 'size.conf'), '-I', '3g']);
    expect(await size.exit).toBe(1);
    expect(size.stderr).toMatch(/--item-size-max must be a size from 1k to 64m/);
    const memory = new Proc('kv-server', ['0', writeConfig(dir, 'replica 0 127.0.0.1 1\n', 'memory.conf'), '-m', '1']);
    expect(await memory.exit).toBe(1);
    expect(memory.stderr).toMatch(/-m 1 \(megabytes\) is less than twice -I 1048576 bytes; memcached refuses that too: raise -m or lower -I/);
    const megabytes = new Proc('kv-server', ['0', writeConfig(dir, 'replica 0 127.0.0.1 1\n', 'megabytes.conf'), '--memory-limit', '64m']);
    expect(await megabytes.exit).toBe(1);
    expect(megabytes.stderr).toMatch(/--memory-limit must be a whole number of megabytes from 1 to 1048576, got '64m'/);
    const small = new Proc('kv-server', ['0', writeConfig(dir, 'replica 0 127.0.0.1 1\nmax-value-size 65536\n', 'small.conf')]);
    expect(await small.exit).toBe(1);
    expect(small.stderr).toMatch(/max-value-size 65536 bytes cannot carry items of -I 1048576 bytes/);
    const usage = new Proc('kv-server', []);
    expect(await usage.exit).toBe(1);
    expect(usage.stderr).toMatch(/^Usage: kv-server <id> \[config\]/);
    // Two kv-servers asked to serve memcached on one port: the second says which port and why.
    await startListening(
      3,
      (p) => {
        const conf = writeConfig(dir, `replica 0 127.0.0.1 ${p[0]}\nreplica 1 127.0.0.1 ${p[1]}\n`, 'two.conf');
        const first = new Proc('kv-server', ['0', conf, '--port', String(p[2])]);
        return { procs: [first], value: { conf, port: p[2] as number } };
      },
      (p) => /ready:/.test(p.stdout),
    ).then(async ({ conf, port }) => {
      const second = new Proc('kv-server', ['1', conf, '--port', String(port)]);
      expect(await second.exit).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: another process is using that port`));
    });
  }, 60_000);

  it('-I raises the item size limit (memcached\'s -I) on every replica', async () => {
    const cluster = await kvCluster([['-I', '2m'], ['-I', '2m'], ['-I', '2m']]);
    const big = 'v'.repeat(1536 * 1024);
    expect(await once(cluster[1]?.port as number, `set big 0 0 ${big.length}\r\n${big}\r\n`)).toBe('STORED\r\n');
    expect((await stats(cluster[2]?.port as number, 'settings')).item_size_max).toBe(String(2 * 1024 * 1024));
    const text = await once(cluster[2]?.port as number, 'get big\r\n', /END\r\n$/);
    expect(text.length).toBe(`VALUE big 0 ${big.length}\r\n`.length + big.length + 'END\r\n'.length + 2);
    expect(await once(cluster[0]?.port as number, `set bigger 0 0 ${3 * 1024 * 1024}\r\n${'w'.repeat(3 * 1024 * 1024)}\r\n`)).toBe('SERVER_ERROR object too large for cache\r\n');
    for (const r of cluster) await r.proc.kill();
  }, 60_000);

  it("-m bounds the items' memory (memcached's -m): the least recently stored are evicted, the same on every replica", async () => {
    const cluster = await kvCluster([0, 1, 2].map(() => ['-m', '1', '-I', '64k']));
    // 24 items of 60 KiB (about 1.4 MiB by memcached's accounting) through two replicas, in order.
    const value = 'e'.repeat(60 * 1024);
    for (let i = 0; i < 24; i++) {
      const r = cluster[i % 2] as Replica;
      expect(await once(r.port, `set k${i} 0 0 ${value.length}\r\n${value}\r\n`)).toBe('STORED\r\n');
    }
    const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
    let seen: string[] = [];
    await until(
      async () => {
        const st = await Promise.all(cluster.map((r) => stats(r.port, 'paxos')));
        seen = st.map((s) => `${s.paxos_last_applied} ${s.paxos_digest}`);
        return new Set(seen).size === 1;
      },
      10_000,
      'the replicas to reach the same state',
    ).catch(() => undefined);
    expect(new Set(seen).size, seen.join(' | ')).toBe(1);
    for (const r of cluster) {
      const st = await stats(r.port);
      expect(Number(st.bytes), `replica ${r.id}'s bytes`).toBeLessThanOrEqual(1024 * 1024);
      expect(st.limit_maxbytes).toBe(String(1024 * 1024));
      expect(await stats(r.port, 'settings')).toMatchObject({ maxbytes: String(1024 * 1024), evictions: 'on' });
      const held = (await values(r.stalePort, keys)).map((kv) => kv.split('=')[0]);
      // The newest are held, the oldest gone: every replica evicted the same ones, and as many as the store counts.
      expect(held.length, `replica ${r.id}`).toBe(24 - Number(st.evictions));
      expect(held).toEqual(keys.slice(24 - held.length));
      expect(held.length).toBeGreaterThan(10);
      expect(held.length).toBeLessThan(24);
    }
    for (const r of cluster) await r.proc.kill();
  }, 60_000);
});

#!/usr/bin/env node
/**
 * The load generator of `pnpm bench:kv`, run by it in a process of its own (so that its CPU is
 * counted apart from the orchestrator's and the servers'): N connections, closed loop, each with
 * one request outstanding, speaking memcached's text protocol (kv-server, memcached) or etcd's v3
 * HTTP/JSON gateway (`POST /v3/kv/put`, `/v3/kv/range`) over Node's http with keep-alive. One
 * generator for every system, so that each pays the same client costs on the same two cores.
 *
 * Takes one argument, a JSON `LoadSpec`; prints JSON lines on stdout: `{"type":"populated"}` after
 * a populate run, `{"type":"start"}` when the measured window opens and `{"type":"summary",…}`
 * (a `LoadSummary`) at its end.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { LatencyHistogram } from './histogram.js';

export interface LoadTarget {
  readonly host: string;
  readonly port: number;
}

export interface LoadSpec {
  readonly protocol: 'memcached' | 'etcd';
  /** Connection i talks to targets[i % targets.length]. */
  readonly targets: readonly LoadTarget[];
  /** etcd only: serializable (stale, local) ranges instead of linearizable ones. */
  readonly serializable?: boolean;
  readonly concurrency: number;
  readonly valueSize: number;
  /** Share of gets, 0 to 1; the rest are sets. */
  readonly readShare: number;
  /** Keys `<keyPrefix><0..keys-1>`, drawn uniformly. */
  readonly keys: number;
  readonly keyPrefix: string;
  readonly warmupMs: number;
  readonly seconds: number;
  /** Set every key once (split over the connections) instead of measuring; prints `populated`. */
  readonly populate?: boolean;
}

export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadSummary {
  readonly type: 'summary';
  readonly ops: number;
  readonly opsPerSec: number;
  readonly gets: number;
  readonly sets: number;
  readonly hits: number;
  readonly misses: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly latencyUs: Latency;
  readonly getLatencyUs: Latency;
  readonly setLatencyUs: Latency;
  /** The generator's own CPU over the measured window, percent of one core. */
  readonly cpuPercent: number;
}

type Outcome = { ok: true; hit?: boolean } | { ok: false; error: string };

/** One request at a time on one connection. */
interface Conn {
  get(key: string): Promise<Outcome>;
  set(key: string, value: Buffer): Promise<Outcome>;
  close(): void;
}

const CRLF = Buffer.from('\r\n');

/** memcached's text protocol on one socket; replies parsed by their framing (VALUE lengths), not by searching for END. */
class MemcachedConn implements Conn {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { kind: 'get' | 'set'; done: (o: Outcome) => void } | undefined;
  private dead: string | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.parse();
    });
    const fail = (why: string) => {
      this.dead ??= why;
      const p = this.pending;
      this.pending = undefined;
      p?.done({ ok: false, error: why });
    };
    socket.on('error', (e) => fail(`connection error: ${e.message}`));
    socket.on('close', () => fail('connection closed by the server'));
  }

  static open(t: LoadTarget): Promise<MemcachedConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: t.host, port: t.port }, () => {
        s.off('error', reject);
        resolve(new MemcachedConn(s));
      });
      s.once('error', reject);
    });
  }

  private parse(): void {
    const p = this.pending;
    if (p === undefined) return;
    const eol = this.buf.indexOf(CRLF);
    if (eol < 0) return;
    const line = this.buf.toString('latin1', 0, eol);
    let used = eol + 2;
    let out: Outcome;
    if (p.kind === 'set') {
      out = line === 'STORED' ? { ok: true } : { ok: false, error: `set answered '${line}'` };
    } else if (line === 'END') {
      out = { ok: true, hit: false };
    } else if (line.startsWith('VALUE ')) {
      const bytes = Number(line.split(' ')[3]);
      const endAt = used + bytes + 2;
      if (this.buf.length < endAt + 5) return;
      if (this.buf.toString('latin1', endAt, endAt + 5) !== 'END\r\n') {
        out = { ok: false, error: `get answered a value not followed by END` };
        used = this.buf.length;
      } else {
        out = { ok: true, hit: true };
        used = endAt + 5;
      }
    } else {
      out = { ok: false, error: `get answered '${line}'` };
    }
    this.buf = this.buf.subarray(used);
    this.pending = undefined;
    p.done(out);
  }

  private ask(kind: 'get' | 'set', bytes: Buffer | string): Promise<Outcome> {
    if (this.dead !== undefined) return Promise.resolve({ ok: false, error: this.dead });
    return new Promise((done) => {
      this.pending = { kind, done };
      this.socket.write(bytes);
    });
  }

  get(key: string): Promise<Outcome> {
    return this.ask('get', `get ${key}\r\n`);
  }

  set(key: string, value: Buffer): Promise<Outcome> {
    return this.ask('set', Buffer.concat([Buffer.from(`set ${key} 0 0 ${value.length}\r\n`, 'latin1'), value, CRLF]));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** etcd's v3 gRPC gateway (HTTP/JSON): keys and values in base64, one keep-alive socket per connection. */
class EtcdConn implements Conn {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly target: LoadTarget,
    private readonly serializable: boolean,
  ) {}

  private post(path: string, body: string, check: (reply: Record<string, unknown>) => Outcome): Promise<Outcome> {
    return new Promise((resolve) => {
      const req = request(
        { host: this.target.host, port: this.target.port, path, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode !== 200) return resolve({ ok: false, error: `${path} answered HTTP ${res.statusCode}: ${text.slice(0, 200)}` });
            try {
              resolve(check(JSON.parse(text) as Record<string, unknown>));
            } catch {
              resolve({ ok: false, error: `${path} answered something that is not JSON: ${text.slice(0, 200)}` });
            }
          });
          res.on('error', (e) => resolve({ ok: false, error: `${path}: ${e.message}` }));
        },
      );
      req.on('error', (e) => resolve({ ok: false, error: `${path}: ${e.message}` }));
      req.end(body);
    });
  }

  get(key: string): Promise<Outcome> {
    const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), serializable: this.serializable });
    return this.post('/v3/kv/range', body, (r) => ({ ok: true, hit: Array.isArray(r.kvs) && r.kvs.length > 0 }));
  }

  set(key: string, value: Buffer): Promise<Outcome> {
    const body = `{"key":"${Buffer.from(key).toString('base64')}","value":"${value.toString('base64')}"}`;
    return this.post('/v3/kv/put', body, (r) => (r.header !== undefined ? { ok: true } : { ok: false, error: `put answered ${JSON.stringify(r).slice(0, 200)}` }));
  }

  close(): void {
    this.agent.destroy();
  }
}

function open(spec: LoadSpec, i: number): Promise<Conn> {
  const t = spec.targets[i % spec.targets.length] as LoadTarget;
  return spec.protocol === 'memcached' ? MemcachedConn.open(t) : Promise.resolve(new EtcdConn(t, spec.serializable === true));
}

/** A value of letters (so no byte of it looks like protocol framing), the same for every set. */
function valueOf(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26);
  return b;
}

const summaryOf = (h: LatencyHistogram): Latency => ({ p50: h.percentile(50), p99: h.percentile(99), max: h.max });

async function populate(spec: LoadSpec, conns: Conn[]): Promise<void> {
  const value = valueOf(spec.valueSize);
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  await Promise.all(
    conns.map(async (c) => {
      while (next < spec.keys) {
        const k = next++;
        const o = await c.set(`${spec.keyPrefix}${k}`, value);
        if (!o.ok) {
          errors++;
          firstError ??= o.error;
        }
      }
    }),
  );
  process.stdout.write(`${JSON.stringify({ type: 'populated', keys: spec.keys, errors, ...(firstError !== undefined ? { firstError } : {}) })}\n`);
}

async function measure(spec: LoadSpec, conns: Conn[]): Promise<void> {
  const value = valueOf(spec.valueSize);
  const all = new LatencyHistogram();
  const gets = new LatencyHistogram();
  const sets = new LatencyHistogram();
  let counting = false;
  let stop = false;
  let hits = 0;
  let misses = 0;
  let errors = 0;
  let firstError: string | undefined;
  let cpuStart = process.cpuUsage();
  let t0 = 0;
  // xorshift32, seeded per connection: the same key stream on every run.
  const loops = conns.map(async (c, i) => {
    let x = (0x9e3779b9 ^ (i * 0x85ebca6b)) >>> 0 || 1;
    const rand = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 0x1_0000_0000;
    };
    while (!stop) {
      const isGet = rand() < spec.readShare;
      const key = `${spec.keyPrefix}${Math.floor(rand() * spec.keys)}`;
      const start = performance.now();
      const o = isGet ? await c.get(key) : await c.set(key, value);
      if (!counting || stop) {
        if (!o.ok) await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const us = (performance.now() - start) * 1000;
      if (!o.ok) {
        errors++;
        firstError ??= o.error;
        // A failed connection answers at once: do not spin on it.
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      all.record(us);
      (isGet ? gets : sets).record(us);
      if (isGet) {
        if (o.hit === true) hits++;
        else misses++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, spec.warmupMs));
  counting = true;
  t0 = performance.now();
  cpuStart = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ type: 'start' })}\n`);
  await new Promise((r) => setTimeout(r, spec.seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  counting = false;
  stop = true;
  const summary: LoadSummary = {
    type: 'summary',
    ops: all.count,
    opsPerSec: Math.round(all.count / elapsed),
    gets: gets.count,
    sets: sets.count,
    hits,
    misses,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    latencyUs: summaryOf(all),
    getLatencyUs: summaryOf(gets),
    setLatencyUs: summaryOf(sets),
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // Requests still out are not waited for (a stuck server must not hang the run): the sockets close.
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write('Usage: bench-kv-load <LoadSpec as JSON> (started by `pnpm bench:kv`)\n');
    process.exit(1);
  }
  const spec = JSON.parse(arg) as LoadSpec;
  const conns: Conn[] = [];
  try {
    for (let i = 0; i < spec.concurrency; i++) conns.push(await open(spec, i));
    if (spec.populate === true) await populate(spec, conns);
    else await measure(spec, conns);
  } finally {
    for (const c of conns) c.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench-kv-load: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);

/**
 * The gateway between memcached connections and the log, against a log in this process that
 * loses, duplicates, delays and refuses proposals on purpose: exactly-once through sessions,
 * retries, session expiry, deadlines, the read paths and the time stamps.
 */
import { describe, expect, it } from 'vitest';
import { readAll } from '@libpaxos/evpaxos';
import { decodeRequest, decodeResult, encodeRequest, KvStateMachine, Rng, type KvRequest, type KvResult } from '@libpaxos/paxos-kv';
import { KvUnavailable, type KvChannel } from '../src/kv/backend.js';
import { Gateway, type GatewayOptions, type ReplicatedLog } from '../src/kv/gateway.js';
import { ReplicatedKv } from '../src/kv/replica-log.js';

type Fault = 'ok' | 'duplicate' | 'no-reply' | 'lose' | 'refuse' | 'lost-after-apply' | 'hold';

/**
 * A log of one replica: a proposal is applied to the machine after a delay (the log's order is
 * the order the delays end in), and its promise settles as `fault` says.
 */
class FakeLog implements ReplicatedLog {
  private iid = 0;
  leaseHeld = true;
  fault: (req: KvRequest) => Fault = () => 'ok';
  delay: () => number = () => 1;
  readonly proposed: KvRequest[] = [];
  readonly held: (() => void)[] = [];
  /** The gateway's hook, called after each apply (as the replica's deliver callback does). */
  afterApply: ((request: KvRequest) => void) | undefined;

  constructor(readonly machine: KvStateMachine) {}

  propose(value: Uint8Array): Promise<{ iid: number; result: Uint8Array }> {
    const req = decodeRequest(value);
    this.proposed.push(req);
    const f = this.fault(req);
    return new Promise((resolve, reject) => {
      const apply = () => {
        const iid = ++this.iid;
        const result = this.machine.apply(iid, 0, value);
        this.afterApply?.(req);
        return { iid, result };
      };
      const later = (fn: () => void) => setTimeout(fn, this.delay());
      switch (f) {
        case 'ok':
          return later(() => resolve(apply()));
        case 'duplicate':
          return later(() => {
            resolve(apply());
            later(() => apply());
          });
        case 'no-reply':
          return later(() => void apply());
        case 'lose':
          return;
        case 'refuse':
          return later(() => reject(new Error("Cannot propose: the local proposer's queue is full; propose again later")));
        case 'lost-after-apply':
          return later(() => {
            apply();
            reject(new Error('its instance was trimmed before this replica learned whether it was chosen; it may or may not have been'));
          });
        case 'hold':
          this.held.push(() => resolve(apply()));
          return;
      }
    });
  }

  canReadLocally(): boolean {
    return this.leaseHeld;
  }
  isLeader(): boolean {
    return this.leaseHeld;
  }
  leaderId(): number | undefined {
    return 0;
  }
}

const T0 = 1_700_000_000_000;

/** Polls until `check()` (at most 5 s). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

/** The question for the time a follower proposed, if any. */
function question(log: FakeLog): KvRequest | undefined {
  return log.proposed.find((r) => r.now === 0 && r.command.op === 'get' && r.command.keys.length === 0);
}

/** A leader's tick, applied at instance `iid` of this replica. */
function leaderTick(m: KvStateMachine, gw: Gateway, iid: number, now: number): void {
  const tick = { now, command: { op: 'get' as const, keys: [], nonce: 1000 + iid } };
  m.apply(iid, 0, encodeRequest(tick));
  gw.applied(tick);
}

/** A gateway over `log`, told of each apply as kv-server's replica-log tells it. */
function wired(log: FakeLog, o: Omit<GatewayOptions, 'log' | 'machine'>): Gateway {
  const gw = new Gateway({ log, machine: log.machine, ...o });
  log.afterApply = (r) => gw.applied(r);
  return gw;
}
const setCmd = (key: string, value: string, exptime = 0) => ({ op: 'set' as const, key, flags: 0, exptime, value: new TextEncoder().encode(value) });
const incr = (key: string) => ({ op: 'incr' as const, key, delta: 1n });
const numberOf = (r: KvResult) => (r.status === 'number' ? Number(r.value) : NaN);

describe('gateway: exactly-once through the log', () => {
  it('applies each write once although copies are lost, duplicated, unanswered or refused, and answers each with its own result', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { resendMs: 25, deadlineMs: 20_000, now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('n', '0'));
    const rng = new Rng(5);
    log.delay = () => rng.int(15);
    log.fault = (req) => (req.command.op === 'register' ? 'ok' : rng.pick<Fault>(['ok', 'ok', 'duplicate', 'no-reply', 'lose', 'refuse', 'lost-after-apply']));
    const channels = [ch, gw.open(), gw.open(), gw.open()];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (channels[i % 4] as KvChannel).write(incr('n'))));
    const values = results.map(numberOf).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(m.store.stats().counters.incr_hits).toBe(200);
    expect(gw.counts.resent).toBeGreaterThan(50);
    expect(log.proposed.length).toBeGreaterThan(260);
  });

  it('carries a write through when its connection closes before the reply, and gives the session to the next connection', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { resendMs: 20, now: () => T0 });
    const a = gw.open();
    await a.write(setCmd('n', '5'));
    let first = true;
    log.fault = () => (first ? ((first = false), 'no-reply') : 'ok');
    const pending = a.write(incr('n'));
    a.close();
    expect(numberOf(await pending)).toBe(6);
    const b = gw.open();
    expect(numberOf(await b.write(incr('n')))).toBe(7);
    expect(gw.counts.registered).toBe(1);
    expect(m.store.stats().counters.incr_hits).toBe(2);
  });

  it('opens a new session when the state machine forgot the old one, applying the write once', async () => {
    const m = new KvStateMachine({ sessionTtlMs: 1000 });
    const log = new FakeLog(m);
    let now = T0;
    const gw = wired(log, { now: () => now });
    const ch = gw.open();
    expect(numberOf(await ch.write({ op: 'incr', key: 'c', delta: 1n, initial: { value: 10n, exptime: 0 } }))).toBe(10);
    now += 5000; // the session idles past its TTL by the commands' clock
    expect(numberOf(await ch.write(incr('c')))).toBe(11);
    expect(gw.counts.registered).toBe(2);
    expect(gw.counts.redone).toBe(1);
    expect(m.store.stats().counters.incr_hits).toBe(1);
  });

  it('gives a write up after the deadline, saying it may or may not take effect, and a late copy is then refused', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { resendMs: 40, deadlineMs: 150, now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('n', '0'));
    log.fault = () => 'hold';
    const err = await ch.write(incr('n')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvUnavailable);
    expect((err as Error).message).toMatch(/did not decide the incr within 0 s.*may or may not take effect/);
    const held = log.held.splice(0);
    expect(held.length).toBeGreaterThanOrEqual(2);
    log.fault = () => 'ok';
    // The next write acknowledges the one given up; every late copy of it is then refused.
    expect(numberOf(await ch.write(incr('n')))).toBe(1);
    for (const h of held) h();
    expect(numberOf(await ch.write(incr('n')))).toBe(2);
    expect(m.store.stats().counters.incr_hits).toBe(2);
  });

  it('proposes a request in flight again as soon as the leader changes', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { resendMs: 60_000, now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('k', 'v'));
    log.fault = () => 'lose';
    const w = ch.write(setCmd('k', 'w'));
    // Well past the 20 ms within which a leader change does not resend what was just sent (a
    // 20 ms timer can fire a little early by performance.now(), and then nothing was resent).
    await new Promise((r) => setTimeout(r, 60));
    log.fault = () => 'ok';
    gw.leaderChanged();
    expect((await w).status).toBe('stored');
    expect(gw.counts.resent).toBe(1);
  });

  it('fails what is in flight when it closes', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('k', 'v'));
    log.fault = () => 'lose';
    const w = ch.write(setCmd('k', 'w'));
    gw.close();
    await expect(w).rejects.toThrow(/shutting down/);
    await expect(ch.write(setCmd('k', 'x'))).rejects.toThrow(/shutting down/);
  });
});

describe('gateway: reads', () => {
  it('serves a linearizable read from the state under the lease, through the log without it', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('k', 'v'));
    const before = log.proposed.length;
    const lease = await ch.read({ op: 'get', keys: ['k'] }, 'linearizable');
    expect(lease.local).toBe(true);
    expect(log.proposed.length).toBe(before);
    log.leaseHeld = false;
    const through = await ch.read({ op: 'get', keys: ['k', 'q'] }, 'linearizable');
    expect(through.local).toBe(false);
    expect(log.proposed.length).toBe(before + 1);
    expect(log.proposed.at(-1)?.session).toBeUndefined();
    expect(through.result).toEqual(lease.result.status === 'values' ? { status: 'values', hits: lease.result.hits } : null);
    const stale = await ch.read({ op: 'get', keys: ['k'] }, 'stale');
    expect(stale.local).toBe(true);
    expect(log.proposed.length).toBe(before + 1);
  });

  it('judges expiry in a lease read at the log\'s clock, and refreshes that clock through the log when it lags', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    let now = T0;
    const gw = wired(log, { now: () => now, freshClockMs: 1000 });
    const ch = gw.open();
    await ch.write(setCmd('k', 'v', 2)); // expires 2 s after T0 by the log's clock
    now = T0 + 500;
    expect((await ch.read({ op: 'get', keys: ['k'] }, 'linearizable')).local).toBe(true);
    now = T0 + 2500; // past the expiry; the log has not reached that time
    const r = await ch.read({ op: 'get', keys: ['k'] }, 'linearizable');
    expect(r).toEqual({ result: { status: 'values', hits: [] }, local: false });
    expect(m.store.clock).toBe(T0 + 2500);
    // A stale read judges at this replica's time (the leader's: its own clock).
    await ch.write(setCmd('j', 'v', 1));
    now = T0 + 4000;
    expect((await ch.read({ op: 'get', keys: ['j'] }, 'stale')).result).toEqual({ status: 'values', hits: [] });
  });
});

describe('gateway: stats paxos', () => {
  it('digests the store a chunk a turn of the event loop, as of the call however many values are applied meanwhile', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { now: () => T0 });
    // Three chunks of items (4,096 a chunk) and the head and sessions around them.
    for (let i = 1; i <= 9000; i++) m.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i}`, 'v') }));
    const want = m.digest();
    let turns = 0;
    let applied = 9000;
    let done = false;
    const turn = () => {
      if (done) return;
      turns++;
      m.apply(++applied, 0, encodeRequest({ now: T0 + applied, command: setCmd(`k${applied % 7}`, `later ${applied}`) }));
      setImmediate(turn);
    };
    const digest = gw.status().digest();
    setImmediate(turn);
    expect(typeof digest).not.toBe('string');
    expect(await digest).toBe(want);
    done = true;
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(m.digest()).not.toBe(want);
  });
});

describe('gateway: stats paxos under a burst', () => {
  it('shares one digest among requests for the same state, and runs at most 4 of different states at once', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { now: () => T0 });
    for (let i = 1; i <= 9000; i++) m.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i}`, 'v') }));
    const first = gw.status().digest();
    expect(gw.status().digest()).toBe(first);
    const others = [first];
    for (let i = 9001; i <= 9003; i++) {
      m.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd('x', String(i)) }));
      others.push(gw.status().digest());
    }
    m.apply(9004, 0, encodeRequest({ now: T0 + 9004, command: setCmd('x', 'y') }));
    let refused: unknown;
    try {
      gw.status().digest();
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(KvUnavailable);
    expect((refused as KvUnavailable).temporary).toBe(true);
    expect((refused as Error).message).toBe('4 digests of other states are under way; ask again once they are done');
    expect(new Set(await Promise.all(others)).size).toBe(4);
    // Done: the next request for this state starts its own.
    expect(await gw.status().digest()).toBe(m.digest());
  });
});

describe('gateway: time comes from the leader', () => {
  it('as leader: stamps with its wall clock, never lower than a stamp it gave before, and the state machine\'s clock never goes back', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    // The first reading stamps the tick a gateway that starts as leader proposes.
    const clocks = [T0 + 5000, T0 + 5000, T0 + 1000, T0 + 7000, T0 + 2000];
    let i = 0;
    const gw = wired(log, { now: () => clocks[Math.min(i++, clocks.length - 1)] as number, monotonic: () => 0 });
    const stamps = [gw.stamp(), gw.stamp(), gw.stamp(), gw.stamp()];
    expect(stamps).toEqual([T0 + 5000, T0 + 5000, T0 + 7000, T0 + 7000]);
    // An earlier leader's stamps are in the log too; a lower one does not move the clock back.
    m.apply(1, 0, encodeRequest({ now: T0 + 9000, command: setCmd('a', 'x', 1) }));
    m.apply(2, 0, encodeRequest({ now: T0, command: setCmd('b', 'y') }));
    expect(m.store.clock).toBe(T0 + 9000);
    expect(m.store.peek('a')).toBeDefined();
    // A new leader whose clock is behind the log's time stamps the log's time, moving on at its pace.
    gw.applied();
    expect(gw.stamp()).toBe(T0 + 9000);
  });

  it('as follower: stamps with the log\'s time plus what elapsed since it applied it, never with its own wall clock', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    log.leaseHeld = false;
    let mono = 100;
    // This replica's wall clock is an hour ahead; it must not matter while it follows.
    const gw = wired(log, { now: () => T0 + 3_600_000, monotonic: () => mono });
    // It started, replayed the log (the last stamp in it is an hour old) and asked for the time.
    const old = { now: T0 - 3_600_000, command: setCmd('old', 'x') };
    m.apply(1, 0, encodeRequest(old));
    gw.applied(old);
    expect(gw.stamp()).toBeUndefined();
    const ch = gw.open();
    const w = ch.write(setCmd('k', 'v', 10));
    await until(() => question(log) !== undefined);
    await new Promise((r) => setTimeout(r, 20)); // applied here
    expect(log.proposed.filter((r) => r.now !== 0)).toHaveLength(0); // its requests wait for the answer
    // The leader's answer: a tick with its time.
    leaderTick(m, gw, 2, T0);
    mono += 250;
    expect((await w).status).toBe('stored');
    expect(log.proposed.filter((r) => r.now !== 0).map((r) => r.now)).toEqual([T0 + 250, T0 + 250]); // register, then the set
    expect(m.store.clock).toBe(T0 + 250);
    // Time moves on with this replica's monotonic clock; its own stamps do not move its estimate on.
    mono += 5000;
    expect(gw.stamp()).toBe(T0 + 5250);
    gw.applied();
    expect(gw.stamp()).toBe(T0 + 5250);
    // A leader stamp behind the estimate (it was in flight) changes nothing; one ahead is taken.
    leaderTick(m, gw, 9, T0 + 5000);
    expect(gw.stamp()).toBe(T0 + 5250);
    leaderTick(m, gw, 10, T0 + 8000);
    mono += 10;
    expect(gw.stamp()).toBe(T0 + 8010);
    // Stale reads are judged at that time too: the item set at T0 + 250 for 10 s is gone at T0 + 10,250.
    expect((await ch.read({ op: 'get', keys: ['k'] }, 'stale')).result).toMatchObject({ hits: [{ key: 'k' }] });
    mono += 2300;
    expect((await ch.read({ op: 'get', keys: ['k'] }, 'stale')).result).toEqual({ status: 'values', hits: [] });
  });

  it('as follower: a tick applied before its question (an old one, replayed) does not make its time known', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    log.leaseHeld = false;
    const gw = wired(log, { now: () => T0, monotonic: () => 0 });
    leaderTick(m, gw, 1, T0 - 60_000);
    expect(gw.stamp()).toBeUndefined();
    await until(() => question(log) !== undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(gw.stamp()).toBeUndefined();
    leaderTick(m, gw, 3, T0);
    expect(gw.stamp()).toBe(T0);
    expect(gw.counts.timeAsked).toBe(1);
  });

  it('as leader: answers a question for the time with a tick, one at a time', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    log.fault = () => 'hold';
    const gw = wired(log, { now: () => T0 + 7, monotonic: () => 0 });
    expect(log.proposed).toHaveLength(1); // the tick of a gateway that starts as leader
    for (const nonce of [5, 6]) {
      const q = { now: 0, command: { op: 'get' as const, keys: [], nonce } };
      m.apply(nonce, 0, encodeRequest(q));
      gw.applied(q);
    }
    expect(log.proposed).toHaveLength(1); // that tick, in flight, answers both (it comes after them in the log)
    for (const h of log.held.splice(0)) h();
    await new Promise((r) => setTimeout(r, 10));
    const q = { now: 0, command: { op: 'get' as const, keys: [], nonce: 8 } };
    m.apply(8, 0, encodeRequest(q));
    gw.applied(q);
    expect(log.proposed).toHaveLength(2);
    expect(log.proposed[1]).toMatchObject({ now: T0 + 7, command: { op: 'get', keys: [] } });
  });

  it('on taking the lease, puts its time into the log with a keyless get; a follower proposes none', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    log.leaseHeld = false;
    const gw = wired(log, { now: () => T0 + 42, monotonic: () => 0 });
    // A follower asks for the time as it starts (a keyless get stamped 0), and ticks never.
    expect(log.proposed).toEqual([{ now: 0, command: { op: 'get', keys: [], nonce: expect.any(Number) as number } }]);
    gw.leaderChanged();
    await new Promise((r) => setTimeout(r, 20));
    expect(log.proposed).toHaveLength(1);
    log.leaseHeld = true;
    gw.leaderChanged();
    await new Promise((r) => setTimeout(r, 20));
    expect(log.proposed).toHaveLength(2);
    expect(log.proposed[1]).toMatchObject({ now: T0 + 42, command: { op: 'get', keys: [] } });
    expect(log.proposed[1]?.session).toBeUndefined();
    expect(m.store.clock).toBe(T0 + 42);
    expect(m.store.stats().counters.cmd_get).toBe(0);
  });

  it('without leadership (leader no), every replica stamps with its own clock', () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    log.leaseHeld = false;
    const gw = wired(log, { now: () => T0 + 3, monotonic: () => 0, leadership: false });
    expect(gw.stamp()).toBe(T0 + 3);
    expect(log.proposed).toHaveLength(0);
  });

  it('proposes each get through the log with a nonce of its own, so equal gets are different bytes', async () => {
    const m = new KvStateMachine();
    const log = new FakeLog(m);
    const gw = wired(log, { now: () => T0 });
    const ch = gw.open();
    await ch.write(setCmd('k', 'v'));
    log.leaseHeld = false;
    await Promise.all([ch.read({ op: 'get', keys: ['k'] }, 'linearizable'), gw.open().read({ op: 'get', keys: ['k'] }, 'linearizable')]);
    const gets = log.proposed.filter((r) => r.command.op === 'get' && r.command.keys.length > 0);
    expect(gets).toHaveLength(2);
    expect(new Set(gets.map((r) => (r.command.op === 'get' ? r.command.nonce : undefined))).size).toBe(2);
  });
});

describe('replica-log: the KV store as the replica\'s state machine', () => {
  async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }

  it('applies each value, returns its result and tells the gateway, with the request or nothing for bytes that are no request', () => {
    const kv = new ReplicatedKv(new KvStateMachine());
    const seen: (string | undefined)[] = [];
    kv.onApplied = (r) => seen.push(r?.command.op);
    const set = decodeResult(kv.apply(1, 0, encodeRequest({ now: T0, command: setCmd('k', 'v') })));
    expect(set.status).toBe('stored');
    const get = decodeResult(kv.apply(2, 0, encodeRequest({ now: T0 + 1, command: { op: 'get', keys: ['k'], nonce: 1 } })));
    expect(get.status === 'values' ? get.hits.map((h) => new TextDecoder().decode(h.value)) : get).toEqual(['v']);
    expect(decodeResult(kv.apply(3, 0, new Uint8Array([0xc1, 0x00]))).status).toBe('invalid');
    expect(seen).toEqual(['set', 'get', undefined]);
    expect(kv.machine.lastApplied).toEqual({ iid: 3, index: 0 });
  });

  it('restores a snapshot streamed in chunks, and refuses one of another instance without touching the store', async () => {
    const a = new ReplicatedKv(new KvStateMachine());
    for (let i = 1; i <= 50; i++) a.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i}`, `v${i}`) }));
    const snap = await readAll(a.snapshot());
    const b = new ReplicatedKv(new KvStateMachine());
    b.apply(1, 0, encodeRequest({ now: T0, command: setCmd('other', 'x') }));
    let told = 0;
    b.onApplied = (r) => {
      expect(r).toBeUndefined();
      told++;
    };
    await expect(b.restore(chunks(snap, 7), 49)).rejects.toThrow(/holds values of instance 50, so it is not the state as of instance 49/);
    expect(b.machine.lastApplied.iid).toBe(1);
    expect(told).toBe(0);
    await b.restore(chunks(snap, 7), 50);
    expect(told).toBe(1);
    expect(b.machine.digest()).toBe(a.machine.digest());
    expect(b.machine.store.clock).toBe(T0 + 50);
  });

  it('restores a large snapshot a piece at a time with turns of the event loop between, the store replaced at the end', async () => {
    const a = new ReplicatedKv(new KvStateMachine());
    for (let i = 1; i <= 9000; i++) a.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i}`, 'v') }));
    const snap = a.machine.snapshot();
    const b = new ReplicatedKv(new KvStateMachine());
    b.apply(1, 0, encodeRequest({ now: T0, command: setCmd('other', 'x') }));
    const before = b.machine.digest();
    let turns = 0;
    let sameMeanwhile = true;
    let done = false;
    const turn = () => {
      if (done) return;
      turns++;
      // What local reads would see meanwhile: the store as it was.
      if (b.machine.digest() !== before) sameMeanwhile = false;
      setImmediate(turn);
    };
    setImmediate(turn);
    await b.restore(chunks(snap, 4096), 9000);
    done = true;
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(sameMeanwhile).toBe(true);
    expect(b.machine.digest()).toBe(a.machine.digest());
  });

  it('writes a snapshot a chunk at a time with a turn of the event loop between chunks, as of the call however many values are applied meanwhile', async () => {
    const a = new ReplicatedKv(new KvStateMachine());
    for (let i = 1; i <= 50; i++) a.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i}`, `v${i}`) }));
    const digest = a.machine.digest();
    const stream = a.snapshot()[Symbol.asyncIterator]();
    const read: Uint8Array[] = [];
    let turns = 0;
    for (let i = 51; ; i++) {
      let turned = false;
      setImmediate(() => (turned = true));
      const next = await stream.next();
      if (next.done === true) break;
      if (read.length > 0 && turned) turns++;
      read.push(next.value);
      a.apply(i, 0, encodeRequest({ now: T0 + i, command: setCmd(`k${i % 3}`, `later ${i}`) }));
    }
    // The head, the items, the sessions; the event loop turned before each chunk after the first.
    expect(read.length).toBe(3);
    expect(turns).toBe(2);
    const b = new ReplicatedKv(new KvStateMachine());
    await b.restore((async function* () {
      yield* read;
    })(), 50);
    expect(b.machine.digest()).toBe(digest);
    expect(a.machine.digest()).not.toBe(digest);
  });
});

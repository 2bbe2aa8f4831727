/**
 * This replica's gateway into the replicated log: the `KvBackend` of a kv-server. It owns what
 * lies between a memcached connection and the log:
 *
 * - **Exactly-once inside the cluster.** Every write travels in a client session of the state
 *   machine (paxos-kv's sessions.ts): the gateway opens sessions through the log and tags each
 *   write with its session, a sequence number and how far it has received results. It proposes a
 *   write again, with the same session and sequence number, when no result came within
 *   `resendMs`, when the leader changed, or when the local proposer gave the value up; the state
 *   machine applies the first copy and answers every later one with the first result. A memcached
 *   client has no session id of its own, so a session belongs to one connection at a time (a pool
 *   hands sessions of closed connections to new ones, saving a registration through the log).
 * - **What a client gets.** A write answered with a result was applied exactly once. A write whose
 *   connection dropped before its reply is still carried through by the gateway and applied at most
 *   once (a client that reconnects and looks finds it applied once, or not at all if the gateway's
 *   replica died with it). A write the cluster could not decide within `deadlineMs` is answered
 *   `SERVER_ERROR … may or may not take effect` and is still applied at most once: later requests
 *   of its session acknowledge it, after which the state machine refuses any late copy. memcached's
 *   protocols have no request ids, so a request the *client* sends twice is two requests.
 * - **Time comes from the leader.** The state machine's clock is the largest stamp applied so far
 *   (it never goes back), and expiry is decided by the log alone, the same on every replica. Only
 *   the leader's wall clock puts time into the log: the leader stamps its requests with it (and
 *   proposes a keyless get when it takes the lease, so the log soon holds its time). A follower's
 *   wall clock never enters: evpaxos forwards a follower's request to the leader as opaque bytes
 *   (matched to its delivery by those bytes), so the leader cannot restamp it; the follower stamps
 *   it with its estimate of the leader's clock instead, the log's clock plus the time elapsed on
 *   this replica's monotonic clock since it applied that value, which lags the leader by the time a
 *   value takes to reach it and runs at most as fast as the lease already assumes (bounded clock
 *   rate drift). The estimate must rest on a leader's stamp that is recent: a follower that just
 *   started (and replayed old stamps from the log, maybe after an idle hour) asks for the time: it
 *   proposes a keyless get stamped 0, the leader answers each it applies with a clock tick, and
 *   the follower's requests wait until it has applied a tick after its question. So a replica whose
 *   wall clock is off changes nothing while it follows; as leader its clock is the cluster's (keep
 *   the replicas' clocks synchronised, NTP, as memcached's expiry assumes of one machine's clock; a
 *   new leader whose clock is behind cannot move time back, and moves it on at the log's pace).
 *   Without leadership (`leader no`) every replica proposes, so each stamps with its own clock.
 * - **Reads.** Linearizable by default: served from this replica's state when it holds the leader
 *   lease (`canReadLocally()`) and the log's clock is fresh (within `freshClockMs` of the leader's
 *   time, so that expiry in a lease read is judged at a time the log has reached), otherwise
 *   proposed through the log like a write (without a session: a get changes nothing, so running
 *   it twice is harmless; such a get also refreshes the log's clock) and answered from where it
 *   landed. Stale reads (the stale-read port) are served from this replica's state as it is,
 *   judged at this replica's estimate of the leader's time.
 */
import { decodeResult, digestChunksAsync, encodeRequest, KvStateMachine, type GetCommand, type KvRequest, type KvResult } from '@libpaxos/paxos-kv';
import { yieldBetween } from './turns.js';
import { KvUnavailable, type BackendStatus, type KvBackend, type KvChannel, type ReadMode, type ReadOutcome, type WriteCommand } from './backend.js';

/** What the gateway needs from the replication layer (an evpaxos replica handle, adapted). */
export interface ReplicatedLog {
  /**
   * Proposes a value; resolves once this replica has applied it, with the state machine's result.
   * May never resolve (the gateway resends), or reject with an Error saying why.
   */
  propose(value: Uint8Array): Promise<{ readonly iid: number; readonly result: Uint8Array }>;
  /** A read of the applied state now is linearizable (this replica holds the lease and has caught up). */
  canReadLocally(): boolean;
  isLeader(): boolean;
  /** The leader as this replica sees it. */
  leaderId(): number | undefined;
}

export interface GatewayOptions {
  readonly log: ReplicatedLog;
  /** The state machine this replica applies the log to. */
  readonly machine: KvStateMachine;
  /** Wall clock, ms since the epoch: the stamps while this replica leads (default Date.now). */
  readonly now?: () => number;
  /** A monotonic clock in ms (default performance.now): how far time has moved on since this replica applied a stamp. */
  readonly monotonic?: () => number;
  /** Propose a request again when no result came within this many ms (default 3000). */
  readonly resendMs?: number;
  /** Give a request up after this many ms (default 30,000). */
  readonly deadlineMs?: number;
  /** Requests of one session in flight beyond what it has acknowledged (default 256; below the state machine's maxPendingPerSession). */
  readonly window?: number;
  /** A lease read needs the log's clock within this many ms of ours (default 1000, memcached's clock tick). */
  readonly freshClockMs?: number;
  /** Sessions of closed connections kept for reuse (default 64). */
  readonly idleSessions?: number;
  /** Randomness for the nonces of registrations and gets (default Math.random). */
  readonly random?: () => number;
  /** The cluster has a leader (`leader yes`, the default); without one every replica stamps with its own clock. */
  readonly leadership?: boolean;
}

/** One of the state machine's client sessions, used by one connection at a time. */
class GatewaySession {
  nextSeq = 1;
  /** Every seq up to here has its result (sent as `ack`, so the state machine may forget them). */
  acked = 0;
  private readonly doneAbove = new Set<number>();
  inFlight = 0;
  /** The state machine no longer knows this session: never use it again. */
  broken = false;
  /** When it was last used, on the gateway's clock (idle sessions expire in the state machine). */
  lastUsed: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly id: number,
    now: number,
  ) {
    this.lastUsed = now;
  }

  issue(now: number): number {
    this.inFlight++;
    this.lastUsed = now;
    return this.nextSeq++;
  }

  settle(seq: number): void {
    this.inFlight--;
    this.doneAbove.add(seq);
    while (this.doneAbove.delete(this.acked + 1)) this.acked++;
    for (const w of this.waiting.splice(0)) w();
  }

  hasRoom(window: number): boolean {
    return this.nextSeq - 1 - this.acked < window;
  }

  waitForRoom(): Promise<void> {
    return new Promise((r) => this.waiting.push(r));
  }

  wakeAll(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

/** How one request's attempts ended. */
type Ending = { readonly kind: 'result'; readonly result: KvResult } | { readonly kind: 'redo' } | { readonly kind: 'failed'; readonly error: KvUnavailable };

/** What to make of a result: settle with an ending, or try again after a pause. */
type Verdict = Ending | { readonly kind: 'retry' };

/** A request being proposed until it has an ending: the gateway nudges it when the leader changes. */
interface InFlight {
  resendNow(): void;
  abort(error: KvUnavailable): void;
}

/** `stats paxos` digests of different states under way at once, at most (see `Gateway.digests`). */
const MAX_DIGESTS = 4;

export class Gateway implements KvBackend {
  readonly machine: KvStateMachine;
  private readonly log: ReplicatedLog;
  /** The wall clock (ms since the epoch). */
  readonly now: () => number;
  private readonly monotonic: () => number;
  /**
   * The latest log time this replica knows and when (monotonic clock) it learned it: the largest
   * clock the state machine reached, unless this replica's estimate was already past it.
   */
  private basis: { readonly clock: number; readonly at: number } | undefined;
  /** The basis rests on this replica's own wall clock or on a leader's tick applied after it asked for the time. */
  private timeKnown: boolean;
  /** This replica's question for the time (a keyless get stamped 0), while one is open. */
  private asking: { readonly nonce: number; answered: boolean } | undefined;
  private tickInFlight = false;
  private readonly leadership: boolean;
  private readonly resendMs: number;
  private readonly deadlineMs: number;
  /** Requests of one session in flight beyond what it has acknowledged. */
  readonly window: number;
  private readonly freshClockMs: number;
  private readonly idleLimit: number;
  private readonly random: () => number;
  private readonly idle: GatewaySession[] = [];
  private readonly inFlight = new Set<InFlight>();
  private lastStamp = 0;
  private closed = false;
  /**
   * `stats paxos` digests under way, by the state's log position: asked again for the same state
   * (a pipelined burst, a poll from several monitors) they share one, and at most MAX_DIGESTS of
   * different states run at once, since each holds an image of the whole store until it is done.
   */
  private readonly digests = new Map<string, Promise<string>>();
  /** Counters for tests and logs. */
  readonly counts = { registered: 0, proposals: 0, resent: 0, logReads: 0, leaseReads: 0, staleReads: 0, redone: 0, gaveUp: 0, ticks: 0, timeAsked: 0 };

  constructor(o: GatewayOptions) {
    this.log = o.log;
    this.machine = o.machine;
    this.now = o.now ?? Date.now;
    this.monotonic = o.monotonic ?? (() => performance.now());
    this.resendMs = o.resendMs ?? 3000;
    this.deadlineMs = o.deadlineMs ?? 30_000;
    this.window = Math.min(o.window ?? 256, Math.max(1, this.machine.store.config.sessions.maxPending - 1));
    this.freshClockMs = o.freshClockMs ?? 1000;
    this.idleLimit = o.idleSessions ?? 64;
    this.random = o.random ?? Math.random;
    this.leadership = o.leadership ?? true;
    this.timeKnown = !this.leadership;
    // What the replica applied before the gateway existed is a first basis (not a known time: it
    // may be old; requests wait for the leader's answer to this replica's question).
    this.applied();
    // Asked at once, so that the first request a client sends here need not wait for the answer.
    if (this.leadership) {
      if (this.log.isLeader()) this.tick();
      else this.askTime();
    }
  }

  open(): KvChannel {
    return new GatewayChannel(this);
  }

  status(): BackendStatus {
    const m = this.machine;
    return {
      store: m.store.stats(),
      leader: this.log.isLeader(),
      leaderId: this.log.leaderId(),
      lastApplied: m.lastApplied.iid,
      clock: m.store.clock,
      digest: () => this.digest(),
    };
  }

  /** A digest of the state as of now, taken a chunk a turn (in one pass, 400,000 items stopped the loop for 0.3 s). */
  private digest(): Promise<string> {
    const { iid, index } = this.machine.lastApplied;
    const at = `${iid}/${index}`;
    const running = this.digests.get(at);
    if (running !== undefined) return running;
    if (this.digests.size >= MAX_DIGESTS) {
      throw new KvUnavailable(`${this.digests.size} digests of other states are under way; ask again once they are done`, true);
    }
    const d = digestChunksAsync(yieldBetween(this.machine.digestedChunks()));
    this.digests.set(at, d);
    const done = () => void this.digests.delete(at);
    d.then(done, done);
    return d;
  }

  /**
   * The leader changed: propose every request in flight again now (the new leader may never have
   * seen it). When this replica took the lease, it puts its time into the log (followers waiting
   * for a first stamp, and lease reads, need it there).
   */
  leaderChanged(): void {
    for (const r of [...this.inFlight]) r.resendNow();
    if (this.log.isLeader() && !this.closed) this.tick();
  }

  /**
   * A keyless get stamped with this leader's time: moves the log's clock, changes nothing else.
   * One at a time: a question applied while a tick is in flight is answered by that tick, which
   * every replica applies after the question.
   */
  private tick(): void {
    if (this.tickInFlight || this.closed) return;
    this.tickInFlight = true;
    this.counts.ticks++;
    void this.propose(
      'clock tick',
      () => this.stamped({ op: 'get', keys: [], nonce: this.nonce() }),
      (r) => ({ kind: 'result', result: r }),
    ).then(() => {
      this.tickInFlight = false;
    });
  }

  /** Asks the leader for its time, unless a question is open. */
  private askTime(): void {
    if (this.asking !== undefined || this.closed) return;
    // One nonce for every copy: a resent question is the same bytes, and any copy will do.
    const ask = { nonce: this.nonce(), answered: false };
    this.asking = ask;
    this.counts.timeAsked++;
    void this.propose(
      'question for the time',
      () => ({ now: 0, command: { op: 'get', keys: [], nonce: ask.nonce } }),
      (r) => ({ kind: 'result', result: r }),
    ).then(() => {
      // Answered or not (no leader until the deadline), a later request may ask again.
      setTimeout(() => {
        if (this.asking === ask) this.asking = undefined;
      }, 1000).unref?.();
    });
  }

  /** Fails every request in flight and every later one (the server is stopping). */
  close(): void {
    this.closed = true;
    const err = new KvUnavailable('the server is shutting down; the request may or may not take effect', true);
    for (const r of [...this.inFlight]) r.abort(err);
    for (const s of this.idle.splice(0)) s.wakeAll();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- time ----

  /**
   * This replica applied a value, `request` if it decoded (the replication layer calls this after
   * each): when the log's clock moved past this replica's estimate of the leader's time, the
   * estimate starts from it; a question for the time is answered with a tick when this replica
   * leads; a tick after this replica's own question makes its estimate known.
   */
  applied(request?: KvRequest): void {
    const clock = this.machine.store.clock;
    if (clock > 0 && clock > (this.logTime() ?? -Infinity)) this.basis = { clock, at: this.monotonic() };
    const c = request?.command;
    if (c === undefined || c.op !== 'get' || c.keys.length > 0 || request?.session !== undefined) return;
    if (request?.now === 0) {
      if (this.asking !== undefined && this.asking.nonce === c.nonce) this.asking.answered = true;
      else if (this.leadership && this.log.isLeader()) this.tick();
    } else if (this.asking?.answered === true) {
      // A leader's tick (only leaders propose keyless gets with a time) after the question: the
      // log's clock is now a leader's recent time, and the estimate continues from it.
      this.timeKnown = true;
      this.asking = undefined;
      this.basis = { clock, at: this.monotonic() };
    }
  }

  /** This replica's estimate of the leader's time: the log's latest clock plus the time elapsed since (undefined: none applied yet). */
  private logTime(): number | undefined {
    const b = this.basis;
    return b === undefined ? undefined : b.clock + Math.max(0, this.monotonic() - b.at);
  }

  /** Whether this replica stamps with its own wall clock: it leads, or nobody does. */
  private ownClock(): boolean {
    return !this.leadership || this.log.isLeader();
  }

  /**
   * The time as this replica knows it: its wall clock when it stamps with it (or the log's time,
   * if later), else its estimate of the leader's (its wall clock only if it has none at all).
   */
  time(): number {
    const est = this.logTime();
    if (this.ownClock() || est === undefined) return Math.max(Math.floor(this.now()), Math.floor(est ?? 0));
    return Math.floor(est);
  }

  /**
   * The stamp of a request proposed now: the leader's wall clock (or the log's time, if that is
   * later), a follower's estimate of it, never below a stamp this gateway gave before; undefined
   * while a follower's estimate is not known to rest on a recent leader stamp (it has asked for the
   * time; its requests wait for the answer).
   */
  stamp(): number | undefined {
    let t: number;
    if (this.ownClock()) {
      t = this.time();
      // Its own stamps are a time it knows, should it follow later.
      this.timeKnown = true;
    } else {
      const est = this.logTime();
      if (!this.timeKnown || est === undefined) {
        this.askTime();
        return undefined;
      }
      t = est;
    }
    this.lastStamp = Math.max(this.lastStamp, Math.floor(t));
    return this.lastStamp;
  }

  private stamped(command: KvRequest['command'], session?: KvRequest['session']): KvRequest | undefined {
    const now = this.stamp();
    if (now === undefined) return undefined;
    return session === undefined ? { now, command } : { now, session, command };
  }

  private nonce(): number {
    return Math.floor(this.random() * Number.MAX_SAFE_INTEGER);
  }

  // ---- reads ----

  read(command: GetCommand, mode: ReadMode): ReadOutcome | Promise<ReadOutcome> {
    const store = this.machine.store;
    if (mode === 'stale') {
      this.counts.staleReads++;
      return { result: { status: 'values', hits: store.read(command.keys, this.time()) }, local: true };
    }
    if (this.log.canReadLocally() && this.time() - store.clock < this.freshClockMs) {
      this.counts.leaseReads++;
      // Judged at the log's clock, not ours: a later request in the log can only be later.
      return { result: { status: 'values', hits: store.read(command.keys, store.clock) }, local: true };
    }
    this.counts.logReads++;
    // Each copy with a nonce of its own: see GetCommand.
    return this.propose('get', () => this.stamped({ op: 'get', keys: command.keys, nonce: this.nonce() }), (r) => ({ kind: 'result', result: r })).then((e) => {
      if (e.kind === 'result') return { result: e.result, local: false };
      throw e.kind === 'failed' ? e.error : new KvUnavailable('internal error: a read asked to be redone', false);
    });
  }

  // ---- sessions ----

  /** An idle session still known to the state machine, or a new one registered through the log. */
  async acquire(): Promise<GatewaySession> {
    const ttl = this.machine.store.config.sessions.ttlMs;
    const now = this.time();
    while (this.idle.length > 0) {
      const s = this.idle.pop() as GatewaySession;
      // Idle for more than half its TTL: it may be gone (a first request would find out, safely,
      // but registering costs the same as that failed request).
      if (!s.broken && now - s.lastUsed < ttl / 2) return s;
    }
    return this.register();
  }

  /** A closed connection's session, once nothing of it is in flight: kept for the next connection. */
  release(s: GatewaySession): void {
    if (s.broken || this.closed || s.inFlight > 0 || this.idle.includes(s)) return;
    if (this.idle.length < this.idleLimit) this.idle.push(s);
  }

  private register(): Promise<GatewaySession> {
    return this.propose(
      'register',
      () => this.stamped({ op: 'register', nonce: this.nonce() }),
      (r) => (r.status === 'session' ? { kind: 'result', result: r } : { kind: 'failed', error: new KvUnavailable(`opening a session failed: ${describe(r)}`, true) }),
      // A registration proposed twice opens two sessions: keep the spare one for another connection.
      (late) => {
        if (late.status === 'session' && !this.closed && this.idle.length < this.idleLimit) this.idle.push(new GatewaySession(late.id, this.time()));
      },
    ).then((e) => {
      if (e.kind === 'result' && e.result.status === 'session') {
        this.counts.registered++;
        return new GatewaySession(e.result.id, this.time());
      }
      throw e.kind === 'failed' ? e.error : new KvUnavailable('internal error: a registration asked to be redone', false);
    });
  }

  /** Carries one write of session `s` as sequence number `seq` through the log until it has an ending. */
  runWrite(s: GatewaySession, seq: number, command: WriteCommand): Promise<Ending> {
    let maybeApplied = false;
    return this.propose(
      command.op,
      () => this.stamped(command, { id: s.id, seq, ack: s.acked }),
      (r): Verdict => {
        switch (r.status) {
          case 'session_unknown':
            // Session ids are never reused and a session never comes back, and this replica applies
            // the log in order: every copy of this request decided before this one was answered
            // first, and none was a result. Unless a copy's fate was lost (below), nothing was applied.
            return maybeApplied
              ? { kind: 'failed', error: new KvUnavailable(`session ${s.id} expired while its request ${seq} was in flight; the request may or may not have taken effect`, false) }
              : { kind: 'redo' };
          case 'session_busy':
            return { kind: 'retry' };
          case 'session_stale':
            return { kind: 'failed', error: new KvUnavailable(`internal error: request ${seq} of session ${s.id} was acknowledged before its result came; it may or may not have taken effect`, false) };
          default:
            return { kind: 'result', result: r };
        }
      },
      undefined,
      (e) => {
        // The local proposer gave up a copy after its instance was trimmed unseen: that copy may
        // have been applied without this replica seeing its result.
        if (/may or may not/.test(e.message)) maybeApplied = true;
      },
    );
  }

  /**
   * Proposes `make()` until `judge` settles a result, resending after `resendMs`, at once when the
   * leader changes, and after a short pause when the local replica refuses or gives a copy up;
   * fails after `deadlineMs`. Results of copies that come after the ending go to `late`.
   */
  private propose(
    what: string,
    /** The request to propose now; undefined: it cannot be stamped yet (try again shortly). */
    make: () => KvRequest | undefined,
    judge: (r: KvResult) => Verdict,
    late?: (r: KvResult) => void,
    refused?: (e: Error) => void,
  ): Promise<Ending> {
    return new Promise<Ending>((resolve) => {
      const started = performance.now();
      let ended = false;
      let timer: NodeJS.Timeout | undefined;
      let lastSent = -Infinity;
      let refusals = 0;
      let lastRefusal = '';
      const end = (e: Ending) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        this.inFlight.delete(handle);
        resolve(e);
      };
      const wait = (ms: number) => {
        clearTimeout(timer);
        const left = this.deadlineMs - (performance.now() - started);
        timer = setTimeout(send, Math.max(0, Math.min(ms, left)));
      };
      const send = () => {
        if (ended) return;
        if (this.closed) return end({ kind: 'failed', error: new KvUnavailable('the server is shutting down; the request may or may not take effect', true) });
        const elapsed = performance.now() - started;
        if (elapsed >= this.deadlineMs) {
          this.counts.gaveUp++;
          const why = lastRefusal !== '' ? ` (the last refusal: ${lastRefusal})` : ' (no leader, or no quorum of replicas, answered)';
          const changesNothing = what === 'get' || what === 'register' || what === 'clock tick' || what === 'question for the time';
          const effect = changesNothing ? '' : lastSent === -Infinity ? '; the request was not applied' : '; the request may or may not take effect';
          return end({ kind: 'failed', error: new KvUnavailable(`the cluster did not decide the ${what} within ${Math.round(this.deadlineMs / 1000)} s${why}${effect}`, true) });
        }
        let request: KvRequest | undefined;
        let value: Uint8Array;
        try {
          request = make();
          if (request === undefined) {
            lastRefusal = 'this replica has applied no time stamped by a leader yet, so it cannot stamp requests';
            return wait(50);
          }
          value = encodeRequest(request);
        } catch (e) {
          return end({ kind: 'failed', error: new KvUnavailable(`internal error: the request cannot be encoded: ${(e as Error).message}`, false) });
        }
        if (lastSent > -Infinity) this.counts.resent++;
        lastSent = performance.now();
        this.counts.proposals++;
        this.log.propose(value).then(
          (d) => {
            let r: KvResult;
            try {
              r = decodeResult(d.result);
            } catch (e) {
              return end({ kind: 'failed', error: new KvUnavailable(`internal error: the state machine's result cannot be read: ${(e as Error).message}`, false) });
            }
            if (ended) return late?.(r);
            const v = judge(r);
            if (v.kind === 'retry') return wait(50);
            end(v);
          },
          (e: unknown) => {
            if (ended) return;
            const err = e instanceof Error ? e : new Error(String(e));
            refused?.(err);
            lastRefusal = err.message;
            // Refused here (queue full, no replica reachable, closing): try again soon, backing off.
            wait(Math.min(this.resendMs, 25 * 2 ** Math.min(refusals++, 8)));
          },
        );
        wait(this.resendMs);
      };
      const handle: InFlight = {
        resendNow: () => {
          if (!ended && performance.now() - lastSent > 20) send();
        },
        abort: (error) => end({ kind: 'failed', error }),
      };
      this.inFlight.add(handle);
      send();
    });
  }
}

/** One connection's channel: its session (taken when it first writes) and its writes. */
class GatewayChannel implements KvChannel {
  private session: GatewaySession | undefined;
  private acquiring: Promise<GatewaySession> | undefined;
  private closed = false;

  constructor(private readonly gw: Gateway) {}

  read(command: GetCommand, mode: ReadMode): ReadOutcome | Promise<ReadOutcome> {
    if (this.gw.isClosed) throw new KvUnavailable('the server is shutting down', true);
    return this.gw.read(command, mode);
  }

  async write(command: WriteCommand): Promise<KvResult> {
    for (let attempt = 1; ; attempt++) {
      if (this.gw.isClosed) throw new KvUnavailable('the server is shutting down; the request was not applied', true);
      const s = await this.sessionFor();
      while (!s.hasRoom(this.gw.window) && !s.broken && !this.gw.isClosed) await s.waitForRoom();
      if (s.broken || this.gw.isClosed) continue;
      const seq = s.issue(this.gw.time());
      let e: Ending;
      try {
        e = await this.gw.runWrite(s, seq, command);
      } finally {
        s.settle(seq);
        if (this.closed && s.inFlight === 0) this.gw.release(s);
      }
      if (e.kind === 'result') return e.result;
      if (e.kind === 'failed') throw e.error;
      // The state machine no longer knows the session and nothing was applied: open another.
      s.broken = true;
      s.wakeAll();
      if (this.session === s) this.session = undefined;
      this.gw.counts.redone++;
      if (attempt >= 3) throw new KvUnavailable(`internal error: ${attempt} sessions in a row were unknown to the state machine; the request was not applied`, false);
    }
  }

  private sessionFor(): Promise<GatewaySession> {
    if (this.session !== undefined && !this.session.broken) return Promise.resolve(this.session);
    this.acquiring ??= this.gw.acquire().then(
      (s) => {
        this.acquiring = undefined;
        this.session = s;
        return s;
      },
      (e: unknown) => {
        this.acquiring = undefined;
        throw e;
      },
    );
    return this.acquiring;
  }

  close(): void {
    this.closed = true;
    const s = this.session;
    if (s !== undefined && s.inFlight === 0) this.gw.release(s);
  }
}

function describe(r: KvResult): string {
  return r.status === 'invalid' ? r.reason : r.status;
}

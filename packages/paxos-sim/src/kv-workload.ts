import { Prng, type Decision } from '@libpaxos/paxos-core';
import {
  checkOperations,
  decodeRequest,
  encodeRequest,
  keyToBytes,
  KvCodecError,
  KvStateMachine,
  memcachedModel,
  modelInput,
  modelOutput,
  UNKNOWN,
  type Hit,
  type Key,
  type KvCommand,
  type KvRequest,
  type KvResult,
  type McInput,
  type McOutput,
  type Operation,
} from '@libpaxos/paxos-kv';
import { deliverableElements } from './oracle-values.js';
import type { Mutant } from './options.js';
import { makeValue, valueId } from './workload.js';

/**
 * The KV workload (issue 13's linearizability check in the simulator): closed-loop memcached
 * clients with exactly-once sessions drive the pure paxos-kv state machine that every application
 * (learner, replica, and with leadership every split proposer, for its lease reads) applies the
 * log to. What clients see — call and reply in simulated time, or no reply at all — is the
 * history the linearizability checker judges at the end of the run.
 *
 * A client request is a Paxos value: the simulator's 6-byte value id (so the delivery oracle sees
 * one client value per attempt, as for the plain workload) followed by the request as paxos-kv's
 * command codec encodes it. A retry is a new value carrying the same session seq: the state
 * machine's session table must answer it with the first result instead of applying it again.
 */

/** The simulator's side, as the workload needs it. */
export interface KvHost {
  readonly now: number;
  readonly healed: boolean;
  /** Messages may be lost (the fault phase). */
  readonly lossy: boolean;
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly faultMs: number;
  readonly leadership: boolean;
  readonly batched: boolean;
  /** Gateways clients send to (proposers or replicas), and nodes whose applications answer writes. */
  readonly gateways: readonly number[];
  readonly answerers: readonly number[];
  isUp(node: number): boolean;
  incarnation(node: number): number;
  /** Submits a client value at a node that is up (as the plain workload's submit does). */
  propose(node: number, value: Uint8Array): void;
  /**
   * Whether the node says a read of its applied state is linearizable now (canReadLocally on its
   * own clock), and the instance its learner will deliver next.
   */
  leaseRead(node: number): { readonly canRead: boolean; readonly nextIid: number } | undefined;
  schedule(at: number, ev: KvEvent): void;
}

export type KvEvent =
  | { readonly t: 'next'; readonly client: number }
  | { readonly t: 'timeout'; readonly client: number; readonly attempt: number }
  | { readonly t: 'reply'; readonly client: number; readonly op: number; readonly result: KvResult };

export interface KvFigures {
  /** Operations in the checked history (register excluded), and those without a reply (unknown outcome). */
  readonly operations: number;
  readonly unknown: number;
  /** Operations a client gave up on after a few attempts (their outcomes are unknown). */
  readonly abandoned: number;
  readonly localReads: number;
  readonly retries: number;
  /** The checker's verdict on the history. */
  readonly verdict: 'ok' | 'illegal' | 'unknown';
  readonly checkSteps: number;
}

/** One node's application: the KV state machine and how far it has applied the log. */
class KvApp {
  readonly machine = new KvStateMachine();
  appliedThrough: number;
  /** It missed an instance (a split proposer's learner that jumped a trim): never read from it. */
  broken = false;
  constructor(from: number) {
    this.appliedThrough = from;
    // Only an application that started from the beginning holds the whole state.
    this.broken = from !== 0;
  }
}

interface PendingOp {
  /** Index in the history; -1 for a session registration. */
  readonly index: number;
  readonly command: KvCommand;
  readonly seq: number;
  attempts: number;
  /** The attempt the client waits on (its timeout is armed for it). */
  latest: number;
}

interface Client {
  readonly id: number;
  session: number;
  seq: number;
  /** The next value seq (each attempt is its own client value). */
  valueSeq: number;
  pending: PendingOp | undefined;
  /** Last CAS unique this client saw per key (for cas). */
  readonly seen: Map<Key, number>;
  writes: number;
}

interface Attempt {
  readonly client: number;
  readonly op: PendingOp;
  readonly answerer: number;
  readonly incarnation: number;
}

type HistoryOp = { -readonly [K in keyof Operation<McInput, McOutput>]: Operation<McInput, McOutput>[K] };

const KEYS: readonly Key[] = ['k0', 'k1', 'k2'];
const REGISTER = -1;

export class KvWorkload {
  private readonly rng: Prng;
  private readonly clients: Client[] = [];
  private readonly apps = new Map<number, KvApp>();
  /** Per node: the furthest application state an earlier incarnation reached, if not the current one. */
  private readonly checkpoints = new Map<number, KvApp>();
  /** Attempt by value id. */
  private readonly attempts = new Map<number, Attempt>();
  private readonly history: HistoryOp[] = [];
  private readonly timeoutMs: number;
  private readonly thinkMs: number;
  private localReads = 0;
  private retries = 0;
  private abandoned = 0;
  private issued = 0;

  constructor(
    private readonly host: KvHost,
    seed: number,
    clients: number,
    private readonly maxOps: number,
    private readonly mutant: Mutant | undefined,
  ) {
    this.rng = new Prng(seed * 3 + 5);
    this.timeoutMs = this.rng.pick([300, 800, 2000]);
    this.thinkMs = this.rng.pick([0, 5, 20]);
    for (let id = 0; id < clients; id++) this.clients.push({ id, session: 0, seq: 0, valueSeq: 0, pending: undefined, seen: new Map(), writes: 0 });
  }

  start(): void {
    for (const c of this.clients) this.host.schedule(this.host.now + this.rng.below(20), { t: 'next', client: c.id });
  }

  // ---- applications ----

  /**
   * A node (re)started its application from instance `from` (0: from scratch). A replica or
   * learner restarts from its checkpoint, which the simulator keeps as the furthest instance any
   * incarnation delivered: the state of the incarnation that got there (a learner started from
   * scratch may have crashed before it caught up with an earlier one).
   */
  started(node: number, from: number): void {
    const app = this.apps.get(node);
    const saved = this.checkpoints.get(node);
    if (from === 0) {
      if (app !== undefined && !app.broken && app.appliedThrough > (saved?.appliedThrough ?? 0)) this.checkpoints.set(node, app);
      this.apps.set(node, new KvApp(0));
      return;
    }
    if (app !== undefined && app.appliedThrough === from) return;
    if (saved !== undefined && !saved.broken && saved.appliedThrough === from) {
      this.apps.set(node, saved);
      return;
    }
    this.apps.set(node, new KvApp(from));
  }

  /** A node stepped: apply what its learner decided, in order. */
  decided(node: number, decisions: readonly Decision[]): void {
    const app = this.apps.get(node);
    if (app === undefined) return;
    for (const d of decisions) {
      if (d.iid <= app.appliedThrough) continue;
      if (d.iid !== app.appliedThrough + 1) app.broken = true;
      app.appliedThrough = d.iid;
      const elements = deliverableElements(d.value, this.host.batched);
      for (const { index, value } of elements) this.apply(node, app, d.iid, index, value);
    }
  }

  private apply(node: number, app: KvApp, iid: number, index: number, element: Uint8Array): void {
    const id = valueId(element);
    if (id === undefined) return;
    let req: KvRequest;
    try {
      req = decodeRequest(element.subarray(6));
    } catch (e) {
      if (e instanceof KvCodecError) return;
      throw e;
    }
    const wasCas = req.command.op === 'cas';
    req = this.mutate(req);
    let result = app.machine.applyRequest(iid, index, req);
    // memcached answers a cas on a missing item NOT_FOUND, where replace says NOT_STORED.
    if (wasCas && result.status === 'not_stored') result = { status: 'not_found' };
    const a = this.attempts.get(id);
    // An application that missed instances has the wrong state: it answers nobody.
    if (a === undefined || app.broken || a.answerer !== node || this.host.incarnation(node) !== a.incarnation) return;
    this.reply(a.client, a.op, result);
  }

  /** The KV mutants break the state machine's application of requests. */
  private mutate(req: KvRequest): KvRequest {
    if (this.mutant === 'kv-retry-applied-twice' && req.session !== undefined) {
      // The deduplication table ignored: every copy of a request is executed.
      return { now: req.now, command: req.command };
    }
    if (this.mutant === 'kv-cas-skips-version' && req.command.op === 'cas') {
      // cas stores over whatever version is there (replace: only if the item exists).
      const c = req.command;
      return { ...req, command: { op: 'replace', key: c.key, flags: c.flags, exptime: c.exptime, value: c.value } };
    }
    return req;
  }

  // ---- clients ----

  handle(ev: KvEvent): void {
    const c = this.clients[ev.client] as Client;
    switch (ev.t) {
      case 'next':
        this.next(c);
        return;
      case 'timeout': {
        const op = c.pending;
        if (op === undefined || op.latest !== ev.attempt) return;
        if (op.index !== REGISTER && op.attempts >= 3 && !this.host.healed && this.rng.chance(1, 4)) {
          // The client gives up: the request may have taken effect or may yet (an attempt still
          // in flight), or never will (the next request's ack makes the session refuse it).
          this.abandoned++;
          c.pending = undefined;
          this.host.schedule(this.host.now, { t: 'next', client: c.id });
          return;
        }
        this.retries++;
        this.send(c, op);
        return;
      }
      case 'reply':
        this.answered(c, ev.op, ev.result);
        return;
    }
  }

  private next(c: Client): void {
    if (c.pending !== undefined) return;
    if (c.session === 0) {
      // Registration is not part of the checked history: it only opens the session.
      const op: PendingOp = { index: REGISTER, command: { op: 'register', nonce: c.id * 1_000_000 + c.valueSeq }, seq: 0, attempts: 0, latest: 0 };
      c.pending = op;
      this.send(c, op);
      return;
    }
    if (this.issued >= this.maxOps || this.host.now >= Math.floor(this.host.faultMs * 0.9)) return;
    this.issued++;
    const command = this.drawCommand(c);
    const input = modelInput(command);
    if (input === null) throw new Error(`the KV workload drew a command the model does not cover: ${command.op}`);
    const index = this.history.length;
    this.history.push({ client: c.id, input, call: this.host.now, output: UNKNOWN, return: Infinity });
    c.seq++;
    const op: PendingOp = { index, command, seq: c.seq, attempts: 0, latest: 0 };
    c.pending = op;
    this.send(c, op);
  }

  /** One attempt of the pending operation: at the next gateway that is up, or later if none is. */
  private send(c: Client, op: PendingOp): void {
    const h = this.host;
    op.attempts++;
    const attempt = op.attempts;
    op.latest = attempt;
    const gateways = h.gateways;
    let gateway: number | undefined;
    for (let k = 0; k < gateways.length; k++) {
      const g = gateways[(c.id + attempt - 1 + k) % gateways.length] as number;
      if (h.isUp(g)) {
        gateway = g;
        break;
      }
    }
    if (gateway === undefined) {
      // Nobody to talk to: try again a little later (a retry, not a new operation).
      h.schedule(h.now + 50, { t: 'timeout', client: c.id, attempt });
      return;
    }
    if (op.command.op === 'get' && this.tryLocalRead(c, op, gateway, attempt)) return;
    c.valueSeq++;
    const request: KvRequest =
      op.index === REGISTER
        ? { now: h.now, command: op.command }
        : { now: h.now, session: { id: c.session, seq: op.seq, ack: op.seq - 1 }, command: op.command.op === 'get' ? { ...op.command, nonce: c.valueSeq } : op.command };
    const body = encodeRequest(request);
    const value = makeValue(c.id, c.valueSeq, body.length);
    value.set(body, 6);
    const id = valueId(value) as number;
    // Answered by the gateway in a replica cluster; in a split one by an application (learner)
    // the client is connected to for this attempt.
    const answerer = h.answerers.includes(gateway) ? gateway : (h.answerers[(c.id + attempt) % h.answerers.length] as number);
    this.attempts.set(id, { client: c.id, op, answerer, incarnation: h.incarnation(answerer) });
    h.propose(gateway, value);
    h.schedule(h.now + this.timeoutMs, { t: 'timeout', client: c.id, attempt });
  }

  /**
   * A get served from the gateway's applied state, without the log: only when it says such a read
   * is linearizable (the leader's lease, canReadLocally) and its application has applied all its
   * learner delivered. The stale-read mutant serves it from any node's state.
   */
  private tryLocalRead(c: Client, op: PendingOp, gateway: number, attempt: number): boolean {
    if (op.command.op !== 'get') return false;
    const app = this.apps.get(gateway);
    if (app === undefined || app.broken) return false;
    const stale = this.mutant === 'kv-stale-local-read';
    if (!this.host.leadership && !stale) return false;
    const lease = this.host.leaseRead(gateway);
    if (!stale && (lease === undefined || !lease.canRead || app.appliedThrough !== lease.nextIid - 1)) return false;
    this.localReads++;
    const hits: Hit[] = app.machine.store.read(op.command.keys, this.host.now);
    this.reply(c.id, op, { status: 'values', hits });
    this.host.schedule(this.host.now + this.timeoutMs, { t: 'timeout', client: c.id, attempt });
    return true;
  }

  /** A reply on its way to the client: lost now and then while the network is lossy. */
  private reply(client: number, op: PendingOp, result: KvResult): void {
    const h = this.host;
    if (h.lossy && this.rng.below(1000) < 20) return;
    h.schedule(h.now + h.delayMs + this.rng.below(h.jitterMs + 1), { t: 'reply', client, op: op.index, result });
  }

  private answered(c: Client, opId: number, result: KvResult): void {
    const op = c.pending;
    if (op === undefined) return;
    if (op.index !== opId) return;
    c.pending = undefined;
    const think = this.rng.below(this.thinkMs + 1);
    if (op.index === REGISTER) {
      if (result.status === 'session') {
        c.session = result.id;
        c.seq = 0;
      }
      this.host.schedule(this.host.now + think, { t: 'next', client: c.id });
      return;
    }
    const entry = this.history[op.index] as HistoryOp;
    const output = modelOutput(result, true);
    if (output === null) {
      // Not an answer (the session is gone or refused the request): an earlier attempt may still
      // have been applied, so the outcome stays unknown; open a new session.
      c.session = 0;
    } else {
      entry.output = output;
      entry.return = this.host.now;
      this.learnCas(c, op.command, result);
    }
    this.host.schedule(this.host.now + think, { t: 'next', client: c.id });
  }

  private learnCas(c: Client, cmd: KvCommand, r: KvResult): void {
    if (r.status === 'values') for (const hit of r.hits) c.seen.set(hit.key, hit.cas);
    else if ((r.status === 'stored' || r.status === 'number') && 'key' in cmd) c.seen.set(cmd.key, r.cas);
  }

  /** get/set/cas/delete/incr mostly, some add/append/replace/decr and multi-key gets; small key set. */
  private drawCommand(c: Client): KvCommand {
    const r = this.rng;
    const key = r.pick(KEYS);
    c.writes++;
    // Unique values, so a read says which write it saw; numbers now and then, for incr/decr.
    const value = (): Uint8Array => keyToBytes(r.chance(1, 3) ? String(r.below(100)) : `c${c.id}w${c.writes}`);
    const roll = r.below(100);
    if (roll < 30) return { op: 'get', keys: [key] };
    if (roll < 33) return { op: 'get', keys: [key, r.pick(KEYS)] };
    if (roll < 50) return { op: 'set', key, flags: 0, exptime: 0, value: value() };
    if (roll < 63) {
      // Mostly the unique this client last saw (it may be stale by now), sometimes a made-up one.
      const seen = c.seen.get(key);
      const cas = seen !== undefined && !r.chance(1, 5) ? seen : 1 + r.below(50);
      return { op: 'cas', key, flags: 0, exptime: 0, value: value(), cas: BigInt(cas) };
    }
    if (roll < 70) return { op: 'delete', key };
    if (roll < 82) return { op: 'incr', key, delta: BigInt(1 + r.below(5)) };
    if (roll < 85) return { op: 'decr', key, delta: BigInt(1 + r.below(3)) };
    if (roll < 90) return { op: 'add', key, flags: 0, exptime: 0, value: value() };
    if (roll < 95) return { op: 'append', key, flags: 0, exptime: 0, value: keyToBytes(String(r.below(10))) };
    return { op: 'replace', key, flags: 0, exptime: 0, value: value() };
  }

  // ---- the end ----

  /** After healing: why the workload is not finished (a client still waits), or undefined. */
  gap(): string | undefined {
    for (const c of this.clients) {
      if (c.pending !== undefined) return `KV client ${c.id} still waits for the reply to ${c.pending.index === REGISTER ? 'its registration' : `operation ${c.pending.index} (${c.pending.command.op})`}`;
    }
    return undefined;
  }

  /** Checks the history; returns the figures and, if it is not linearizable, why. */
  finish(): { figures: KvFigures; violation: string | undefined } {
    const history = this.history;
    const budget = { maxSteps: 20_000_000 };
    const r = checkOperations(memcachedModel, history, { budget });
    // The other search too: a checker bug shows up as the two disagreeing.
    const jit = checkOperations(memcachedModel, history, { budget, algorithm: 'jit' });
    const unknown = history.filter((op) => op.output === UNKNOWN).length;
    const figures: KvFigures = { operations: history.length, unknown, abandoned: this.abandoned, localReads: this.localReads, retries: this.retries, verdict: r.result, checkSteps: r.steps + jit.steps };
    if (r.result !== 'unknown' && jit.result !== 'unknown' && r.result !== jit.result) {
      return { figures, violation: `linearizability checker: Wing & Gong's search says ${r.result}, just-in-time linearization says ${jit.result}` };
    }
    const violation = r.result === 'illegal' ? `linearizability: the KV history is not linearizable.\n    ${r.counterexample.explanation.split('\n').join('\n    ')}` : undefined;
    return { figures, violation };
  }
}

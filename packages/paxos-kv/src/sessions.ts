/**
 * Exactly-once client sessions (TigerBeetle's client table, adapted to pipelining clients): a
 * session is opened through the log, so every replica knows it; each request carries its session,
 * a sequence number and how far the client has received results. A retried request (the gateway
 * resends after a timeout or a leader change) is answered with the result of its first execution
 * instead of being applied again.
 *
 * Bounded three ways, all decided by the commands' own clock and order, so that every replica
 * drops the same sessions at the same point of the log: a session idle for `ttlMs` expires; at
 * `maxSessions` a new session evicts the least recently active one; a session holds at most
 * `maxPending` unacknowledged results. A request in an unknown session is refused, never applied,
 * so a session that expired cannot turn a retry into a second application.
 */
import type { KvResult } from './command.js';

export interface SessionLimits {
  readonly ttlMs: number;
  readonly maxSessions: number;
  readonly maxPending: number;
}

export interface Session {
  readonly id: number;
  /** Clock of the last command in this session. */
  lastActive: number;
  /** Every result up to this seq has reached the client and is forgotten. */
  acked: number;
  /** Results of applied requests above `acked`, by seq. */
  readonly results: Map<number, KvResult>;
}

/** What to do with a request in a session. */
export type SessionVerdict =
  | { readonly kind: 'apply'; readonly session: Session }
  | { readonly kind: 'answer'; readonly result: KvResult };

export class SessionTable {
  /** Least recently active first: a session moves to the end whenever it is used. */
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;

  constructor(readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  get nextSessionId(): number {
    return this.nextId;
  }

  /** Drops the sessions idle since `now - ttlMs` or longer. */
  expire(now: number): void {
    for (const s of this.sessions.values()) {
      if (s.lastActive + this.limits.ttlMs > now) break;
      this.sessions.delete(s.id);
    }
  }

  open(now: number): Session {
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    const s: Session = { id: this.nextId++, lastActive: now, acked: 0, results: new Map() };
    this.sessions.set(s.id, s);
    return s;
  }

  /** Decides a request: apply it, or answer it without applying (a retry, or a refusal). */
  check(id: number, seq: number, ack: number, now: number): SessionVerdict {
    const s = this.sessions.get(id);
    if (s === undefined) return { kind: 'answer', result: { status: 'session_unknown', id } };
    this.sessions.delete(id);
    this.sessions.set(id, s);
    s.lastActive = now;
    if (ack > s.acked) {
      for (const k of s.results.keys()) if (k <= ack) s.results.delete(k);
      s.acked = ack;
    }
    if (seq <= s.acked) return { kind: 'answer', result: { status: 'session_stale', id, seq } };
    const first = s.results.get(seq);
    if (first !== undefined) return { kind: 'answer', result: first };
    if (s.results.size >= this.limits.maxPending) return { kind: 'answer', result: { status: 'session_busy', id, seq } };
    return { kind: 'apply', session: s };
  }

  /** Every session, least recently active first (snapshot order). */
  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Rebuilds the table from a snapshot, in the order given. */
  load(nextId: number, sessions: readonly Session[]): void {
    this.sessions.clear();
    for (const s of sessions) this.sessions.set(s.id, s);
    this.nextId = nextId;
  }
}

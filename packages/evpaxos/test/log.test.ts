import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CoreEvent } from '@libpaxos/paxos-core';
import { RateLimitedLogger, createLogger, logEvent, type Logger } from '../src/index.js';

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { error: (t) => lines.push(`E ${t}`), info: (t) => lines.push(`I ${t}`), debug: (t) => lines.push(`D ${t}`) } };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('repeated log lines', () => {
  it('writes the first line of a kind, then one summary with a count per interval, and forgets a kind after a quiet interval', () => {
    const { log, lines } = capture();
    const limited = new RateLimitedLogger(log, 10_000);
    const note = (i: number) => limited.repeated('k', 'info', `line ${i}`, (n, s) => `${n} more in ${s} s`);
    for (let i = 0; i < 500; i++) note(i);
    expect(lines).toEqual(['I line 0']);
    vi.advanceTimersByTime(10_000);
    expect(lines).toEqual(['I line 0', 'I 499 more in 10 s']);
    note(500);
    note(501);
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual(['I 2 more in 10 s']);
    // A whole interval without one: the kind is forgotten, and its next line is written at once.
    vi.advanceTimersByTime(10_000);
    note(502);
    expect(lines.slice(3)).toEqual(['I line 502']);
    limited.close();
    expect(lines).toHaveLength(4);
  });

  it('end() writes the pending count at once and lets the next line through; other kinds are separate', () => {
    const { log, lines } = capture();
    const limited = new RateLimitedLogger(log, 10_000);
    limited.repeated('a', 'error', 'a first', (n) => `a +${n}`);
    limited.repeated('a', 'error', 'a again', (n) => `a +${n}`);
    limited.repeated('b', 'info', 'b first', (n) => `b +${n}`);
    limited.end('a');
    limited.repeated('a', 'error', 'a after end', (n) => `a +${n}`);
    limited.close();
    expect(lines).toEqual(['E a first', 'I b first', 'E a +1', 'E a after end']);
  });

  it("a flood of timeouts is one LibPaxos3 line and a count per interval, not a line per instance", () => {
    const { log, lines } = capture();
    const limited = new RateLimitedLogger(log, 10_000);
    for (let second = 0; second < 30; second++) {
      for (let iid = 1; iid <= 128; iid++) logEvent(limited, { kind: 'timeout', phase: 1, iid: second * 128 + iid, ballot: 11 });
      vi.advanceTimersByTime(1000);
    }
    limited.close();
    expect(lines[0]).toBe('I Instance 1 timed out in phase 1.');
    expect(lines.slice(1)).toEqual(['I 1279 more instances timed out in phase 1 in the last 10 s', 'I 1280 more instances timed out in phase 1 in the last 10 s', 'I 1280 more instances timed out in phase 1 in the last 10 s']);
  });

  it('a snapshot transfer says why it started: the log it needs is gone, or it lags far behind', () => {
    const { log, lines } = capture();
    const limited = new RateLimitedLogger(log, 10_000);
    const started = { kind: 'snapshot', step: 'started', iid: 400, bytes: 0, peer: 1, size: 1048576 } as const;
    logEvent(limited, started, () => 'replica-1');
    logEvent(limited, { ...started, lagging: true }, () => 'replica-1');
    limited.close();
    expect(lines).toEqual([
      "I Behind the acceptors' trim point: fetching the checkpoint of instance 400 (1.0 MiB) from replica-1",
      'I Far behind the other replicas: fetching the checkpoint of instance 400 (1.0 MiB) from replica-1',
    ]);
  });

  it('refused client values are counted, not logged one by one', () => {
    const { log, lines } = capture();
    const limited = new RateLimitedLogger(log, 10_000);
    const e: CoreEvent = { kind: 'value-lost', reason: 'queue-full', iid: 0, value: new Uint8Array(8) };
    for (let i = 0; i < 1000; i++) logEvent(limited, e);
    vi.advanceTimersByTime(10_000);
    limited.close();
    expect(lines).toEqual(['E Dropped a client value (8 bytes): the proposer queue is full', 'E Dropped 999 more client values (or batches) in the last 10 s: the proposer queue is full']);
  });
});

describe('log formats', () => {
  it("text is LibPaxos3's line; json is one object a line with time, level, role, id, message and fields", () => {
    const out: string[] = [];
    const text = createLogger('info', (l) => out.push(l));
    text.info('Acceptor 0 listening', { address: '127.0.0.1:8800' });
    expect(out[0]).toMatch(/^\d\d [A-Z][a-z]{2} \d\d:\d\d:\d\d\. Acceptor 0 listening\n$/);
    const json = createLogger('info', (l) => out.push(l), { format: 'json', role: 'replica', id: 2 });
    json.info('Replica 2 listening', { address: '127.0.0.1:8802', tls: false, skipped: undefined });
    json.error('a "quoted"\nline');
    json.debug('not at info');
    const anon = createLogger('error', (l) => out.push(l), { format: 'json', role: 'learner' });
    anon.error('learner line');
    const lines = out.slice(1);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toEqual([
      { time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), level: 'info', role: 'replica', id: 2, message: 'Replica 2 listening', fields: { address: '127.0.0.1:8802', tls: false } },
      { time: expect.any(String), level: 'error', role: 'replica', id: 2, message: 'a "quoted"\nline', fields: {} },
      { time: expect.any(String), level: 'error', role: 'learner', id: null, message: 'learner line', fields: {} },
    ]);
  });

  it('every line is limited: the same line again within the interval is counted, and summaries carry the count as fields', () => {
    const out: string[] = [];
    const limited = new RateLimitedLogger(createLogger('info', (l) => out.push(l), { format: 'json', role: 'proposer', id: 0 }), 10_000);
    for (let i = 0; i < 50; i++) limited.info('Connection to acceptor 1 (127.0.0.1:8801) lost (closed by the peer); reconnecting', { peer: 'acceptor-1' });
    limited.info('another line');
    vi.advanceTimersByTime(10_000);
    limited.close();
    const objs = out.map((l) => JSON.parse(l) as { message: string; fields: Record<string, unknown> });
    expect(objs.map((o) => o.message)).toEqual([
      'Connection to acceptor 1 (127.0.0.1:8801) lost (closed by the peer); reconnecting',
      'another line',
      'Repeated 49 more times in the last 10 s: Connection to acceptor 1 (127.0.0.1:8801) lost (closed by the peer); reconnecting',
    ]);
    expect(objs[2]?.fields).toEqual({ peer: 'acceptor-1', repeats: 49, seconds: 10 });
  });

  it('lines below the verbosity take no room among the kinds', () => {
    const out: string[] = [];
    const limited = new RateLimitedLogger(createLogger('error', (l) => out.push(l)), 10_000, 'error');
    for (let i = 0; i < 5000; i++) limited.info(`distinct ${i}`);
    limited.error('still written');
    expect(out).toHaveLength(1);
    limited.close();
  });
});
